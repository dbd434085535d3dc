"""The agent workspace in a real headless Chromium: log in, the pop, the note, a recording that seeks.

Chromium is driven over the DevTools protocol (tests/web/chromium.py, the ``browser`` fixture); calls come
through the FakePbx into the app's real bus, registry, screen-pop hub and CRM writer. The recording is
a real WAV made by ffmpeg and ingested (converted to MP3) by the recordings store.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select, update

from config.settings import AmiSettings, PbxMode, PbxSettings, RecordingSettings
from crm_core.models import (
    Activity,
    AuditEntry,
    CallActivity,
    Contact,
    Department,
    DepartmentMember,
    Lead,
    Recording,
)
from cti.errors import PbxUnavailable
from cti.events import CallTransferred
from cti.model import CallId, TransferKind
from pbx_adapters.asterisk.trace import read_trace
from pbx_adapters.asterisk.trace_server import AmiTraceServer
from recordings import RecordingStore
from web import keys
from web.app import create_app

from .chromium import DevTools
from .conftest import KNOWN_CALLER, PASSWORD, UNKNOWN_CALLER, fake_pbx_factory
from .fakes import answered, ended, inbound, now, ringing
from .test_crm_wiring import written

STARTED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(name="settings")
def _settings(settings, tmp_path):
    """The web suite's settings with the recordings directory in the test's temp dir."""
    return settings.model_copy(update={"recordings": RecordingSettings(directory=tmp_path / "recordings")})


@pytest.fixture(name="served")
async def _served(aiohttp_server, settings):
    """The real app on a real port; every response's path, status and the Range asked for."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    responses: list[tuple[str, int, str | None]] = []

    async def note(request: web.Request, response: web.StreamResponse) -> None:
        responses.append((request.path, response.status, request.headers.get("Range")))

    app.on_response_prepare.append(note)
    server = await aiohttp_server(app)
    return app, f"http://127.0.0.1:{server.port}", responses


@pytest.fixture(name="org")
async def _org(served, template):
    """Sales (ivanov) and Support (petrov); Anna's card is ivanov's."""
    app, _base, _responses = served
    users = template.users
    async with app[keys.DB]() as session:
        sales, support = Department(name="Sales"), Department(name="Support")
        session.add_all([sales, support])
        await session.flush()
        session.add_all(
            [
                DepartmentMember(user_id=users["ivanov"], department_id=sales.id),
                DepartmentMember(user_id=users["petrov"], department_id=support.id),
            ]
        )
        await session.execute(
            update(Contact).where(Contact.id == template.contact_id).values(responsible_id=users["ivanov"])
        )
        await session.commit()
    return users


@pytest.fixture(name="recording_id")
async def _recording_id(served, org, settings, template, tmp_path) -> int:
    """Ivanov's earlier call with Anna, with a 4-second recording made by ffmpeg and ingested."""
    app, _base, _responses = served
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None, "ffmpeg is needed to make the recording"
    wav = tmp_path / "spool" / "old.wav"
    wav.parent.mkdir()
    process = await asyncio.create_subprocess_exec(
        ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
        "-ar", "8000", "-ac", "1", str(wav),
    )  # fmt: skip
    assert 0 == await process.wait()
    stored = await RecordingStore(settings.recordings.directory).ingest(
        wav, call_id="old", started_at=STARTED
    )
    async with app[keys.DB]() as session:
        call = CallActivity(
            pbx_id="main",
            call_id="old",
            direction="inbound",
            external_number=KNOWN_CALLER,
            answered_by="101",
            disposition="answered",
            started_at=STARTED,
            talk_seconds=4,
            contact_id=template.contact_id,
            responsible_id=org["ivanov"],
            crm_entity="contact",
            crm_entity_id=template.contact_id,
        )
        row = Recording(
            call=call,
            pbx_id="main",
            call_id="old",
            path=str(wav),
            status="converted",
            storage_key=stored.key,
            peaks_key=stored.peaks_key,
            sha256=stored.sha256,
            format="mp3",
        )
        session.add_all([call, row])
        await session.commit()
        return row.id


async def log_in(page: DevTools, base: str, login: str) -> None:
    """Log in through the login form, as a person would, and wait for the agent page to connect."""
    await page.send("Page.navigate", url=f"{base}/login?next=/agent")
    await page.until("document.readyState === 'complete' && !!document.querySelector('input[name=login]')")
    await page.js(
        f"""document.querySelector('input[name=login]').value = {json.dumps(login)};
        document.querySelector('input[name=password]').value = {json.dumps(PASSWORD)};
        document.querySelector('form[action="/login"]').submit();"""
    )
    await page.until(
        "location.pathname === '/agent' && document.readyState === 'complete'"
        " && document.getElementById('link-state')?.dataset.state === 'connected'"
    )


def in_call(call_id: str, selector: str) -> str:
    """JS for the element *selector* inside the popped call *call_id*."""
    return f"document.querySelector('li.call[data-call-id=\"{call_id}\"] {selector}')"


async def press(page: DevTools, call_id: str, button: str) -> None:
    """Click a call's control button and wait for the page to report the PBX took the request."""
    message = in_call(call_id, ".call-message")
    await page.js(f"{message}.dataset.kind = ''; {in_call(call_id, button)}.click()")
    await page.until(f"{message}.dataset.kind === 'ok'")


class TestAgentInChromium:
    async def test_the_ring_pops_the_card_and_the_after_call_note_is_saved(
        self, served, org, recording_id, browser, template
    ):
        """
        Anna calls 101: ivanov's page pops her card with the last call and its player (which
        fetches nothing until played: no audio request, no listen on the audit trail); after the
        call the note typed into the page is stored as a note activity on her card and the call.
        """
        app, base, responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]

        pbx.publish(inbound("b1", KNOWN_CALLER, name="ANNA"))
        pbx.publish(ringing("b1", "101"))
        title = await browser.until(f"{in_call('b1', '.card-title')}?.textContent")
        players = await browser.until("[...document.querySelectorAll('li.call .call-history audio')].length")
        pbx.publish(answered("b1", "101"))
        pbx.publish(ended("b1"))
        await written(app, 1)
        await browser.until(f"{in_call('b1', '.note-form')}?.hidden === false")
        await browser.js(
            f"""{in_call("b1", ".note-form textarea")}.value = 'Wants 40 boxes by Friday';
            {in_call("b1", ".note-form")}.requestSubmit();"""
        )
        saved = await browser.until(f"{in_call('b1', '.call-message')}?.dataset.kind")

        assert ("Anna Smirnova", 1, "ok") == (title, players, saved)
        assert "none" == await browser.js(f"{in_call('b1', 'audio.recording')}.preload")
        assert [] == [path for path, _status, _range in responses if path.startswith("/recordings/")]
        async with app[keys.DB]() as session:
            call_pk = await session.scalar(select(CallActivity.id).where(CallActivity.call_id == "b1"))
            [note] = await session.scalars(select(Activity).where(Activity.kind == "note"))
            listens = await session.scalars(select(AuditEntry).where(AuditEntry.action == "recording.listen"))
            assert [] == list(listens)
        assert ("Wants 40 boxes by Friday", call_pk, org["ivanov"]) == (
            note.description,
            note.call_pk,
            note.responsible_id,
        )
        assert ("contact", template.contact_id) in {(b.owner_type, b.owner_id) for b in note.bindings}

    async def test_the_recording_plays_and_seeks(self, served, org, recording_id, browser):
        """
        The card's player plays the recording and seeks into it; the server answered with a 206.
        """
        app, base, responses = served
        await log_in(browser, base, "ivanov")
        app[keys.PBX].publish(inbound("b2", KNOWN_CALLER))
        app[keys.PBX].publish(ringing("b2", "101"))
        await browser.until(f"!!{in_call('b2', 'audio.recording')}")

        player = in_call("b2", "audio.recording")
        result = await browser.send(
            "Runtime.evaluate",
            expression=f"{player}.play().then(() => 'playing', e => String(e))",
            awaitPromise=True,
            userGesture=True,
            returnByValue=True,
        )
        await browser.js(f"{player}.currentTime = 2.5")
        position = await browser.until(
            f"(a => !a.seeking && a.currentTime >= 2.5 && a.readyState >= 2 ? a.currentTime : 0)({player})"
        )
        duration = await browser.js(f"{player}.duration")

        assert "playing" == result["result"]["value"]
        assert 2.5 <= position <= duration
        assert 3.5 < duration < 4.5
        audio_path = f"/recordings/{recording_id}"
        assert 206 in {status for path, status, _range in responses if path == audio_path}
        assert all(r is not None for path, status, r in responses if path == audio_path and status == 206)

    async def test_an_agent_cannot_open_another_departments_recording(
        self, served, org, recording_id, browser
    ):
        """
        Petrov (Support), logged in, asks for ivanov's (Sales) recording: 403.
        """
        _app, base, responses = served
        await log_in(browser, base, "petrov")

        status = await browser.js(f"fetch('/recordings/{recording_id}').then(r => r.status)")

        assert 403 == status
        assert (f"/recordings/{recording_id}", 403, None) in responses

    async def test_a_call_transferred_to_me_brings_the_card_and_the_controls_work(self, served, org, browser):
        """
        Anna's call, answered at 102, is transferred to 101: ivanov's page pops her card saying who
        transferred it; the page's transfer (with announcement), recording and hang-up buttons
        reach the PBX for that call.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("t1", KNOWN_CALLER))
        pbx.publish(ringing("t1", "102"))
        pbx.publish(answered("t1", "102"))
        pbx.publish(
            CallTransferred(call_id=CallId("t1"), at=now(), kind=TransferKind.BLIND, by="102", to="101")
        )

        title = await browser.until(f"{in_call('t1', '.card-title')}?.textContent")
        status = await browser.until(f"{in_call('t1', '.call-status')}?.textContent")
        pbx.publish(answered("t1", "101"))
        await browser.until(f"{in_call('t1', '')}.dataset.state === 'mine'")
        await browser.js(f"{in_call('t1', '.call-transfer-to')}.value = '103'")
        for button in (".call-transfer-announced", ".call-record-start", ".call-hangup"):
            await press(browser, "t1", button)

        assert ("Anna Smirnova", "Transferred to you by 102") == (title, status)
        assert [("attended_transfer", "t1", "103", "101"), ("start_recording", "t1")] == pbx.commands
        assert ["t1"] == pbx.hung_up

    async def test_an_unknown_caller_gets_the_quick_form_that_fills_the_lead(self, served, org, browser):
        """
        A new number pops the quick form; what ivanov types there becomes the call's lead.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        app[keys.PBX].publish(inbound("q1", UNKNOWN_CALLER))
        app[keys.PBX].publish(ringing("q1", "101"))
        app[keys.PBX].publish(answered("q1", "101"))

        await browser.until(f"{in_call('q1', '.caller-form')}?.hidden === false")
        await browser.js(
            f"""const form = {in_call("q1", ".caller-form")};
            form.elements.name.value = 'Oleg Orlov';
            form.elements.company.value = 'Vektor';
            form.elements.comment.value = 'Wants a quote';
            form.requestSubmit();"""
        )
        shown = await browser.until(
            f"(a => a && a.getAttribute('href').startsWith('/crm/lead/') ? a.textContent : '')"
            f"({in_call('q1', '.card-title')})"
        )

        assert f"Incoming call {UNKNOWN_CALLER}" == shown
        async with app[keys.DB]() as session:
            [lead] = await session.scalars(select(Lead))
        assert ("Oleg Orlov", "Vektor", "Wants a quote", org["ivanov"]) == (
            lead.name,
            lead.company_name,
            lead.comments,
            lead.responsible_id,
        )

    async def test_a_pbx_refusal_is_shown_plainly(self, served, org, browser):
        """
        Click-to-call while the PBX is down: the page shows the server's message, not a code.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        app[keys.PBX].fail_with = PbxUnavailable("AMI connection lost")
        await browser.js(
            """document.getElementById('dial-number').value = '+79161234567';
            document.getElementById('dial-form').requestSubmit();"""
        )
        shown = await browser.until(
            "(e => e.hidden ? '' : e.textContent)(document.getElementById('action-error'))"
        )

        assert shown.startswith("Could not call +79161234567: ")
        assert len(shown) > len("Could not call +79161234567: ")


@pytest.fixture(name="asterisk")
async def _asterisk(aiohttp_server, settings, traces):
    """The app on the real Asterisk adapter, logged in to a trace server holding trace 02 paused."""
    server = AmiTraceServer(read_trace(traces / "02_inbound_answered.jsonl"), pause_after=0)
    port = await server.start()
    ami = AmiSettings(port=port, username="cti", secret=SecretStr("cti_secret"))
    app = create_app(settings.model_copy(update={"pbx": PbxSettings(mode=PbxMode.ASTERISK), "ami": ami}))
    try:
        http = await aiohttp_server(app)
        await server.wait_paused()
        yield app, f"http://127.0.0.1:{http.port}", server
    finally:
        await server.stop()


class TestAsteriskTraceInChromium:
    async def test_a_recorded_inbound_call_pops_annas_card_and_takes_a_note(
        self, asterisk, browser, template
    ):
        """
        Trace 02 (Anna's mobile calls the DID, 101 answers) through socket, panoramisk and the
        tracker: ivanov's page (Anna is his client) pops her card, follows the call to its end and
        saves the note.
        """
        app, base, server = asterisk
        async with app[keys.DB]() as session:
            await session.execute(
                update(Contact)
                .where(Contact.id == template.contact_id)
                .values(responsible_id=template.users["ivanov"])
            )
            await session.commit()
        await log_in(browser, base, "ivanov")

        server.resume()
        title = await browser.until("document.querySelector('li.call .card-title')?.textContent")
        await browser.until("document.querySelector('li.call')?.dataset.state === 'ended'")
        call_id = await browser.js("document.querySelector('li.call').dataset.callId")
        await written(app, 1)
        await browser.js(
            f"""{in_call(call_id, ".note-form textarea")}.value = 'Asked for the price list';
            {in_call(call_id, ".note-form")}.requestSubmit();"""
        )
        saved = await browser.until(f"{in_call(call_id, '.call-message')}?.dataset.kind")

        assert ("Anna Smirnova", "ok") == (title, saved)
        async with app[keys.DB]() as session:
            call = await session.scalar(select(CallActivity).where(CallActivity.call_id == call_id))
            [note] = await session.scalars(select(Activity).where(Activity.kind == "note"))
        assert ("101", "contact", template.contact_id) == (
            call.answered_by,
            call.crm_entity,
            call.crm_entity_id,
        )
        assert ("Asked for the price list", call.id) == (note.description, note.call_pk)
