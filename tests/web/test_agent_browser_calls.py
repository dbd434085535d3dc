"""The agent workspace in Chromium through a call's states: what shows, what the buttons send.

The fixtures (the real app on a port, the FakePbx, the org) are those of ``test_agent_browser``, Chromium
is the ``browser`` fixture; the PBX's side of each call is published through the FakePbx.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from sqlalchemy import select

from crm_core.models import Activity, Task, User
from cti.errors import PbxUnavailable
from cti.events import CallTransferred, ConferenceJoined, RecordingStarted, RingingStopped
from cti.model import CallId, Disposition, Party, TransferKind
from web import keys

from .conftest import KNOWN_CALLER
from .fakes import answered, ended, inbound, internal, now, ringing
from .test_agent_browser import (  # noqa: F401 (pytest fixtures, used by name)
    _org,
    _served,
    _settings,
    in_call,
    log_in,
    press,
)
from .test_crm_wiring import written


def shown(call_id: str, selector: str) -> str:
    """JS: is *selector* in the call's item displayed (not hidden by itself or a parent)?"""
    return f"(e => !!e && e.getClientRects().length > 0)({in_call(call_id, selector)})"


async def visible(page, call_id: str, *selectors: str) -> dict[str, bool]:
    return {selector: await page.js(shown(call_id, selector)) for selector in selectors}


COUNT_DIALS = """(() => {
    window.dialAnswers = [];
    const original = window.fetch;
    window.fetch = (url, options) => original(url, options).then(response => {
        if (String(url) === '/calls/dial') window.dialAnswers.push(response.status);
        return response;
    });
})()"""
"JS: note the status of each click-to-call request the page makes from now on."

CONTROLS = (".call-hangup", ".call-transfer-blind", ".call-conference-add", ".call-record-start")


class TestControlsFollowTheCallsState:
    async def test_ringing_talking_recording_and_ended(self, served, org, browser):
        """
        Ringing: no controls, the hint to answer on the phone, the card's link opening a new tab
        (the pop and its note stay). Answered by me: the controls, and
        (the plan records inbound calls always) once recording, the badge and no start/stop
        button. Ended: no controls, the after-call note.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("s1", KNOWN_CALLER))
        pbx.publish(ringing("s1", "101"))
        await browser.until(f"{in_call('s1', '')}?.dataset.state === 'ringing'")
        ringing_shows = await visible(browser, "s1", ".call-controls", ".call-hint")
        card_link = await browser.until(
            f"(a => a && a.target && [a.target, a.rel].join(' '))({in_call('s1', 'a.card-title')})"
        )

        pbx.publish(answered("s1", "101"))
        await browser.until(f"{in_call('s1', '')}.dataset.state === 'mine'")
        talking_shows = await visible(browser, "s1", *CONTROLS, ".call-record-stop", ".call-recording-badge")
        pbx.publish(RecordingStarted(call_id=CallId("s1"), at=now(), file="/spool/s1.wav"))
        await browser.until(f"{in_call('s1', '')}.dataset.recording === 'on'")
        recording_shows = await visible(
            browser, "s1", ".call-recording-badge", ".call-record-start", ".call-record-stop", ".call-hangup"
        )

        pbx.publish(ended("s1"))
        await browser.until(f"{in_call('s1', '')}.dataset.state === 'ended'")
        ended_shows = await visible(browser, "s1", ".call-controls", ".call-recording-badge", ".note-form")

        assert ({".call-controls": False, ".call-hint": True}, "_blank noopener") == (
            ringing_shows,
            card_link,
        )
        assert {
            **dict.fromkeys(CONTROLS, True),
            ".call-record-stop": False,
            ".call-recording-badge": False,
        } == (talking_shows)
        assert {
            ".call-recording-badge": True,
            ".call-record-start": False,
            ".call-record-stop": False,
            ".call-hangup": True,
        } == recording_shows
        assert {".call-controls": False, ".call-recording-badge": False, ".note-form": True} == ended_shows

    async def test_a_recording_that_may_stop_shows_the_stop_button(self, served, org, browser):
        """
        An internal call is not recorded by the plan: once recording, only "Stop recording" shows.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(internal("s2", "102", "101"))
        pbx.publish(ringing("s2", "101"))
        pbx.publish(answered("s2", "101"))
        pbx.publish(RecordingStarted(call_id=CallId("s2"), at=now(), file="/spool/s2.wav"))
        await browser.until(f"{in_call('s2', '')}?.dataset.recording === 'on'")

        shows = await visible(
            browser, "s2", ".call-record-start", ".call-record-stop", ".call-recording-badge"
        )
        await press(browser, "s2", ".call-record-stop")

        assert {
            ".call-record-start": False,
            ".call-record-stop": True,
            ".call-recording-badge": True,
        } == shows
        assert [("stop_recording", "s2")] == pbx.commands

    async def test_a_group_call_answered_elsewhere_has_no_controls(self, served, org, browser):
        """
        101 and 102 ring; 102 answers: ivanov's pop says so and offers nothing to press, nor a note.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("s3", KNOWN_CALLER))
        pbx.publish(ringing("s3", "101", "102"))
        pbx.publish(answered("s3", "102"))
        pbx.publish(RingingStopped(call_id=CallId("s3"), at=now(), extensions=("101",)))
        await browser.until(f"{in_call('s3', '')}?.dataset.state === 'elsewhere'")
        answered_shows = await visible(browser, "s3", ".call-controls", ".call-hint")
        status = await browser.js(f"{in_call('s3', '.call-status')}.textContent")
        pbx.publish(ended("s3"))
        await browser.until(f"{in_call('s3', '')}.dataset.state === 'ended'")
        ended_shows = await visible(browser, "s3", ".call-controls", ".note-form")

        assert ("Answered by 102", {".call-controls": False, ".call-hint": False}) == (status, answered_shows)
        assert {".call-controls": False, ".note-form": False} == ended_shows


class TestButtonsReachThePbx:
    async def test_conference_then_add_then_blind_transfer(self, served, org, browser):
        """
        On a call ivanov answered: "Make a conference" moves it to a room, "Add to conference" rings
        104 into that room, "Transfer" hands it to 103 blind, as ivanov at 101.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("b1", KNOWN_CALLER))
        pbx.publish(ringing("b1", "101"))
        pbx.publish(answered("b1", "101"))
        await browser.until(f"{in_call('b1', '')}?.dataset.state === 'mine'")

        await press(browser, "b1", ".call-conference-start")
        [(_verb, _call, room)] = pbx.commands
        pbx.publish(
            ConferenceJoined(call_id=CallId("b1"), at=now(), room=room, party=Party(number=KNOWN_CALLER))
        )
        await browser.js(f"{in_call('b1', '.call-conference-add-ext')}.value = '104'")
        await press(browser, "b1", ".call-conference-add")
        await browser.js(f"{in_call('b1', '.call-transfer-to')}.value = '103'")
        await press(browser, "b1", ".call-transfer-blind")

        assert [
            ("move_to_conference", "b1", "call-b1"),
            ("add_to_conference", "call-b1", "104"),
            ("blind_transfer", "b1", "103", "101"),
        ] == pbx.commands

    async def test_a_pbx_failure_on_hang_up_is_shown_in_russian(self, served, org, browser):
        """
        A Russian-speaking agent presses "Hang up" while the PBX is unreachable: the message is
        Russian, the PBX's own words after the colon.
        """
        app, base, _responses = served
        async with app[keys.DB]() as session:
            (await session.get(User, org["ivanov"])).locale = "ru"
            await session.commit()
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("f1", KNOWN_CALLER))
        pbx.publish(ringing("f1", "101"))
        pbx.publish(answered("f1", "101"))
        await browser.until(f"{in_call('f1', '')}?.dataset.state === 'mine'")
        pbx.fail_with = PbxUnavailable("AMI connection lost")

        await browser.js(f"{in_call('f1', '.call-hangup')}.click()")
        message = await browser.until(
            f"(m => m.dataset.kind === 'error' ? m.textContent : '')({in_call('f1', '.call-message')})"
        )

        assert "АТС недоступна: AMI connection lost" == message
        assert [] == pbx.hung_up


class TestTransferAway:
    async def test_the_transferers_pop_says_where_the_call_went_and_takes_the_note(
        self, served, org, browser, template
    ):
        """
        ivanov answers Anna and the PBX reports his transfer to 102: his pop says "Transferred to
        102 (Petr Petrov)", shows no controls and opens the note; typed while the call goes on at
        102, the note is saved once the call has ended and been logged.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        pbx = app[keys.PBX]
        pbx.publish(inbound("x1", KNOWN_CALLER))
        pbx.publish(ringing("x1", "101"))
        pbx.publish(answered("x1", "101"))
        await browser.until(f"{in_call('x1', '')}?.dataset.state === 'mine'")
        pbx.publish(
            CallTransferred(call_id=CallId("x1"), at=now(), kind=TransferKind.BLIND, by="101", to="102")
        )

        await browser.until(f"{in_call('x1', '')}.dataset.state === 'transferred'")
        status = await browser.js(f"{in_call('x1', '.call-status')}.textContent")
        shows = await visible(browser, "x1", ".call-controls", ".note-form")
        await browser.js(
            f"""{in_call("x1", ".note-form textarea")}.value = 'Handed to Petr for the invoice';
            {in_call("x1", ".note-form")}.requestSubmit();"""
        )
        await browser.until(f"{in_call('x1', '')}.dataset.notePending === '1'")
        pbx.publish(answered("x1", "102"))
        pbx.publish(ended("x1"))
        await written(app, 1)
        saved = await browser.until(
            f"(m => m.textContent === 'Note saved' ? m.textContent : '')({in_call('x1', '.call-message')})"
        )

        assert ("Transferred to 102 (Petr Petrov)", {".call-controls": False, ".note-form": True}) == (
            status,
            shows,
        )
        assert "Note saved" == saved
        async with app[keys.DB]() as session:
            [note] = await session.scalars(select(Activity).where(Activity.kind == "note"))
        assert "Handed to Petr for the invoice" == note.description


class TestCallBacksLive:
    async def test_a_missed_call_appears_dials_in_one_click_and_done_removes_it(self, served, org, browser):
        """
        Anna (ivanov's client) calls 102 and nobody answers: ivanov's page, which got no pop and no
        end of that call, lists the call-back as soon as the call log made it (a push, no reload);
        its button dials her; "Done" closes the task and removes the line.
        """
        app, base, _responses = served
        await log_in(browser, base, "ivanov")
        await browser.until("document.getElementById('no-call-backs').hidden === false")
        pbx = app[keys.PBX]
        pbx.publish(inbound("m1", KNOWN_CALLER))
        pbx.publish(ringing("m1", "102"))
        pbx.publish(ended("m1", Disposition.MISSED))

        task_id = int(await browser.until("document.querySelector('#call-back-list li')?.dataset.taskId"))
        await browser.js(COUNT_DIALS)
        await browser.js("document.querySelector('#call-back-list .call-back-number').click()")
        answered_ok = await browser.until("window.dialAnswers.length === 1 && window.dialAnswers[0]")
        dialled = list(pbx.originated)
        await browser.js("document.querySelector('#call-back-list .call-back-done').click()")
        await browser.until("document.querySelectorAll('#call-back-list li').length === 0")

        assert 200 == answered_ok
        assert [("101", KNOWN_CALLER)] == dialled
        async with app[keys.DB]() as session:
            task = await session.get(Task, task_id)
        assert (True, org["ivanov"]) == (task.done, task.responsible_id)
