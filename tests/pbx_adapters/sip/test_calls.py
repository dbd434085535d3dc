"""Calls between extensions through the B2BUA, with sipp phones on both ends."""

from __future__ import annotations

from pathlib import Path

from cti.plan import RunningPlan
from pbx_adapters.sip.pbx import SipPbx

from .conftest import CARRIER_HOST, CARRIER_PORT, PLAN, plan_spec, settings
from .peers import Recorder, Sipp, channel_power, free_port, tone_wav, until


async def _answering_phone(sipp: Sipp, extension: str, *, ring_ms: int = 300):
    """Register *extension* from a port, then wait there for our INVITE as that phone."""
    port = free_port()
    registered = await sipp.register(extension, port)
    assert 0 == registered.rc, registered.errors
    process = await sipp.start("uas_answer.xml", port=port, pause_ms=ring_ms)
    return process, port


class TestInternalCall:
    async def test_audio_both_ways_is_relayed_and_recorded(
        self, pbx, sipp: Sipp, recorder: Recorder, tmp_path: Path
    ):
        """101 calls 102: both answer and talk; the recording has 101's tone left and 102's right."""
        callee, callee_port = await _answering_phone(sipp, "102")
        caller = await sipp.run(
            "uac_call.xml",
            service="102",
            user="101",
            password="secret-101",
            pause_ms=2500,
            variables={"caller": "101", "caller_name": "Anna Sokolova"},
        )
        assert 0 == caller.rc, caller.errors
        answered = await sipp.finish(callee, callee_port)
        assert 0 == answered.rc, answered.errors
        (call,) = await recorder.ended_calls(1)
        assert ("internal", "101", "102", ("101", "102"), "102", "answered") == (
            call.direction.value,
            call.caller.number,
            call.dialled,
            call.extensions,
            call.answered_by,
            call.disposition.value,
        )
        assert [
            "CallStarted",
            "CallRinging",
            "CallAnswered",
            "RecordingStarted",
            "RecordingStopped",
            "CallEnded",
        ] == recorder.kinds()[1:]
        (recording,) = call.recordings
        assert channel_power(Path(recording), 0, 440) > 0.5
        assert channel_power(Path(recording), 1, 1000) > 0.5
        assert channel_power(Path(recording), 0, 1000) < 0.1


async def _phone(sipp: Sipp, extension: str, scenario: str, **kwargs):
    port = free_port()
    registered = await sipp.register(extension, port)
    assert 0 == registered.rc, registered.errors
    return await sipp.start(scenario, port=port, **kwargs), port


def _call(caller: str, name: str) -> dict[str, object]:
    return {
        "user": caller,
        "password": f"secret-{caller}",
        "variables": {"caller": caller, "caller_name": name},
    }


class TestUnansweredCalls:
    async def test_no_answer_within_the_plans_timeout_is_a_missed_call(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """103 rings 3 s (its no-answer forward goes to 104, not registered): 480, a missed call."""
        callee, port = await _phone(sipp, "103", "uas_ring.xml")
        caller = await sipp.run("uac_refused.xml", service="103", **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("missed", None, ("101", "103"), ()) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
            call.recordings,
        )
        assert ["CallStarted", "CallRinging", "RingingStopped", "CallEnded"] == recorder.kinds()[1:]

    async def test_a_busy_phone_makes_a_busy_call(self, pbx, sipp: Sipp, recorder: Recorder):
        """102 answers 486: the caller gets 486 and the call is busy, never rang."""
        callee, port = await _phone(sipp, "102", "uas_busy.xml")
        caller = await sipp.run("uac_refused.xml", service="102", **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("busy", ("101",)) == (call.disposition.value, call.extensions)
        assert ["CallStarted", "CallEnded"] == recorder.kinds()[1:]

    async def test_the_caller_hanging_up_while_it_rings_cancels_the_callee(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """CANCEL from 101 while 102 rings: 487 to 101, CANCEL to 102, a missed call."""
        callee, port = await _phone(sipp, "102", "uas_ring.xml")
        caller = await sipp.run(
            "uac_cancel.xml", service="102", pause_ms=500, **_call("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("missed", ("101", "102")) == (call.disposition.value, call.extensions)

    async def test_an_answer_crossing_the_cancel_is_acknowledged_then_hung_up(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """The caller gives up while 102 answers: the PBX ACKs 102's 200 and sends BYE (no dangling
        dialog, no connected call); the caller gets 487 and the call is missed."""
        callee, port = await _phone(sipp, "102", "uas_cancel_crossing.xml")
        caller = await sipp.run(
            "uac_cancel.xml", service="102", pause_ms=300, **_call("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        crossed = await sipp.finish(callee, port)
        assert 0 == crossed.rc, crossed.errors
        (call,) = await recorder.ended_calls(1)
        assert ("missed", None) == (call.disposition.value, call.answered_by)

    async def test_an_unregistered_extension_is_unavailable(self, pbx, sipp: Sipp, recorder: Recorder):
        """Nobody registered as 102: 480 at once, and a call that never rang (failed)."""
        caller = await sipp.run("uac_refused.xml", service="102", **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        (call,) = await recorder.ended_calls(1)
        assert "failed" == call.disposition.value


class TestPickup:
    async def _pickup(self, sipp: Sipp, recorder: Recorder, code: str):
        ringing, ringing_port = await _phone(sipp, "102", "uas_ring.xml")
        caller = await sipp.start(
            "uac_wait_bye.xml",
            port=(caller_port := free_port()),
            service="102",
            **_call("104", "Dmitry Smirnov"),
        )
        await recorder.wait_for(lambda: "CallRinging" in recorder.kinds())
        picker = await sipp.run("uac_call.xml", service=code, pause_ms=1000, **_call("101", "Anna Sokolova"))
        assert 0 == picker.rc, picker.errors
        assert 0 == (await sipp.finish(caller, caller_port)).rc
        assert 0 == (await sipp.finish(ringing, ringing_port)).rc
        (call,) = await recorder.ended_calls(1)
        return call

    async def test_star11_takes_the_call_ringing_in_the_group(self, pbx, sipp: Sipp, recorder: Recorder):
        """104 calls 102 (sales); 101 (sales) dials *11: 102 stops ringing, 101 talks to 104."""
        call = await self._pickup(sipp, recorder, "*11")
        assert ("answered", "101", ("104", "102", "101")) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
        )
        assert [("101", "102", "*11")] == [(p.by, p.from_, p.code) for p in call.pickups]
        assert ["CallStarted", "CallRinging", "CallAnswered", "CallPickedUp"] == recorder.kinds()[1:5]

    async def test_dialling_40_picks_up_too(self, pbx, sipp: Sipp, recorder: Recorder):
        """The same with the other code of the plan, 40."""
        call = await self._pickup(sipp, recorder, "40")
        assert [("101", "102", "40")] == [(p.by, p.from_, p.code) for p in call.pickups]


class TestTrunk:
    async def test_a_call_from_the_carrier_rings_the_did_route(self, pbx, sipp: Sipp, recorder: Recorder):
        """The carrier (127.0.0.2) calls our sales DID: the group rings, 101 answers, inbound call."""
        callee, port = await _phone(sipp, "101", "uas_answer.xml")
        carrier = await sipp.run(
            "carrier_in.xml",
            local_ip=CARRIER_HOST,
            service="+74951234567",
            pause_ms=1000,
            variables={"caller": "+79161234567", "caller_name": ""},
        )
        assert 0 == carrier.rc, carrier.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("inbound", "+79161234567", "+74951234567", ("101",), "101", "answered", 1) == (
            call.direction.value,
            call.external_number,
            call.did,
            call.extensions,
            call.answered_by,
            call.disposition.value,
            len(call.recordings),
        )

    async def test_a_stranger_pretending_to_be_the_carrier_is_refused(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """The same INVITE from 127.0.0.3 (not the trunk's address): 407, no call."""
        stranger = await sipp.run(
            "carrier_in.xml",
            local_ip="127.0.0.3",
            service="+74951234567",
            variables={"caller": "+79161234567", "caller_name": ""},
        )
        assert 1 == stranger.rc
        assert "407" in stranger.errors
        assert [] == recorder.ended

    async def test_a_national_number_goes_out_through_the_trunk(self, pbx, sipp: Sipp, recorder: Recorder):
        """101 dials 8 916 ...: the carrier gets +7916... from our caller ID; an outbound call."""
        carrier = await sipp.start("uas_answer.xml", port=CARRIER_PORT, local_ip=CARRIER_HOST, pause_ms=200)
        caller = await sipp.run(
            "uac_call.xml", service="89161234567", pause_ms=1000, **_call("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(carrier, CARRIER_PORT)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("outbound", "+79161234567", "+79161234567", ("101",), "101", "answered", 1) == (
            call.direction.value,
            call.dialled,
            call.external_number,
            call.extensions,
            call.answered_by,
            call.disposition.value,
            len(call.recordings),
        )


class TestTrunkRegistration:
    async def test_the_trunk_registers_with_the_carrier_using_digest(self, pbx, sipp: Sipp):
        """A plan with ``register: true``: REGISTER, the carrier's 401, REGISTER with our digest, 200."""
        carrier = await sipp.start(
            "carrier_registrar.xml",
            port=CARRIER_PORT,
            local_ip=CARRIER_HOST,
            variables={"username": "74951234567", "password": "carrier-pw"},
        )
        registering = PLAN.replace(
            '    caller_id: "+74951234567"\n',
            '    caller_id: "+74951234567"\n    register: true\n    username: "74951234567"\n'
            "    secret: carrier-pw\n",
        )
        pbx.running.swap(plan_spec(registering), registering, None)
        run = await sipp.finish(carrier, CARRIER_PORT, timeout=20)
        assert 0 == run.rc, run.errors
        await until(lambda: pbx.trunks.trunks["main"].registered)


class TestForwarding:
    async def test_an_always_forward_rings_the_mobile_through_the_trunk(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """105 forwards everything to its mobile: 101's call goes out to the carrier, answered for 105."""
        carrier = await sipp.start("uas_answer.xml", port=CARRIER_PORT, local_ip=CARRIER_HOST, pause_ms=200)
        caller = await sipp.run("uac_call.xml", service="105", pause_ms=1000, **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(carrier, CARRIER_PORT)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "105", ("101", "105")) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
        )


class TestHold:
    async def test_a_re_invite_puts_the_call_on_hold_and_back(self, pbx, sipp: Sipp, recorder: Recorder):
        """101 holds (sendonly) and resumes (sendrecv) by re-INVITE: answered recvonly then sendrecv,
        CallHeld and CallResumed by 101, and the call goes on to a normal end."""
        callee, port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=100)
        caller = await sipp.run("uac_hold.xml", service="102", pause_ms=500, **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert "answered" == call.disposition.value
        assert [("CallHeld", "101"), ("CallResumed", "101")] == [
            (type(e).__name__, e.by)
            for e in recorder.events
            if type(e).__name__ in ("CallHeld", "CallResumed")
        ]


class TestTcp:
    async def test_phones_on_tcp_register_and_call(self, pbx, sipp: Sipp, recorder: Recorder):
        """Both phones use TCP: the PBX answers on the caller's connection and calls the callee on
        the connection its REGISTER came in on."""
        port = free_port()
        registered = await sipp.run(
            "register.xml", port=port, service="102", user="102", password="secret-102", transport="t1"
        )
        assert 0 == registered.rc, registered.errors
        assert "tcp" == pbx.registrar.contacts("102")[0].peer.transport
        callee = await sipp.start("uas_answer.xml", port=port, pause_ms=100, transport="t1")
        caller = await sipp.run(
            "uac_call.xml", service="102", pause_ms=500, transport="t1", **_call("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "102") == (call.disposition.value, call.answered_by)


class TestPermissions:
    async def test_a_number_outside_the_phones_permission_is_refused(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """101 holds only ``national``; +49... needs ``international``: 403, nothing goes out (toll fraud)."""
        caller = await sipp.run(
            "uac_refused.xml", service="+4930123456", extra=("-trace_msg",), **_call("101", "Anna Sokolova")
        )
        assert 0 == caller.rc, caller.errors
        (trace,) = caller.workdir.glob("uac_refused_*_messages.log")
        assert "SIP/2.0 403 Forbidden" in trace.read_text()
        assert [] == recorder.ended


class TestRingGroups:
    async def test_a_sequential_group_rings_its_members_in_turn(self, pbx, sipp: Sipp, recorder: Recorder):
        """Group 300 (103 then 102, 2 s each): 103 rings and is cancelled, then 102 rings and answers."""
        first, first_port = await _phone(sipp, "103", "uas_ring.xml")
        second, second_port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=100)
        caller = await sipp.run("uac_call.xml", service="300", pause_ms=500, **_call("101", "Anna Sokolova"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(first, first_port)).rc
        assert 0 == (await sipp.finish(second, second_port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "102", ("101", "103", "102")) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
        )
        ringing = [(type(e).__name__, e.extensions) for e in recorder.events if "Ringing" in type(e).__name__]
        assert [("CallRinging", ("103",)), ("RingingStopped", ("103",)), ("CallRinging", ("102",))] == ringing

    async def test_a_ring_all_group_rings_everybody_and_the_first_answer_wins(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """Group 200 (101, 102 at once) called by 104: 102 answers, 101 is cancelled."""
        ringing, ringing_port = await _phone(sipp, "101", "uas_ring.xml")
        answering, answering_port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=300)
        caller = await sipp.run("uac_call.xml", service="200", pause_ms=500, **_call("104", "Dmitry Smirnov"))
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(ringing, ringing_port)).rc
        assert 0 == (await sipp.finish(answering, answering_port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "102") == (call.disposition.value, call.answered_by)
        assert {"101", "102"} <= set(call.extensions)

    async def test_a_hunt_group_starts_after_who_answered_its_last_call(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """Group 500 hunts over 102, 103; three calls are answered by 102, 103, 102 in turn.

        A plain sequential group would give 102 the first two (it answers every call it is offered).
        """
        first, first_port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=100, calls=2)
        second, second_port = await _phone(sipp, "103", "uas_answer.xml", pause_ms=100)
        for _ in range(3):
            caller = await sipp.run("uac_call.xml", service="500", pause_ms=300, **_call("101", "Anna"))
            assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(first, first_port)).rc
        assert 0 == (await sipp.finish(second, second_port)).rc
        calls = await recorder.ended_calls(3)
        assert ["102", "103", "102"] == [c.answered_by for c in calls]
        assert {"desk": "102"} == pbx.calls.last_answered


class TestSilentPhones:
    async def test_a_call_whose_phone_went_silent_is_hung_up(self, tmp_path, recorder: Recorder):
        """The caller sends no audio at all (a phone that died): after rtp_timeout both sides get BYE."""
        running = RunningPlan()
        running.swap(plan_spec(), PLAN, None)
        pbx = SipPbx(settings(tmp_path, rtp_timeout=1.0), recorder.publish, plan=running)
        await pbx.start()
        try:
            sipp = Sipp(pbx.address, tmp_path)
            tone_wav(tmp_path / "tone_b.wav", 1000, 3.0)
            callee, port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=100)
            caller = await sipp.run("uac_wait_bye.xml", service="102", **_call("101", "Anna Sokolova"))
            assert 0 == caller.rc, caller.errors
            assert 0 == (await sipp.finish(callee, port)).rc
            (call,) = await recorder.ended_calls(1)
        finally:
            await pbx.stop()
        assert "answered" == call.disposition.value
