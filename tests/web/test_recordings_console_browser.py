"""The recordings console in a real headless Chromium: the player plays, seeking is served by HTTP Range
(206), every request is audited; an agent opening another department's recording gets 403."""

from __future__ import annotations

import pytest
from aiohttp import web

from crm_core import audit
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import fake_pbx_factory
from .test_recordings_console import _settings, build_calls  # noqa: F401 (the recordings directory)

SECONDS = 20
"Long enough that a seek lands well inside the file."


@pytest.fixture(name="served")
async def _served(aiohttp_server, settings, tmp_path):
    """The real app with the calls of :func:`build_calls`; every /recordings response noted."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    responses: list[tuple[str, str | None, int]] = []

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        if request.path.startswith("/recordings/"):
            responses.append((request.path, request.headers.get("Range"), response.status))

    app.on_response_prepare.append(note)
    server = await aiohttp_server(app)
    spool = tmp_path / "spool"
    spool.mkdir()
    ids = await build_calls(app, settings, spool, seconds=SECONDS)
    return app, f"http://127.0.0.1:{server.port}", ids, responses


async def open_console(browser: DevTools, app, base: str, user_id: int) -> None:
    cookie, _data = app[keys.SESSIONS].issue(user_id, hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/supervisor/recordings")
    await browser.until(
        "document.readyState === 'complete' && !!document.getElementById('recordings-search')"
    )


async def gesture(browser: DevTools, expression: str) -> object:
    """Evaluate as if the user clicked (the autoplay policy lets a click start audio)."""
    result = await browser.send(
        "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True, userGesture=True
    )
    assert "exceptionDetails" not in result, result
    return result["result"].get("value")


class TestConsoleInChromium:
    async def test_the_player_plays_and_seeks_through_range_requests(self, served, browser):
        """Play, then seek to 12 s: it plays past the seek point (206s); the listening is audited once."""
        app, base, ids, responses = served
        await open_console(browser, app, base, ids["boss"])
        player = f"document.querySelector('tr[data-recording=\"{ids['rec_anna']}\"] audio')"

        await gesture(browser, f"{player}.play().then(() => true)")
        await browser.until(f"{player}.currentTime > 0.2")
        await gesture(
            browser,
            f"""new Promise(done => {{
                const audio = {player};
                audio.addEventListener('seeked', () => done(true), {{once: true}});
                audio.currentTime = 12;
            }})""",
        )
        await browser.until(f"{player}.currentTime > 12.1")

        mine = [(rng, status) for path, rng, status in responses if path == f"/recordings/{ids['rec_anna']}"]
        assert mine, "the player fetched nothing"
        assert {206} == {status for _rng, status in mine}
        assert all(rng and rng.startswith("bytes=") for rng, _status in mine)
        async with app[keys.DB]() as session:
            listens = [
                e
                for e in await audit.entries(session, action_prefix="recording.")
                if e.action == "recording.listen"
            ]
        assert [] == [r for r in responses if r[0] != f"/recordings/{ids['rec_anna']}"], "only on play"
        assert 1 == len(listens), "one listening is one audit entry, its seeks are not"
        assert {"boss"} == {e.actor for e in listens}

    async def test_an_agent_gets_403_for_another_departments_recording(self, served, browser):
        """Petrov (Support) does not see ivanov's (Sales) call, and opening its audio is refused."""
        app, base, ids, responses = served
        await open_console(browser, app, base, ids["petrov"])
        target = ids["rec_anna"]

        listed = await browser.js(f"!!document.querySelector('tr[data-recording=\"{target}\"]')")
        status = await browser.js(f"fetch('/recordings/{target}').then(r => r.status)")
        await browser.send("Page.navigate", url=f"{base}/recordings/{target}")
        await browser.until("document.readyState === 'complete' && document.body.innerText.length > 0")
        shown = await browser.js("document.body.innerText")

        assert (False, 403) == (listed, status)
        assert "You may not listen to this recording" in shown
        assert [403, 403] == [s for path, _rng, s in responses if path == f"/recordings/{target}"]
