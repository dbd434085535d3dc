"""The pipeline with real ffmpeg and the real catalog, on SQLite and PostgreSQL: both orders, failures."""

from __future__ import annotations

import asyncio
import json
import shutil

from sqlalchemy.ext.asyncio import create_async_engine
from structlog.testing import capture_logs

from crm_core.db import make_sessionmaker
from cti.bus import EventBus
from cti.events import CallStarted, RecordingStopped
from cti.model import CallId, Direction, Party
from cti.registry import CallRegistry
from recordings import pipeline as pipeline_module
from recordings.sidecar import read_sidecar, write_sidecar
from recordings.state import RecordingState, RecordingStatus
from tests.crm_core.factories import OWN_DID, T0

from .conftest import write_sine
from .helpers import Clock, call_pk, call_with, log_call, make_pipeline, recordings

CALL = "1718012345.42"
PBX_ID = "main"


class TestBothOrders:
    async def test_call_logged_first_gets_its_row_filled_in(self, tmp_path, sessionmaker, sine, pipelines):
        """
        The CRM logged the call (a bare row for the PBX path); the pipeline fills that very row in.
        """
        await log_call(sessionmaker, call_with(sine))
        [bare] = await recordings(sessionmaker)
        pipeline = pipelines(tmp_path / "store", sessionmaker)

        state = await pipeline.submit(CALL, str(sine), T0)

        [row] = await recordings(sessionmaker)
        assert (bare.id, RecordingStatus.CONVERTED.value) == (row.id, row.status)
        assert (await call_pk(sessionmaker, CALL), f"2026/11/27/{CALL}.mp3") == (row.call_pk, row.storage_key)
        assert (PBX_ID, CALL, str(sine)) == (row.pbx_id, row.call_id, row.path)
        assert f"2026/11/27/{CALL}.peaks.json" == row.peaks_key
        assert 2.9 < row.duration_s < 3.1
        assert state.sha256 == row.sha256
        assert (tmp_path / "store" / row.storage_key).stat().st_size == row.size_bytes

    async def test_file_ready_first_waits_unlinked_then_merges_into_the_calls_row(
        self, tmp_path, sessionmaker, sine, pipelines, monkeypatch
    ):
        """
        The file is stored before the call row exists; logging the call and linking leave one linked row.
        """
        monkeypatch.setattr(pipeline_module, "LINK_PAUSES", (3600.0,))  # only this test's link runs
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        await pipeline.submit(CALL, str(sine), T0)
        [waiting] = await recordings(sessionmaker)
        assert (None, RecordingStatus.CONVERTED.value) == (waiting.call_pk, waiting.status)

        await log_call(sessionmaker, call_with(sine))  # adds its own bare row for the same file
        assert 2 == len(await recordings(sessionmaker))
        assert await pipeline.catalog.link(PBX_ID, CALL)

        [row] = await recordings(sessionmaker)
        assert (await call_pk(sessionmaker, CALL), waiting.storage_key) == (row.call_pk, row.storage_key)
        assert RecordingStatus.CONVERTED.value == row.status

    async def test_sweep_links_what_waited(self, tmp_path, sessionmaker, sine, pipelines):
        """
        A file that found no call row is linked by the sweep once the call is logged.
        """
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        await pipeline.submit(CALL, str(sine), T0)
        await log_call(sessionmaker, call_with(sine))

        await pipeline.sweep()

        [row] = await recordings(sessionmaker)
        assert await call_pk(sessionmaker, CALL) == row.call_pk

    async def test_replayed_stop_does_nothing_twice(self, tmp_path, sessionmaker, sine, pipelines):
        """
        The same file reported again (a replay, or CallEnded after RecordingStopped) is not stored twice.
        """
        await log_call(sessionmaker, call_with(sine))
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        await pipeline.submit(CALL, str(sine), T0)
        await pipeline.submit(CALL, str(sine), T0)

        assert 1 == len(await recordings(sessionmaker))
        assert [f"{CALL}.meta.json", f"{CALL}.mp3", f"{CALL}.peaks.json"] == sorted(
            p.name for p in (tmp_path / "store" / "2026/11/27").iterdir()
        )


class TestTheBus:
    async def test_recording_stopped_on_the_bus_is_stored_and_linked(
        self, tmp_path, sessionmaker, sine, pipelines
    ):
        """
        RecordingStopped published on the real bus: the file is stored under the call's start date.
        """
        await log_call(sessionmaker, call_with(sine))
        bus = EventBus(CallRegistry())
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        started = CallStarted(
            CallId(CALL), T0, Direction.INBOUND, Party("+79991112233"), OWN_DID, "+79991112233", OWN_DID
        )
        async with bus.subscribe("recordings") as subscription:
            bus.publish(started)
            bus.publish(RecordingStopped(CallId(CALL), T0, str(sine)))
            while subscription.pending:
                pipeline.handle(subscription.get_nowait())
            await pipeline.wait_idle()

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.CONVERTED.value, f"2026/11/27/{CALL}.mp3") == (row.status, row.storage_key)


class TestSpoolMap:
    async def test_pbx_path_is_read_through_the_mount(self, tmp_path, sessionmaker, pipelines):
        """
        Asterisk names /var/spool/asterisk/monitor/x.wav; we read it from the configured mount.
        """
        mount = tmp_path / "pbx-monitor"
        mount.mkdir()
        write_sine(mount / f"{CALL}.wav", 2)
        pbx_path = f"/var/spool/asterisk/monitor/{CALL}.wav"
        await log_call(sessionmaker, call_with(pbx_path))
        pipeline = pipelines(
            tmp_path / "store", sessionmaker, spool_map={"/var/spool/asterisk/monitor": mount}
        )

        await pipeline.submit(CALL, pbx_path, T0)

        [row] = await recordings(sessionmaker)
        assert (pbx_path, RecordingStatus.CONVERTED.value) == (row.path, row.status)

    async def test_remove_source_drops_the_pbx_copy_once_stored(
        self, tmp_path, sessionmaker, sine, pipelines
    ):
        """
        With remove_source, the PBX's file goes once our copy is verified and catalogued.
        """
        pipeline = pipelines(tmp_path / "store", sessionmaker, remove_source=True)
        await pipeline.submit(CALL, str(sine), T0)
        assert not sine.exists()


class TestFailures:
    async def test_corrupt_file_is_kept_and_marked_failed(self, tmp_path, sessionmaker, pipelines):
        """
        A file that is not audio is copied into the storage as it is and its row says why it failed.
        """
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"this is not audio, it is a text file with a .wav name" * 20)
        await log_call(sessionmaker, call_with(bad))
        pipeline = pipelines(tmp_path / "store", sessionmaker)

        await pipeline.submit(CALL, str(bad), T0)

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.FAILED.value, f"2026/11/27/{CALL}.bad") == (row.status, row.storage_key)
        assert "not a WAV" in row.error
        assert bad.read_bytes() == (tmp_path / "store" / row.storage_key).read_bytes()
        assert bad.exists()
        assert 1 == pipeline.stats.failed

    async def test_undecodable_audio_is_retried_with_backoff_then_failed_with_the_original_kept(
        self, tmp_path, sessionmaker, sine, pipelines
    ):
        """
        ffmpeg cannot decode it: stored as WAV, retried by the sweep after the backoff, failed at the end.
        """
        data = bytearray(sine.read_bytes())
        data[20:22] = (0x9999).to_bytes(2, "little")  # a codec tag nobody knows
        sine.write_bytes(bytes(data))
        clock = Clock()
        pipeline = pipelines(tmp_path / "store", sessionmaker, clock=clock, max_attempts=2)

        state = await pipeline.submit(CALL, str(sine), T0)
        assert (RecordingStatus.STORED, 1) == (state.status, state.attempts)
        assert 30 == (state.next_attempt_at - clock.now).total_seconds()
        assert 0 == await pipeline.sweep()  # not due yet

        clock.advance(seconds=31)
        assert 1 == await pipeline.sweep()

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.FAILED.value, 2) == (row.status, row.attempts)
        assert row.error.startswith("conversion failed")
        assert bytes(data) == (tmp_path / "store" / row.storage_key).read_bytes()

    async def test_retry_converts_once_the_original_decodes(self, tmp_path, sessionmaker, sine, pipelines):
        """
        A stored original that decodes by the time of the retry is converted and its row updated.
        """
        good = sine.read_bytes()
        sine.write_bytes(good[:20] + (0x9999).to_bytes(2, "little") + good[22:])
        clock = Clock()
        pipeline = pipelines(tmp_path / "store", sessionmaker, clock=clock)
        state = await pipeline.submit(CALL, str(sine), T0)
        (tmp_path / "store" / state.storage_key).write_bytes(good)  # e.g. ffmpeg got the codec

        clock.advance(minutes=1)
        await pipeline.sweep()

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.CONVERTED.value, f"2026/11/27/{CALL}.mp3") == (row.status, row.storage_key)
        sidecar = read_sidecar(tmp_path / "store" / f"2026/11/27/{CALL}.meta.json")
        assert (RecordingStatus.CONVERTED, row.storage_key) == (sidecar.status, sidecar.storage_key)

    async def test_missing_file_waits_for_a_retry(self, tmp_path, sessionmaker, pipelines):
        """
        A file that is not (yet) there is retried later, not failed.
        """
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        missing = tmp_path / "never.wav"
        await log_call(sessionmaker, call_with(missing))

        await pipeline.submit(CALL, str(missing), T0)

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.PENDING.value, 1) == (row.status, row.attempts)
        assert row.error.startswith("file not found")

    async def test_closing_stops_waiting_for_a_missing_file_and_keeps_its_retry(
        self, tmp_path, sessionmaker, pipelines
    ):
        """
        A daemon stopping does not wait out ``file_wait`` (an hour here) for a file that is not
        there: the job records its retry at once, for the next start's sweeper.
        """
        pipeline = pipelines(tmp_path / "store", sessionmaker, file_wait=3600)
        missing = tmp_path / "never.wav"
        await log_call(sessionmaker, call_with(missing))
        job = pipeline.submit(CALL, str(missing), T0)
        await asyncio.sleep(0.2)  # the job is polling for the file now
        assert not job.done()

        await pipeline.close(timeout=3600)

        assert job.done()
        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.PENDING.value, 1) == (row.status, row.attempts)
        assert row.error.startswith("file not found")

    async def test_header_only_file_of_an_unknown_recording_leaves_nothing(
        self, tmp_path, sessionmaker, pipelines
    ):
        """
        A bare 44-byte header (a call that never connected) is not worth a row when no call names it.
        """
        empty = write_sine(tmp_path / "empty.wav", 0)
        pipeline = pipelines(tmp_path / "store", sessionmaker)

        assert None is await pipeline.submit(CALL, str(empty), T0)
        assert [] == await recordings(sessionmaker)

    async def test_full_disk_keeps_the_source_alerts_and_retries(
        self, tmp_path, sessionmaker, tiny_disk, pipelines
    ):
        """
        The store's disk is full: nothing is lost (the PBX's file stays), the board is alerted, a retry waits.
        """
        big = write_sine(tmp_path / f"{CALL}.wav", 20)  # 320 KB on a 200 KB disk
        await log_call(sessionmaker, call_with(big))
        alerts: list = []
        pipeline = pipelines(tiny_disk / "store", sessionmaker, alerts=alerts)

        await pipeline.submit(CALL, str(big), T0)

        [row] = await recordings(sessionmaker)
        assert (RecordingStatus.PENDING.value, None) == (row.status, row.storage_key)
        assert "no space left" in row.error
        assert row.next_attempt_at is not None
        assert big.exists()
        assert (True, 1) == (pipeline.stats.storage_full, pipeline.stats.storage_full_total)
        assert 1 == len(alerts)
        assert "disk full" in alerts[0]

        shutil.rmtree(tiny_disk / "store")
        small = write_sine(tmp_path / "small.wav", 1)
        await pipeline.submit("other.1", str(small), T0)
        assert [alerts[0], None] == alerts  # the alert ends with the next successful write
        assert not pipeline.stats.storage_full


class TestDatabaseDown:
    async def test_file_is_stored_with_its_sidecar_and_the_loss_is_logged(self, tmp_path, sine, monkeypatch):
        """
        With the database unreachable the file is still stored and described by its sidecar (rescan's input).
        """
        monkeypatch.setattr(pipeline_module, "SAVE_PAUSES", (0.0,))
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
        pipeline = make_pipeline(tmp_path / "store", make_sessionmaker(engine))
        try:
            with capture_logs() as logs:
                state = await pipeline.submit(CALL, str(sine), T0)
        finally:
            await pipeline.close()
            await engine.dispose()

        assert RecordingStatus.CONVERTED == state.status
        sidecar = read_sidecar(tmp_path / "store" / f"2026/11/27/{CALL}.meta.json")
        assert (CALL, str(sine), state.sha256) == (sidecar.call_id, sidecar.source, sidecar.sha256)
        assert ["error"] == [e["log_level"] for e in logs if e["event"] == "recording_catalog_failed"]


class TestSidecar:
    def test_sidecar_is_plain_json(self, tmp_path):
        """
        The sidecar is readable JSON a person can inspect (version, ids, checksum).
        """
        path = tmp_path / "x.meta.json"
        state = RecordingState(pbx_id="main", call_id=CALL, source="/spool/x.wav", started_at=T0, sha256="ab")
        write_sidecar(path, state)

        data = json.loads(path.read_text())
        assert (1, "main", CALL, "ab") == (data["version"], data["pbx_id"], data["call_id"], data["sha256"])
        assert state == read_sidecar(path)
