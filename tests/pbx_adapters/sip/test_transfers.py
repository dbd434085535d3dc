"""Transfers with real phones: announced (DTMF *2<ext>#) and blind (REFER)."""

from __future__ import annotations

from .peers import Recorder, Sipp, free_port


async def _phone(sipp: Sipp, extension: str, scenario: str, **kwargs):
    port = free_port()
    registered = await sipp.register(extension, port)
    assert 0 == registered.rc, registered.errors
    return await sipp.start(scenario, port=port, **kwargs), port


class TestAnnouncedTransfer:
    async def test_dtmf_code_then_hanging_up_hands_the_caller_to_the_target(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104 calls 101; 101 keys *2102#, talks to 102, hangs up: 104 now talks to 102."""
        transferer, transferer_port = await _phone(sipp, "101", "uas_transfer_dtmf.xml", pause_ms=500)
        target, target_port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=200)
        caller = await sipp.run(
            "uac_call.xml",
            service="101",
            user="104",
            password="secret-104",
            pause_ms=7000,
            variables={"caller": "104", "caller_name": "Dmitry Smirnov"},
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(transferer, transferer_port)).rc
        assert 0 == (await sipp.finish(target, target_port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "101", ("104", "101", "102")) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
        )
        assert [("attended", "101", "102")] == [(t.kind.value, t.by, t.to) for t in call.transfers]
        kinds = recorder.kinds()
        assert kinds.index("CallHeld") < kinds.index("CallTransferred")


class TestBlindTransfer:
    async def test_refer_from_the_phone_sends_the_caller_to_the_target(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104 calls 101; 101's Xfer key REFERs to 103: 101 is released, 103 rings and talks to 104."""
        transferer, transferer_port = await _phone(sipp, "101", "uas_refer.xml", pause_ms=500)
        target, target_port = await _phone(sipp, "103", "uas_answer.xml", pause_ms=200)
        caller = await sipp.run(
            "uac_call.xml",
            service="101",
            user="104",
            password="secret-104",
            pause_ms=3000,
            variables={"caller": "104", "caller_name": "Dmitry Smirnov"},
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(transferer, transferer_port)).rc
        assert 0 == (await sipp.finish(target, target_port)).rc
        (call,) = await recorder.ended_calls(1)
        assert ("answered", "101", ("104", "101", "103")) == (
            call.disposition.value,
            call.answered_by,
            call.extensions,
        )
        assert [("blind", "101", "103")] == [(t.kind.value, t.by, t.to) for t in call.transfers]


class TestAttendedRefer:
    async def test_refer_with_replaces_joins_the_caller_and_the_consulted_colleague(
        self, pbx, sipp: Sipp, recorder: Recorder
    ):
        """104 calls 101; 101's second line calls 102; 101 transfers (REFER + Replaces): 104 talks
        to 102, both of 101's lines are released, and the call records an attended transfer."""
        first_line, first_port = await _phone(sipp, "101", "uas_refer_replaces.xml", pause_ms=2500)
        target, target_port = await _phone(sipp, "102", "uas_answer.xml", pause_ms=100)
        caller = await sipp.start(
            "uac_call.xml",
            port=(caller_port := free_port()),
            service="101",
            user="104",
            password="secret-104",
            pause_ms=5000,
            variables={"caller": "104", "caller_name": "Dmitry Smirnov"},
        )
        await recorder.wait_for(lambda: "CallAnswered" in recorder.kinds())
        consult = await sipp.run(
            "uac_consult.xml",
            service="102",
            user="101",
            password="secret-101",
            variables={"caller": "101", "caller_name": "Anna Sokolova"},
            extra=("-cid_str", "consult-%u@127.0.0.1"),
        )
        assert 0 == consult.rc, consult.errors
        assert 0 == (await sipp.finish(first_line, first_port)).rc
        assert 0 == (await sipp.finish(caller, caller_port)).rc
        assert 0 == (await sipp.finish(target, target_port)).rc
        calls = await recorder.ended_calls(2)
        transferred = next(call for call in calls if call.caller.extension == "104")
        assert [("attended", "101", "102")] == [(t.kind.value, t.by, t.to) for t in transferred.transfers]
        assert ("104", "101", "102") == transferred.extensions
