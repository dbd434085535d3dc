"""CRM effects of embedded-PBX calls: the same writer, the same outcome as for Asterisk's calls.

The calls are real (sipp phones and carrier through the PBX); their cti events go through the
real bus into the real CallLogWriter, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crm_core.models import CallActivity, Recording
from crm_core.writer import CallLogWriter
from tests.crm_core.conftest import (  # noqa: F401 - the CRM database fixtures, both backends
    _blank_engine,
    _engine,
    _session,
    _sessionmaker,
    _settings,
)

from .conftest import CARRIER_HOST
from .peers import Recorder, Sipp, free_port


def pbx_recordings(pbx) -> list[str]:
    """The WAV files the PBX wrote (as the recordings pipeline will find them)."""
    return [str(path) for path in Path(pbx.settings.recordings.directory).rglob("*.wav")]


class TestInboundCallInTheCrm:
    async def test_an_unknown_caller_answered_becomes_a_lead_with_the_recording(
        self, pbx, sipp: Sipp, recorder: Recorder, sessionmaker, session, settings
    ):
        """The carrier delivers +7 916 ... to the sales line, 101 answers: one activity on a new
        lead, answered by 101, with the call's WAV attached (as for Asterisk's trace 02)."""
        writer = CallLogWriter(sessionmaker, pbx_id="main", settings=settings)
        async with recorder.bus.subscribe("crm") as subscription:
            port = free_port()
            assert 0 == (await sipp.register("101", port)).rc
            callee = await sipp.start("uas_answer.xml", port=port, pause_ms=200)
            carrier = await sipp.run(
                "carrier_in.xml",
                local_ip=CARRIER_HOST,
                service="+74951234567",
                pause_ms=1000,
                variables={"caller": "+79161234567", "caller_name": ""},
            )
            assert 0 == carrier.rc, carrier.errors
            assert 0 == (await sipp.finish(callee, port)).rc
            await recorder.ended_calls(1)
            assert 1 == await writer.drain(subscription)
        (activity,) = await session.scalars(select(CallActivity))
        assert ("inbound", "+79161234567", "+74951234567", "101", "answered", "lead", True) == (
            activity.direction,
            activity.external_number,
            activity.did,
            activity.answered_by,
            activity.disposition,
            activity.crm_entity,
            activity.crm_created,
        )
        (recording,) = await session.scalars(select(Recording))
        assert recording.path.startswith(str(pbx.settings.recordings.directory))
        assert recording.path in pbx_recordings(pbx)


class TestConferenceCallInTheCrm:
    async def test_a_call_into_a_recorded_room_gets_its_recording_on_the_call_row(
        self, pbx, sipp: Sipp, recorder: Recorder, sessionmaker, session, settings
    ):
        """101 dials room 800 (the plan records internal calls): one activity for the conference
        call, with the room's WAV of 101's time there attached to it."""
        writer = CallLogWriter(sessionmaker, pbx_id="main", settings=settings)
        async with recorder.bus.subscribe("crm") as subscription:
            run = await sipp.run(
                "uac_call.xml",
                service="800",
                pause_ms=1000,
                user="101",
                password="secret-101",
                variables={"caller": "101", "caller_name": "Anna Sokolova"},
            )
            assert 0 == run.rc, run.errors
            (call,) = await recorder.ended_calls(1)
            assert 1 == await writer.drain(subscription)
        (activity,) = await session.scalars(select(CallActivity))
        assert (call.call_id, "internal", "answered", "800") == (
            activity.call_id,
            activity.direction,
            activity.disposition,
            activity.details.get("conference"),
        )
        (recording,) = await session.scalars(select(Recording))
        assert activity.id == recording.call_pk
        assert [recording.path] == pbx_recordings(pbx)
        assert recording.path == str(pbx.calls.recording_path(call.call_id))
