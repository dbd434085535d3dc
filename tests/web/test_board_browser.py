"""The supervisor's live board in a real headless Chromium: calls appear, numbers dial, listen-in works.

Chromium is driven over the DevTools protocol (tests/web/chromium.py, the ``browser`` fixture); calls come
through the FakePbx into the app's real bus, registry and board, and the page's clicks reach the
FakePbx through the real ``/calls`` endpoints.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from crm_core.models import User
from cti.events import DeviceRegistered
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import fake_pbx_factory
from .fakes import answered, inbound, now, ringing
from .test_call_control import CALLER, organise

ROW = "document.querySelector('tr.board-call[data-call-id=\"c1\"]')"


@pytest.fixture(name="served")
async def _served(aiohttp_server, settings, template):
    """The real app on a real port, Sales and Support organised (boss: supervisor at 104)."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    server = await aiohttp_server(app)
    users = await organise(app, template)
    return app, f"http://127.0.0.1:{server.port}", users


async def open_board(page: DevTools, app, base: str, user_id: int) -> None:
    """Open /supervisor logged in as *user_id* and wait for its WebSocket to be live."""
    cookie, _data = app[keys.SESSIONS].issue(user_id, hours=1)
    await page.send("Network.enable")
    await page.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await page.send("Page.navigate", url=f"{base}/supervisor")
    await page.until(
        "location.pathname === '/supervisor' && document.readyState === 'complete'"
        " && document.getElementById('link-state')?.dataset.state === 'live'"
    )


def talking_at_101(pbx) -> None:
    """Anna's call, answered at ivanov's 101; 101 and 102 registered."""
    for extension in ("101", "102"):
        pbx.publish(DeviceRegistered(extension=extension, at=now(), contact=f"sip:{extension}@127.0.0.1"))
    pbx.publish(inbound("c1", CALLER, name="ANNA"))
    pbx.publish(ringing("c1", "101"))
    pbx.publish(answered("c1", "101"))


class TestLiveBoardInChromium:
    async def test_a_call_shows_with_its_state_a_ticking_duration_and_the_phones(self, served, browser):
        """
        A call published on the bus appears as a row: the caller (number and name), with whom,
        the state, and a duration that ticks; 101 shows as talking, 102 as idle.
        """
        app, base, users = served
        await open_board(browser, app, base, users["boss"])

        talking_at_101(app[keys.PBX])
        await browser.until(f"{ROW}?.dataset.state === 'talking'")
        cells = await browser.js(
            f"[...{ROW}.querySelectorAll('td:not(.c-actions)')].map(td => td.textContent.trim())"
        )
        first = cells[3]
        later = await browser.until(
            f"(d => d !== {first!r} && d)({ROW}.querySelector('.c-duration').textContent)"
        )
        phones = await browser.until(
            "(p => p['101']?.[1] === 'talking' && p)(Object.fromEntries("
            "[...document.querySelectorAll('#extensions .extension')]"
            ".map(li => [li.textContent.split(/[ :]/)[0], [li.textContent, li.dataset.state]])))"
        )

        assert [f"{CALLER} ANNA", "101", "talking"] == cells[:3]
        assert [first, later] == [d for d in (first, later) if re.fullmatch(r"\d+:\d\d", d)]
        assert phones["101"][0].endswith(": talking")
        assert [True, "idle"] == [phones["102"][0].endswith(": idle"), phones["102"][1]]

    async def test_the_caller_s_number_dials_from_the_supervisor_s_phone(self, served, browser):
        """
        The caller's number and the extension on the call are dial links; clicking the number
        POSTs /calls/dial (with the CSRF header): the PBX rings boss's 104, then the caller.
        """
        app, base, users = served
        await open_board(browser, app, base, users["boss"])
        talking_at_101(app[keys.PBX])
        await browser.until(f"!!{ROW}?.querySelector('.c-caller a.dial')")

        numbers = await browser.js(
            f"[...{ROW}.querySelectorAll('a.dial')].map(a => [a.dataset.number, a.getAttribute('href')])"
        )
        await browser.js(f"{ROW}.querySelector('.c-caller a.dial').click()")
        state = await browser.until(
            "document.querySelector('.dial-status')?.dataset.state !== 'calling'"
            " && document.querySelector('.dial-status')?.dataset.state"
        )

        assert [[CALLER, f"tel:{CALLER}"], ["101", "tel:101"]] == numbers
        assert "ok" == state
        assert [("104", CALLER)] == app[keys.PBX].originated

    async def test_listen_sends_the_listen_command(self, served, browser):
        """Listen on the call: the PBX is asked to ring boss's 104 into it as a listener."""
        app, base, users = served
        await open_board(browser, app, base, users["boss"])
        talking_at_101(app[keys.PBX])
        await browser.until(f"!!{ROW}")

        await browser.js(f"{ROW}.querySelector('button[data-mode=listen]').click()")
        message = await browser.until(
            "document.querySelector('.dial-status')?.dataset.state === 'ok'"
            " && document.querySelector('.dial-status').textContent"
        )

        assert "Your phone is ringing: pick it up to listen in" == message
        assert [("spy", "c1", "104", "listen")] == app[keys.PBX].commands

    async def test_without_an_extension_the_reason_is_shown_not_a_silent_grey_button(self, served, browser):
        """
        boss without an extension: the listen buttons say why they cannot be used (tooltip, and
        a note on the page they point to); a click on a number gets the server's plain error.
        """
        app, base, users = served
        async with app[keys.DB]() as session:
            await session.execute(update(User).where(User.login == "boss").values(extension=None))
            await session.commit()
        await open_board(browser, app, base, users["boss"])
        talking_at_101(app[keys.PBX])
        await browser.until(f"!!{ROW}")

        button = await browser.js(
            f"(b => [b.disabled, b.title, b.getAttribute('aria-describedby')])"
            f"({ROW}.querySelector('button[data-mode=listen]'))"
        )
        note = await browser.js("document.getElementById('listen-note').textContent")
        await browser.js(f"{ROW}.querySelector('.c-caller a.dial').click()")
        error = await browser.until(
            "document.querySelector('.dial-status')?.dataset.state === 'error'"
            " && document.querySelector('.dial-status').textContent"
        )

        assert [True, "You need an extension to listen in", "listen-note"] == button
        assert "no extension is assigned to you" in note
        assert "No extension is assigned to you" == error
        assert [] == app[keys.PBX].originated
        assert [] == app[keys.PBX].commands
