"""A headless Chromium for the browser tests, driven over the DevTools protocol.

aiohttp's WebSocket client speaks the protocol (no extra dependency). One Chromium process serves a
whole test session (``launch``); each test gets a page of its own in a fresh browser context
(``isolated_page``), so cookies, storage and cache never pass from one test to the next. The
fixtures ``devtools_port`` and ``browser`` in ``tests/web/conftest.py`` wrap the two.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

__all__ = ["CHROMIUM", "DevTools", "isolated_page", "launch"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class DevTools:
    """The few DevTools protocol calls the tests need, on one page (or on the browser itself)."""

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


@contextmanager
def launch(profile: Path) -> Iterator[int]:
    """Run a headless Chromium with its profile in *profile*; its DevTools port. Ends it on exit."""
    # Never skipped: a browser test that does not run checks nothing. `make test` installs it as root.
    if CHROMIUM is None:
        pytest.fail("the browser tests need Chromium: apt-get install chromium (make test does, as root)")
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
                assert process.poll() is None, f"Chromium exited with {process.returncode}"
                time.sleep(0.05)
            yield int(announced.read_text().splitlines()[0])
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@asynccontextmanager
async def isolated_page(devtools_port: int) -> AsyncIterator[DevTools]:
    """A blank page in a new browser context of the Chromium at *devtools_port*; both closed on exit.

    The context is Chromium's incognito kind: its cookies (``Network.setCookie`` on the page lands
    there), storage and cache are its own and are dropped with it.
    """
    base = f"127.0.0.1:{devtools_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{base}/json/version") as response:
            browser_url = (await response.json())["webSocketDebuggerUrl"]
        async with http.ws_connect(browser_url, max_msg_size=0) as browser_ws:
            browser = DevTools(browser_ws)
            created = await browser.send("Target.createBrowserContext", disposeOnDetach=True)
            context = created["browserContextId"]
            try:
                blank = await browser.send("Target.createTarget", url="about:blank", browserContextId=context)
                page_url = f"ws://{base}/devtools/page/{blank['targetId']}"
                async with http.ws_connect(page_url, max_msg_size=0) as ws:
                    yield DevTools(ws)
            finally:
                # Closes the context's page too; its cookies, storage and cache go with it.
                await browser.send("Target.disposeBrowserContext", browserContextId=context)
