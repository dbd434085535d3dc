"""End to end in the real app: RecordingStopped on the bus -> stored, converted, linked, playable."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from config.settings import RecordingSettings
from crm_core.models import CallActivity, Recording
from cti.events import RecordingStarted, RecordingStopped
from cti.model import CallId
from tests.recordings.conftest import _tiny_disk, write_sine  # noqa: F401 (the tiny_disk fixture)
from web import keys

from .conftest import UNKNOWN_CALLER, cookie_header
from .fakes import answered, ended, inbound, now, ringing

CALL = "1718012345.77"


@pytest.fixture(name="settings")
def _settings(settings, tmp_path):
    """Recordings stored in the test's temp dir; a missing file is not waited for."""
    directory = tmp_path / "recordings"
    return settings.model_copy(update={"recordings": RecordingSettings(directory=directory, file_wait=0)})


async def _until(condition) -> None:
    """Poll *condition* (an async callable) until it is true: the pipeline runs in its own tasks."""
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never came true")


async def _linked_row(app, call_id: str) -> Recording:
    """Wait until the call's recording is converted and linked (the CRM writer and pipeline race)."""
    for _ in range(600):
        async with app[keys.DB]() as session:
            row = await session.scalar(
                select(Recording)
                .join(CallActivity, Recording.call_pk == CallActivity.id)
                .where(CallActivity.call_id == call_id, Recording.status == "converted")
            )
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"the recording of {call_id} was never linked")


def _call_with_recording(pbx, source: str) -> None:
    pbx.publish(inbound(CALL, UNKNOWN_CALLER))
    pbx.publish(ringing(CALL, "101"))
    pbx.publish(answered(CALL, "101"))
    pbx.publish(RecordingStarted(CallId(CALL), now(), source))
    pbx.publish(RecordingStopped(CallId(CALL), now(), source))


class TestEndToEnd:
    async def test_stopped_recording_becomes_playable_from_the_call(
        self, client, app, pbx, template, tmp_path
    ):
        """
        The agent who answered plays the converted MP3 of their call once the pipeline and CRM are done.
        """
        source = write_sine(tmp_path / f"{CALL}.wav", 3)
        _call_with_recording(pbx, str(source))

        pbx.publish(ended(CALL))

        row = await _linked_row(app, CALL)
        response = await client.get(
            f"/recordings/{row.id}", headers=cookie_header(app, template.users["ivanov"])
        )

        assert 200 == response.status
        assert "audio/mpeg" == response.headers["Content-Type"]
        assert row.size_bytes == len(await response.read())
        metrics = await (await client.get("/metrics")).text()
        assert "cti_recordings_converted_total 1.0" in metrics
        assert "cti_recordings_storage_full 0.0" in metrics

    async def test_file_ready_before_the_call_ends_is_linked_when_it_is_logged(
        self, client, app, pbx, template, tmp_path
    ):
        """
        The recording is stored while the call is still up; it links as soon as the call is logged.
        """

        source = write_sine(tmp_path / f"{CALL}.wav", 2)
        _call_with_recording(pbx, str(source))

        async def stored() -> bool:
            async with app[keys.DB]() as session:
                return await session.scalar(select(Recording.status)) == "converted"

        await _until(stored)
        async with app[keys.DB]() as session:
            waiting = await session.scalar(select(Recording))
        assert None is waiting.call_pk

        pbx.publish(ended(CALL))

        row = await _linked_row(app, CALL)
        async with app[keys.DB]() as session:
            rows = list(await session.scalars(select(Recording)))
        assert [row.id] == [r.id for r in rows]


class TestFullDisk:
    @pytest.fixture(name="settings")
    def _full_settings(self, settings, tiny_disk):
        return settings.model_copy(
            update={"recordings": RecordingSettings(directory=tiny_disk / "recordings", file_wait=0)}
        )

    async def test_full_disk_shows_on_health_metrics_and_the_board(self, client, app, pbx, tmp_path):
        """
        A recording that does not fit: /healthz flags it, /metrics counts it, the board alerts; file kept.
        """
        source = write_sine(tmp_path / f"{CALL}.wav", 20)  # 320 KB on a 200 KB disk
        _call_with_recording(pbx, str(source))
        stats = app[keys.RECORDINGS].pipeline.stats

        async def full() -> bool:
            return stats.storage_full

        await _until(full)
        await app[keys.RECORDINGS].pipeline.wait_idle()

        health = await (await client.get("/healthz")).json()
        metrics = await (await client.get("/metrics")).text()

        assert {"storage_full": True} == health["recordings"]
        assert "cti_recordings_storage_full 1.0" in metrics
        assert "cti_recordings_storage_full_events_total 1.0" in metrics
        assert any("disk full" in alert for alert in app[keys.BOARD].alerts.values())
        assert source.exists()
