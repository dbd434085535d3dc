"""A contact card in a real headless Chromium: the timeline, the recording's player served with HTTP
Range (206), the waveform drawn from the peaks, click-to-call through /calls/dial with the CSRF header.

The recording is a real 3-second WAV converted to MP3 by ffmpeg (RecordingStore.ingest), as the
pipeline stores it; the server side is the real app on a real socket.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.settings import RecordingSettings
from crm_core.models import CallActivity, Recording
from recordings import RecordingStore
from tests.recordings.conftest import write_sine
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import KNOWN_CALLER, fake_pbx_factory

STARTED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture(name="served")
async def _served(aiohttp_server, settings, template, tmp_path):
    """The app on a socket, Petrov's call with Anna recorded (MP3 + peaks), every response's status noted."""
    settings = settings.model_copy(
        update={"recordings": RecordingSettings(directory=tmp_path / "recordings")}
    )
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    seen: list[tuple[str, int, str]] = []

    async def note(request, response) -> None:
        seen.append((request.path, response.status, request.headers.get("Range", "")))

    app.on_response_prepare.append(note)
    server = await aiohttp_server(app)
    store = RecordingStore(settings.recordings.directory)
    spool = tmp_path / "spool"
    spool.mkdir()
    stored = await store.ingest(write_sine(spool / "c1.wav", 3), call_id="c1", started_at=STARTED)
    async with app[keys.DB]() as session:
        call = CallActivity(
            pbx_id="main",
            call_id="c1",
            direction="inbound",
            external_number=KNOWN_CALLER,
            disposition="answered",
            talk_seconds=3,
            started_at=STARTED,
            contact_id=template.contact_id,
            responsible_id=template.users["petrov"],
        )
        recording = Recording(
            call=call,
            pbx_id="main",
            call_id="c1",
            path=str(spool / "c1.wav"),
            status="converted",
            storage_key=stored.key,
            peaks_key=stored.peaks_key,
            sha256=stored.sha256,
            format="mp3",
        )
        session.add_all([call, recording])
        await session.commit()
    return app, f"http://127.0.0.1:{server.port}", recording.id, seen


@pytest.fixture(name="card")
async def _card(served, template, browser: DevTools):
    """Anna's card open in Chromium, logged in as Petrov (extension 102), who owns her and the call."""
    app, base, recording_id, seen = served
    cookie, _data = app[keys.SESSIONS].issue(template.users["petrov"], hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/crm/contact/{template.contact_id}")
    await browser.until("document.readyState === 'complete' && !!document.querySelector('.timeline')")
    return app, browser, recording_id, seen


class TestContactCardInChromium:
    async def test_timeline_player_plays_with_range_and_waveform(self, card):
        """
        The timeline shows the call; its <audio> fetches nothing until Play, then loads the MP3 with a
        Range request answered 206 and knows its 3 seconds; the canvas is drawn from the peaks, and a
        click in its middle seeks there.
        """
        _app, browser, recording_id, seen = card
        path = f"/recordings/{recording_id}"

        heading = await browser.js(
            "document.querySelector('.timeline-item[data-source=call] strong').textContent"
        )
        drawn = await browser.until("Number(document.querySelector('canvas.waveform').dataset.drawn || 0)")
        fetched_before_play = [status for p, status, _r in seen if p == path]
        await browser.send(  # the user presses Play (a gesture: autoplay rules allow it), then Pause
            "Runtime.evaluate",
            expression="(a => a.play().then(() => a.pause()))(document.querySelector('.recording audio'))",
            awaitPromise=True,
            userGesture=True,
        )
        duration = await browser.until(
            "(a => a.readyState >= 1 && a.duration)(document.querySelector('.recording audio'))"
        )
        position = await browser.js(
            """(() => {
              const canvas = document.querySelector('canvas.waveform');
              const box = canvas.getBoundingClientRect();
              const middle = box.left + box.width / 2;
              canvas.dispatchEvent(new MouseEvent('click', {clientX: middle, bubbles: true}));
              return document.querySelector('.recording audio').currentTime;
            })()"""
        )
        partial = [(status, bytes_) for p, status, bytes_ in seen if p == path and status == 206]

        assert [] == fetched_before_play  # preload="none": opening the card is not a listen
        assert "Incoming call" == heading
        assert drawn > 100
        assert 2.9 < duration < 3.2
        assert abs(duration / 2 - position) < 0.1
        assert partial, f"no 206 among {seen}"
        assert all(bytes_.startswith("bytes=") for _status, bytes_ in partial)
        assert (f"{path}/peaks", 200) in [(p, s) for p, s, _r in seen]

    async def test_clicking_a_number_dials_it_from_the_agents_phone(self, card):
        """
        The number's link posts to /calls/dial with the CSRF header: the PBX rings 102, then Anna.
        """
        app, browser, _recording_id, _seen = card

        await browser.js("document.querySelector('.crm-facts a.dial').click()")
        state = await browser.until("document.querySelector('.dial-status').dataset.state === 'ok'")

        assert state is True
        assert [("102", KNOWN_CALLER)] == app[keys.PBX].originated
