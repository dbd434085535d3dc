"""The dialplan editor in a real headless Chromium: line numbers, marked errors, apply with CSRF.

Driven over the DevTools protocol with aiohttp's WebSocket client (no extra dependency). Skipped
where no Chromium is installed.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .conftest import fake_pbx_factory
from .test_dialplan import INVALID, add_admin, plan, versions

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# `make test` installs Chromium as root on Debian; CI must run these, a developer without it may not.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Chromium (apt-get install chromium)"
)


class DevTools:
    """The few DevTools protocol calls the tests need, on one page."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        async for message in self.ws:
            data = json.loads(message.data)
            if data.get("id") == call_id:
                if "error" in data:
                    raise AssertionError(f"{method}: {data['error']}")
                return data["result"]
        raise AssertionError("DevTools closed the connection")

    async def js(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := await self.js(expression)):
                await asyncio.sleep(0.05)
        return value


@pytest.fixture(name="devtools_port")
def _devtools_port(tmp_path) -> Iterator[int]:
    """A headless Chromium for this test; its DevTools port."""
    profile = tmp_path / "chromium"
    with subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        try:
            announced = profile / "DevToolsActivePort"
            deadline = time.monotonic() + 20
            while not (announced.exists() and announced.read_text().strip()):
                assert time.monotonic() < deadline, "Chromium did not start"
                time.sleep(0.05)
            yield int(announced.read_text().splitlines()[0])
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(name="browser")
async def _browser(devtools_port):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as response:
            pages = [t for t in await response.json() if t["type"] == "page"]
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            yield DevTools(ws)


@pytest.fixture(name="editor")
async def _editor(aiohttp_server, settings, tmp_path, browser):
    """The editor page open in Chromium, logged in as an admin."""
    dialplan_path = tmp_path / "etc" / "dialplan.yaml"
    dialplan_path.parent.mkdir()
    dialplan_path.write_text(plan(), encoding="utf-8")
    app = create_app(settings.model_copy(update={"dialplan": dialplan_path}), pbx_factory=fake_pbx_factory)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    cookie, _data = app[keys.SESSIONS].issue(await add_admin(app), hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/admin/dialplan")
    await browser.until(
        "document.readyState === 'complete' && document.querySelectorAll('#gutter span').length > 0"
    )
    return app, browser


class TestEditorInChromium:
    async def test_the_running_text_and_its_line_numbers(self, editor):
        """
        The textarea holds the running text exactly; the gutter numbers every line.
        """
        _app, page = editor

        value = await page.js("document.getElementById('plan-text').value")
        numbers = await page.js("[...document.querySelectorAll('#gutter span')].map(s => s.textContent)")

        assert plan() == value
        assert [str(n) for n in range(1, len(plan().split("\n")) + 1)] == numbers

    async def test_validate_marks_the_error_lines(self, editor):
        """
        Validate: the line with the error is marked in the gutter and listed with its message.
        """
        _app, page = editor
        await page.js(
            f"""const t = document.getElementById('plan-text');
            t.value = {json.dumps(INVALID)}; t.dispatchEvent(new Event('input'));
            document.getElementById('validate').click();"""
        )

        await page.until("document.querySelectorAll('#issues li').length > 0")
        marked = await page.js("[...document.querySelectorAll('#gutter span.error')].map(s => s.textContent)")
        listed = await page.js("[...document.querySelectorAll('#issues li')].map(li => li.textContent)")
        status = await page.js("document.getElementById('status').textContent")

        assert ["3"] == marked
        assert all(item.startswith("line 3 ") and ":3:" in item for item in listed)
        assert status.startswith("Not valid")

    async def test_apply_from_the_page(self, editor):
        """
        Apply (confirmed): the page sends the CSRF token and the sha it started from; the plan runs.
        """
        app, page = editor
        await page.js(
            f"""window.confirm = () => true;
            document.getElementById('plan-text').value = {json.dumps(plan("From Chromium"))};
            document.getElementById('comment').value = 'typed in a browser';
            document.getElementById('apply').click();"""
        )

        status = await page.until(
            "(s => s.startsWith('applied') ? s : '')(document.getElementById('status').textContent)"
        )

        stored = await versions(app)
        assert f"applied version {stored[-1].id}" == status
        assert ("root", "typed in a browser") == (stored[-1].applied_by_name, stored[-1].comment)
        assert plan("From Chromium") == app[keys.PLAN].text
