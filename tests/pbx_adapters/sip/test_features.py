"""Conference rooms, busy lamps, and control from the CTI, with sipp phones."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from cti import events as ev
from cti.errors import NoSuchCall, PbxActionFailed
from cti.model import CallId
from recordings.probe import probe_wav

from .conftest import PLAN, plan_spec
from .media.audio import power_at
from .peers import Recorder, Sipp, free_port, until


def _of_call(recorder: Recorder, call_id: str) -> list[ev.CtiEvent]:
    return [event for event in recorder.events if getattr(event, "call_id", None) == call_id]


def _one(events: list[ev.CtiEvent], kind: type):
    (event,) = [event for event in events if isinstance(event, kind)]
    return event


def _room_audio(path: str) -> bytes:
    """The frames of a room recording (mono 8 kHz 16-bit, or the assertion says what it is)."""
    with wave.open(path, "rb") as wav:
        assert (1, 2, 8000) == (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()), path
        return wav.readframes(wav.getnframes())


def _size(path: str) -> int:
    return Path(path).stat().st_size


def _wav_files(pbx) -> list[Path]:
    return sorted(Path(pbx.settings.recordings.directory).rglob("*.wav"))


def _dialler(extension: str, name: str) -> dict[str, object]:
    return {
        "user": extension,
        "password": f"secret-{extension}",
        "variables": {"caller": extension, "caller_name": name},
    }


class TestConference:
    async def test_three_phones_dialling_the_room_meet_there(self, pbx, sipp: Sipp, recorder: Recorder):
        """101, 102 and 103 dial 800: each call is answered by the room and joins it, then leaves."""
        runs = [
            sipp.run("uac_call.xml", service="800", pause_ms=pause, **_dialler(ext, name))
            for ext, name, pause in (
                ("101", "Anna Sokolova", 2500),
                ("102", "Ivan Petrov", 2000),
                ("103", "Maria Ivanova", 1500),
            )
        ]
        for run in await asyncio.gather(*runs):
            assert 0 == run.rc, run.errors
        calls = await recorder.ended_calls(3)
        assert [("answered", "800")] * 3 == [(c.disposition.value, c.conference) for c in calls]
        assert {"101", "102", "103"} == {c.caller.extension for c in calls}
        assert 3 == recorder.kinds().count("ConferenceJoined") == recorder.kinds().count("ConferenceLeft")
        assert {} == pbx.features.rooms

    async def test_a_room_with_a_pin_lets_in_who_keys_it(self, pbx, sipp: Sipp, recorder: Recorder):
        """Room 801 asks for its PIN: 1234# keyed as RFC 4733 DTMF lets 101 in."""
        run = await sipp.run("uac_pin.xml", service="801", pause_ms=1000, **_dialler("101", "Anna Sokolova"))
        assert 0 == run.rc, run.errors
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "801") == (call.disposition.value, call.conference)
        assert ["ConferenceJoined", "ConferenceLeft"] == [k for k in recorder.kinds() if k.startswith("Conf")]

    async def test_a_wrong_pin_three_times_is_hung_up_and_never_joins(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """Room 801's PIN is 1234: 101 keys 12# three times, the room hangs up on it."""
        run = await sipp.run("uac_pin_wrong.xml", service="801", **_dialler("101", "Anna Sokolova"))
        assert 0 == run.rc, run.errors
        (call,) = await recorder.ended_calls(1)
        assert (None, "failed") == (call.conference, call.disposition.value)
        assert [] == [k for k in recorder.kinds() if k.startswith("Conf")]
        assert {} == pbx.features.rooms

    async def test_each_member_of_a_recorded_room_gets_its_own_recording(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """The plan records internal calls: 101, 102 and 103 in room 800 each get a WAV of the room
        (their 440 Hz, mixed) from joining to leaving, stopped before their call ends."""
        runs = [
            sipp.run("uac_call.xml", service="800", pause_ms=pause, **_dialler(ext, name))
            for ext, name, pause in (
                ("101", "Anna Sokolova", 2500),
                ("102", "Ivan Petrov", 2000),
                ("103", "Maria Ivanova", 1500),
            )
        ]
        for run in await asyncio.gather(*runs):
            assert 0 == run.rc, run.errors
        calls = await recorder.ended_calls(3)
        assert 3 == len({call.recordings for call in calls})
        for call in calls:
            events = _of_call(recorder, call.call_id)
            kinds = [type(event).__name__ for event in events]
            assert kinds.index("ConferenceJoined") < kinds.index("RecordingStarted"), kinds
            assert kinds.index("RecordingStopped") < kinds.index("CallEnded"), kinds
            started, stopped = _one(events, ev.RecordingStarted), _one(events, ev.RecordingStopped)
            joined, left = _one(events, ev.ConferenceJoined), _one(events, ev.ConferenceLeft)
            assert (started.file,) == (stopped.file,) == call.recordings
            assert stopped.file == str(pbx.calls.recording_path(call.call_id))
            info = probe_wav(Path(stopped.file))
            in_room = (left.at - joined.at).total_seconds()
            assert abs(info.duration_s - in_room) < 0.3, (call.caller.extension, info, in_room)
            assert power_at(_room_audio(stopped.file), 440) > 0.5, call.caller.extension
        assert {} == pbx.features.rooms

    async def test_a_pbx_stopping_ends_a_recorded_room_call_in_order(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 is in room 800 when the PBX stops its calls: the phone gets a BYE, and the call's
        recording is stopped, a complete WAV, before the call ends."""
        caller = await sipp.start(
            "uac_wait_bye.xml", port=(caller_port := free_port()), service="800", **_dialler("101", "Anna")
        )
        await recorder.wait_for(lambda: "RecordingStarted" in recorder.kinds())
        file = _one(recorder.events, ev.RecordingStarted).file
        await until(lambda: _size(file) > 44 + 1600)  # the header and some audio written
        await pbx.calls.stop()
        assert 0 == (await sipp.finish(caller, caller_port)).rc
        (call,) = await recorder.ended_calls(1)
        kinds = [type(event).__name__ for event in _of_call(recorder, call.call_id)]
        assert ["RecordingStopped", "ConferenceLeft", "CallEnded"] == kinds[-3:]
        assert ("answered", 1) == (call.disposition.value, probe_wav(Path(call.recordings[0])).channels)
        assert {} == pbx.features.rooms

    async def test_a_room_the_policy_does_not_record_records_nothing(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """Rooms follow the internal policy (there is no per-room one): set to never, a call into
        800 joins it with no recording and leaves no file."""
        text = PLAN.replace("internal: always", "internal: never")
        pbx.running.swap(plan_spec(text), text, None)
        run = await sipp.run("uac_call.xml", service="800", pause_ms=1000, **_dialler("101", "Anna"))
        assert 0 == run.rc, run.errors
        (call,) = await recorder.ended_calls(1)
        assert ("800", (), "answered") == (call.conference, call.recordings, call.disposition.value)
        assert [] == [kind for kind in recorder.kinds() if kind.startswith("Recording")]
        assert [] == _wav_files(pbx)


class TestControl:
    async def test_hangup_from_the_cti_ends_a_ringing_call(self, pbx, sipp: Sipp, recorder: Recorder):
        """The CTI hangs up a call while 102 rings: 102 is cancelled, the caller gets 480."""
        port = free_port()
        assert 0 == (await sipp.register("102", port)).rc
        ringing = await sipp.start("uas_ring.xml", port=port)
        caller = await sipp.start(
            "uac_refused.xml",
            port=(caller_port := free_port()),
            service="102",
            **_dialler("101", "Anna Sokolova"),
        )
        await recorder.wait_for(lambda: "CallRinging" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.hangup(CallId(call_id))
        assert 0 == (await sipp.finish(caller, caller_port)).rc
        assert 0 == (await sipp.finish(ringing, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert "missed" == call.disposition.value

    async def test_click_to_call_rings_the_agent_first_then_the_number(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """originate(101, 102): 101's phone rings and answers, then 102 is called and answers; the CTI
        starts and stops a recording on it and hangs it up."""
        agent_port, callee_port = free_port(), free_port()
        assert 0 == (await sipp.register("101", agent_port)).rc
        assert 0 == (await sipp.register("102", callee_port)).rc
        agent = await sipp.start("uas_answer.xml", port=agent_port, pause_ms=100)
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=100)
        await pbx.originate("101", "102")
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        with pytest.raises(PbxActionFailed, match="already being recorded"):
            await pbx.start_recording(call_id, str(pbx.settings.recordings.directory / "manual.wav"))
        await pbx.stop_recording(call_id)
        await pbx.hangup(call_id)
        assert 0 == (await sipp.finish(agent, agent_port)).rc
        assert 0 == (await sipp.finish(callee, callee_port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("internal", "101", "102", "102", "answered", 1) == (
            call.direction.value,
            call.caller.extension,
            call.dialled,
            call.answered_by,
            call.disposition.value,
            len(call.recordings),
        )

    async def test_a_blind_transfer_the_agent_may_not_make_is_refused(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 holds only ``national``: a transfer of its call to +49... fails with the plan's reason,
        and the call goes on."""
        agent_port = free_port()
        assert 0 == (await sipp.register("101", agent_port)).rc
        agent = await sipp.start("uas_answer.xml", port=agent_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="101",
            pause_ms=1500,
            **_dialler("104", "Dmitry"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        with pytest.raises(PbxActionFailed, match="needs permission 'international'"):
            await pbx.blind_transfer(call_id, "+4930123456", by="101")
        for process, port in ((agent, agent_port), (caller, caller_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ((), "answered") == (call.transfers, call.disposition.value)

    async def test_commands_on_an_unknown_call_say_no_such_call(self, pbx):
        """Every verb on a call that is not live raises NoSuchCall with its id."""
        for verb in (pbx.hangup, pbx.stop_recording):
            with pytest.raises(NoSuchCall, match="nope"):
                await verb(CallId("nope"))

    async def test_pickup_from_the_cti_rings_the_agent_then_takes_the_call(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104 calls 102 (ringing); the CTI picks it up for 101: 101's phone rings, answers, and has
        the call; 102 stops ringing. Then the CTI hangs up."""
        ringing_port, agent_port = free_port(), free_port()
        assert 0 == (await sipp.register("102", ringing_port)).rc
        assert 0 == (await sipp.register("101", agent_port)).rc
        ringing = await sipp.start("uas_ring.xml", port=ringing_port)
        agent = await sipp.start("uas_answer.xml", port=agent_port, pause_ms=100)
        caller = await sipp.start(
            "uac_wait_bye.xml", port=(caller_port := free_port()), service="102", **_dialler("104", "Dmitry")
        )
        await recorder.wait_for(lambda: "CallRinging" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.pickup(call_id, "101")
        await recorder.wait_for(lambda: "CallPickedUp" in recorder.kinds())
        await pbx.hangup(call_id)
        for process, port in ((ringing, ringing_port), (agent, agent_port), (caller, caller_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert [("101", "102", "")] == [(p.by, p.from_, p.code) for p in call.pickups]

    async def test_blind_transfer_from_the_cti_sends_the_caller_on(self, pbx, sipp: Sipp, recorder: Recorder):
        """104 talks to 101; the CTI transfers the call to 103: 101 is released, 103 answers."""
        agent_port, target_port = free_port(), free_port()
        assert 0 == (await sipp.register("101", agent_port)).rc
        assert 0 == (await sipp.register("103", target_port)).rc
        agent = await sipp.start("uas_answer.xml", port=agent_port, pause_ms=100)
        target = await sipp.start("uas_answer.xml", port=target_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="101",
            pause_ms=2500,
            **_dialler("104", "Dmitry"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.blind_transfer(call_id, "103", by="101")
        for process, port in ((agent, agent_port), (target, target_port), (caller, caller_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert [("blind", "101", "103")] == [(t.kind.value, t.by, t.to) for t in call.transfers]
        assert ("104", "101", "103") == call.extensions

    async def test_attended_transfer_from_the_cti_completes_when_the_agent_hangs_up(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104 talks to 101; the CTI starts a transfer with announcement to 102: 104 waits, 101 talks
        to 102, then hangs up, and 104 is put through to 102."""
        agent_port, target_port = free_port(), free_port()
        assert 0 == (await sipp.register("101", agent_port)).rc
        assert 0 == (await sipp.register("102", target_port)).rc
        agent = await sipp.start("uas_answer_hangup.xml", port=agent_port, pause_ms=1000)
        target = await sipp.start("uas_answer.xml", port=target_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="101",
            pause_ms=5000,
            **_dialler("104", "Dmitry"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.attended_transfer(call_id, "102", by="101")
        for process, port in ((agent, agent_port), (target, target_port), (caller, caller_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert [("attended", "101", "102")] == [(t.kind.value, t.by, t.to) for t in call.transfers]

    async def test_spy_from_the_cti_rings_the_supervisor_who_then_listens(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 talks to 102; the CTI has supervisor 104 listen: 104's phone rings, answers, listens."""
        callee_port, supervisor_port = free_port(), free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        assert 0 == (await sipp.register("104", supervisor_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=100)
        supervisor = await sipp.start("uas_answer.xml", port=supervisor_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=2500,
            **_dialler("101", "Anna"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.spy(call_id, "104", "listen", on="102")
        for process, port in ((caller, caller_port), (callee, callee_port), (supervisor, supervisor_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("104",) == call.listeners

    async def test_a_listened_call_goes_on_being_recorded(self, pbx, sipp: Sipp, recorder: Recorder):
        """Supervisor 104 listens in on 101 -> 102: the two-party file ends as the listening starts and
        a second file holds the rest of the call (both voices, never the listener), before CallEnded."""
        callee_port, supervisor_port = free_port(), free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        assert 0 == (await sipp.register("104", supervisor_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=2500)
        supervisor = await sipp.start("uas_answer.xml", port=supervisor_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=2500,
            **_dialler("101", "Anna"),
        )
        await recorder.wait_for(lambda: "RecordingStarted" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.spy(call_id, "104", "listen", on="102")
        for process, port in ((caller, caller_port), (callee, callee_port), (supervisor, supervisor_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        two_party = str(pbx.calls.recording_path(call_id))
        supervised = two_party.replace(".wav", "-supervised.wav")
        recording = [
            (type(event).__name__, event.file)
            for event in _of_call(recorder, call_id)
            if isinstance(event, ev.RecordingStarted | ev.RecordingStopped)
        ]
        assert [
            ("RecordingStarted", two_party),
            ("RecordingStopped", two_party),
            ("RecordingStarted", supervised),
            ("RecordingStopped", supervised),
        ] == recording
        assert "CallEnded" == type(_of_call(recorder, call_id)[-1]).__name__
        assert (two_party, supervised) == call.recordings
        audio = _room_audio(supervised)
        assert power_at(audio, 440) > 0.1  # the caller
        assert power_at(audio, 1000) > 0.1  # the callee

    async def test_move_to_conference_puts_both_parties_in_the_room(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 talks to 102; the CTI moves the call into room 800: both parties join it."""
        callee_port = free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=1500,
            **_dialler("101", "Anna"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.move_to_conference(call_id, "800")
        assert 2 == pbx.features.rooms["800"].members
        for process, port in ((caller, caller_port), (callee, callee_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("800", "answered") == (call.conference, call.disposition.value)
        assert 2 == recorder.kinds().count("ConferenceJoined")
        assert {} == pbx.features.rooms

    async def test_a_recorded_call_moved_to_a_room_goes_on_being_recorded_there(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 talks to 102, recorded; the CTI moves the call into 800 and adds 103. The two-party
        file ends at the move, the call's room file runs to its end; 103 (no call of its own) adds none."""
        callee_port, added_port = free_port(), free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        assert 0 == (await sipp.register("103", added_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=3000)
        added = await sipp.start("uas_answer_hangup.xml", port=added_port, pause_ms=500)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=3000,
            **_dialler("101", "Anna"),
        )
        await recorder.wait_for(lambda: "RecordingStarted" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.move_to_conference(call_id, "800")
        await pbx.add_to_conference("800", "103")
        for process, port in ((added, added_port), (caller, caller_port), (callee, callee_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        (call,) = await recorder.ended_calls(1)
        two_party = str(pbx.calls.recording_path(call_id))
        room = two_party.replace(".wav", "-room-800.wav")
        recording = [
            (type(event).__name__, event.file)
            for event in _of_call(recorder, call_id)
            if isinstance(event, ev.RecordingStarted | ev.RecordingStopped)
        ]
        assert [
            ("RecordingStarted", two_party),
            ("RecordingStopped", two_party),
            ("RecordingStarted", room),
            ("RecordingStopped", room),
        ] == recording
        assert "CallEnded" == recorder.kinds()[-1]
        assert (two_party, room) == call.recordings
        assert {Path(two_party), Path(room)} == set(_wav_files(pbx))
        assert (2, 1) == (probe_wav(Path(two_party)).channels, probe_wav(Path(room)).channels)
        audio = _room_audio(room)
        assert power_at(audio, 440) > 0.1  # the caller
        assert power_at(audio, 1000) > 0.1  # the callee

    async def test_add_to_conference_rings_a_phone_into_the_room(self, pbx, sipp: Sipp, recorder: Recorder):
        """101 and 102 are in room 800; the CTI adds 103: its phone rings, answers and joins them."""
        callee_port, added_port = free_port(), free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        assert 0 == (await sipp.register("103", added_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=3000)
        added = await sipp.start("uas_answer_hangup.xml", port=added_port, pause_ms=500)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=3000,
            **_dialler("101", "Anna"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        (call_id,) = list(pbx.calls.sessions)
        await pbx.move_to_conference(call_id, "800")
        adding = asyncio.create_task(pbx.add_to_conference("800", "103"))
        await until(lambda: pbx.features.rooms["800"].members == 3)
        assert 0 == (await sipp.finish(added, added_port)).rc
        await adding
        assert 2 == pbx.features.rooms["800"].members
        for process, port in ((caller, caller_port), (callee, callee_port)):
            assert 0 == (await sipp.finish(process, port)).rc
        assert {} == pbx.features.rooms

    async def test_add_to_conference_refuses_a_room_not_in_the_plan(self, pbx):
        with pytest.raises(PbxActionFailed, match="999 is not a conference room of the plan"):
            await pbx.add_to_conference("999", "103")


class TestBusyLamps:
    async def test_a_watcher_sees_the_extension_ring_talk_and_go_idle(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104's BLF key on 102: NOTIFY idle, then early (ringing), confirmed (talking), idle again."""
        watcher = await sipp.start(
            "blf_watch.xml",
            port=(watch_port := free_port()),
            service="102",
            **_dialler("104", "Dmitry Smirnov"),
        )
        await until(lambda: bool(pbx.blf.watches.get("102")))
        port = free_port()
        assert 0 == (await sipp.register("102", port)).rc
        callee = await sipp.start("uas_answer.xml", port=port, pause_ms=300)
        caller = await sipp.run(
            "uac_call.xml", service="102", pause_ms=500, **_dialler("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        watched = await sipp.finish(watcher, watch_port)
        assert 0 == watched.rc, watched.errors


class TestSupervisor:
    async def test_listen_code_lets_the_supervisor_hear_the_call(self, pbx, sipp: Sipp, recorder: Recorder):
        """101 talks to 102; supervisor 104 dials 555102, listens a second and leaves: a listener."""
        port = free_port()
        assert 0 == (await sipp.register("102", port)).rc
        callee = await sipp.start("uas_answer.xml", port=port, pause_ms=200)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="102",
            pause_ms=4000,
            **_dialler("101", "Anna Sokolova"),
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        supervisor = await sipp.run(
            "uac_call.xml", service="555102", pause_ms=1000, **_dialler("104", "Dmitry")
        )
        assert 0 == supervisor.rc, supervisor.errors
        assert 0 == (await sipp.finish(caller, caller_port)).rc
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert (("104",), "answered") == (call.listeners, call.disposition.value)
        assert ["ListenerJoined", "ListenerLeft"] == [k for k in recorder.kinds() if k.startswith("Listener")]
