"""The dialplan editor in a real headless Chromium: line numbers, marked errors, apply with CSRF.

Driven over the DevTools protocol (tests/web/chromium.py, the ``browser`` fixture). Skipped where no
Chromium is installed, except in CI.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import json

import pytest

from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .conftest import fake_pbx_factory
from .test_dialplan import INVALID, add_admin, plan, versions


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
