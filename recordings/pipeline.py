"""The recordings pipeline: from "recording stopped" on the bus to a stored, converted, linked file.

Bus notices drive it: ``RecordingStopped``, and ``CallEnded`` for any file of the call whose stop
was missed. Each file is fetched from the PBX's path (through ``recordings.spool_map`` when the
PBX is another host), checked, stored, converted and given its peaks and sidecar, then saved in
the catalog, which links it to the call row when the CRM has logged the call. When the file is
ready first, a linker retries shortly after and a sweeper later; the sweeper also retries failed
conversions and full-disk waits with backoff. The database is reached only through the
:class:`RecordingCatalog` port (crm_core implements it), so this package stays below crm_core.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from config.settings import RecordingSettings
from cti.events import CallEnded, RecordingStopped

from .errors import EmptyRecording, NotARecording, StorageFull
from .probe import probe_wav
from .sidecar import sidecar_key, write_sidecar
from .spool import local_path
from .state import RecordingState, RecordingStatus
from .store import RecordingStore, StoredRecording

if TYPE_CHECKING:
    from cti.bus import Notice, Subscription

__all__ = ["PipelineStats", "RecordingCatalog", "RecordingPipeline"]

log = structlog.get_logger(__name__)

SWEEP_INTERVAL = 30.0
"Seconds between two sweeps (retries that are due, files waiting for their call row)."
FIRST_SWEEP = 5.0
"Seconds after start-up before the first sweep (what a restart left behind), once the daemon is up."
STALE_AFTER = timedelta(minutes=2)
"A pending row nobody worked on for this long (e.g. the daemon restarted) is picked up by the sweep."
LINK_PAUSES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"Seconds between tries to link a file that was ready before its call row; then the sweep takes over."
SAVE_PAUSES = (0.5, 2.0, 8.0)
"Seconds between tries to save to a database that is down; the sidecar keeps the facts meanwhile."
MAX_BACKOFF = timedelta(hours=6)
SWEEP_BATCH = 100


class RecordingCatalog(Protocol):
    """Where recordings are kept track of (the database), as the pipeline needs it."""

    async def find(self, pbx_id: str, call_id: str, source: str) -> RecordingState | None:
        """The recording of the PBX's file *source* of this call, if known."""
        ...

    async def save(self, state: RecordingState) -> bool:
        """Create or update by natural key, linking to the call row if it exists; True if linked."""
        ...

    async def due(
        self, pbx_id: str, *, now: datetime, stale_before: datetime, limit: int
    ) -> list[RecordingState]:
        """Pending or stored recordings due for an attempt (or pending, untouched since *stale_before*)."""
        ...

    async def link(self, pbx_id: str, call_id: str) -> bool:
        """Link the call's waiting recordings; False while the call row does not exist."""
        ...

    async def link_waiting(self, pbx_id: str) -> int:
        """Link every waiting recording whose call row exists now; return how many."""
        ...


@dataclass
class PipelineStats:
    """Counters for /metrics and /healthz (read at scrape time)."""

    converted: int = 0
    failed: int = 0
    retried: int = 0
    storage_full: bool = False
    "True from a full-disk failure until the next successful write: an operator must act."
    storage_full_total: int = 0


class RecordingPipeline:
    """Ingest every recording the PBX reports; never lose a file, never block the bus."""

    def __init__(
        self,
        store: RecordingStore,
        catalog: RecordingCatalog,
        *,
        pbx_id: str,
        settings: RecordingSettings,
        clock: Callable[[], datetime] | None = None,
        on_alert: Callable[[str | None], None] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.pbx_id = pbx_id
        self.settings = settings
        self.stats = PipelineStats()
        self._now = clock or (lambda: datetime.now(UTC))
        self._on_alert = on_alert
        self._jobs: dict[tuple[str, str], asyncio.Task[RecordingState | None]] = {}
        self._linkers: dict[str, asyncio.Task[None]] = {}
        self._closing = asyncio.Event()
        "Set by :meth:`close`: a file still missing is not waited for (its retry is in the catalog)."

    @property
    def in_flight(self) -> int:
        """Recordings being worked on right now."""
        return len(self._jobs)

    # -- the bus -------------------------------------------------------------------------------

    async def run(self, subscription: Subscription) -> None:
        """Consume *subscription* until cancelled; every file becomes its own task."""
        while True:
            self.handle(await subscription.get())

    def handle(self, notice: Notice) -> None:
        """Start work for a notice: the stopped recording's file, or every file of an ended call."""
        event, call = notice.event, notice.call
        if isinstance(event, RecordingStopped):
            started = call.started_at if call is not None else event.at
            self.submit(event.call_id, event.file, started)
        elif isinstance(event, CallEnded) and call is not None:
            for file in call.recordings:
                self.submit(call.call_id, file, call.started_at)

    def submit(
        self, call_id: str, source: str, started_at: datetime
    ) -> asyncio.Task[RecordingState | None] | None:
        """Work on the file unless it is already being worked on; return its task."""
        if not source:
            return None
        job = RecordingState(pbx_id=self.pbx_id, call_id=call_id, source=source, started_at=started_at)
        return self._jobs.get((call_id, source)) or self._start(job, from_event=True)

    def _start(self, job: RecordingState, *, from_event: bool) -> asyncio.Task[RecordingState | None]:
        key = (job.call_id, job.source)
        task = asyncio.create_task(self._job(job, from_event=from_event), name=f"recording:{job.call_id}")
        self._jobs[key] = task
        task.add_done_callback(lambda _t: self._jobs.pop(key, None))
        return task

    async def wait_idle(self) -> None:
        """Wait until no file is being worked on (tests, benchmarks and shutdown)."""
        while self._jobs:
            await asyncio.gather(*self._jobs.values(), return_exceptions=True)

    async def close(self, timeout: float = 30.0) -> None:
        """Let the files in progress finish (up to *timeout*), then cancel what remains.

        A job still waiting for its file to appear stops waiting at once: it records its retry, which
        the next start's sweeper picks up, so a stop never waits out ``file_wait``.
        """
        self._closing.set()
        linkers = tuple(self._linkers.values())
        for linker in linkers:
            linker.cancel()
        await asyncio.gather(*linkers, return_exceptions=True)
        try:
            async with asyncio.timeout(timeout):
                await self.wait_idle()
        except TimeoutError:
            log.warning("recordings_not_drained", in_flight=len(self._jobs))
            for task in tuple(self._jobs.values()):
                task.cancel()
            await asyncio.gather(*self._jobs.values(), return_exceptions=True)

    # -- the sweeper ---------------------------------------------------------------------------

    async def run_sweeper(self, interval: float = SWEEP_INTERVAL, *, first: float = FIRST_SWEEP) -> None:
        """Sweep after *first* seconds, then every *interval*, until cancelled; failures are logged."""
        await asyncio.sleep(first)
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("recordings_sweep_failed")
            await asyncio.sleep(interval)

    async def sweep(self) -> int:
        """Link waiting files, then start every due retry; return how many retries started."""
        linked = await self.catalog.link_waiting(self.pbx_id)
        if linked:
            log.info("recordings_linked", count=linked)
        now = self._now()
        due = await self.catalog.due(self.pbx_id, now=now, stale_before=now - STALE_AFTER, limit=SWEEP_BATCH)
        started = [
            self._start(state, from_event=False)
            for state in due
            if (state.call_id, state.source) not in self._jobs
        ]
        self.stats.retried += len(started)
        await asyncio.gather(*started, return_exceptions=True)
        return len(started)

    # -- one file ------------------------------------------------------------------------------

    async def _job(self, job: RecordingState, *, from_event: bool) -> RecordingState | None:
        try:
            if from_event:
                known = await self._find(job)
                if known is not None and known.status is not RecordingStatus.PENDING:
                    return known  # a replayed event: stored already, retries go by the schedule
                if known is not None:
                    job = replace(known, started_at=job.started_at)
            state = await self._attempt(job)
            if state is not None:
                await self._finish(state)
            return state
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("recording_job_crashed", call_id=job.call_id, source=job.source)
            return None

    async def _attempt(self, job: RecordingState) -> RecordingState | None:
        """One try at the file; the state to save, or None when there is nothing to keep."""
        try:
            if job.status is RecordingStatus.STORED:
                return await self._retry_conversion(job)
            return await self._ingest(job)
        except StorageFull as exc:
            self.stats.storage_full_total += 1
            self._disk_full(True)
            log.error(
                "recordings_disk_full_alert",
                call_id=job.call_id,
                source=job.source,
                hint="free space in recordings.directory; the PBX's file is kept and retried",
            )
            return replace(job, error=str(exc), next_attempt_at=self._now() + self._delay(1))

    async def _ingest(self, job: RecordingState) -> RecordingState | None:
        try:
            src = local_path(job.source, self.settings.spool_map)
        except ValueError as exc:
            return self._give_up(job, str(exc))
        problem = await self._settled(src)
        if problem is None:
            try:
                stored = await self.store.ingest(
                    src,
                    call_id=job.call_id,
                    started_at=job.started_at,
                    keep_original=self.settings.keep_original,
                )
            except NotARecording as exc:  # it changed under us (replaced, removed)
                problem = exc
            else:
                return self._stored(job, stored)
        if not await asyncio.to_thread(src.exists):
            return self._later(job, f"file not found: {job.source} (read as {src})")
        if isinstance(problem, EmptyRecording):
            if job.attempts == 0 and job.error is None and not await self._known(job):
                log.info("recording_empty_skipped", call_id=job.call_id, source=job.source)
                return None  # nothing was said (a call that never connected): nothing to show
            return self._give_up(job, problem.reason)
        kept = await self.store.keep_unusable(src, call_id=job.call_id, started_at=job.started_at)
        self._disk_full(False)
        return replace(
            self._give_up(job, problem.reason if problem else "unusable"),
            storage_key=kept.key,
            sha256=kept.sha256,
            size_bytes=kept.size_bytes,
            format=kept.format,
            stored_at=self._now(),
        )

    async def _retry_conversion(self, job: RecordingState) -> RecordingState:
        assert job.storage_key is not None
        stored = StoredRecording(
            call_id=job.call_id,
            key=job.storage_key,
            path=self.store.path_of(job.storage_key),
            sha256=job.sha256 or "",
            duration_s=job.duration_s or 0.0,
            format=job.format or "wav",
            original_key=job.original_key or job.storage_key,
            peaks_key=None,
            converted=False,
            keep_original=self.settings.keep_original,
            size_bytes=job.size_bytes or 0,
        )
        if not await asyncio.to_thread(stored.path.exists):
            return self._give_up(job, f"stored original {job.storage_key} is missing")
        return self._stored(job, await self.store.retry(stored))

    def _stored(self, job: RecordingState, stored: StoredRecording) -> RecordingState:
        self._disk_full(False)
        state = replace(
            job,
            storage_key=stored.key,
            original_key=stored.original_key,
            peaks_key=stored.peaks_key,
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            duration_s=round(stored.duration_s, 3),
            format=stored.format,
            stored_at=job.stored_at or self._now(),
        )
        if stored.converted:
            self.stats.converted += 1
            return replace(state, status=RecordingStatus.CONVERTED, error=None, next_attempt_at=None)
        reason = f"conversion failed: {stored.conversion_error or 'unknown'}"
        return self._later(replace(state, status=RecordingStatus.STORED), reason)

    def _disk_full(self, full: bool) -> None:
        """Track the full-disk condition; tell the supervisors' board when it starts and ends."""
        if full == self.stats.storage_full:
            return
        self.stats.storage_full = full
        message = f"Recordings disk full ({self.store.root}): recordings wait on the PBX, free space"
        if not full:
            log.info("recordings_disk_ok_again", root=str(self.store.root))
        if self._on_alert is not None:
            try:
                self._on_alert(message if full else None)
            except Exception:
                log.exception("recordings_alert_failed")

    def _later(self, job: RecordingState, reason: str) -> RecordingState:
        """Count a failed attempt: try again after a backoff, or give up after the last one."""
        attempts = job.attempts + 1
        if attempts >= self.settings.max_attempts:
            return self._give_up(replace(job, attempts=attempts), reason)
        log.warning("recording_retry_scheduled", call_id=job.call_id, attempts=attempts, reason=reason)
        return replace(
            job, attempts=attempts, error=reason, next_attempt_at=self._now() + self._delay(attempts)
        )

    def _give_up(self, job: RecordingState, reason: str) -> RecordingState:
        self.stats.failed += 1
        log.error("recording_failed", call_id=job.call_id, source=job.source, reason=reason)
        return replace(job, status=RecordingStatus.FAILED, error=reason[:500], next_attempt_at=None)

    def _delay(self, attempts: int) -> timedelta:
        seconds = self.settings.retry_delay * 2 ** (attempts - 1)
        return min(timedelta(seconds=seconds), MAX_BACKOFF)

    async def _find(self, job: RecordingState) -> RecordingState | None:
        """The catalog's state of the file; a database that is down must not stop the file being stored."""
        try:
            return await self.catalog.find(job.pbx_id, job.call_id, job.source)
        except Exception as exc:
            log.warning("recording_catalog_unavailable", call_id=job.call_id, error=str(exc))
            return None

    async def _known(self, job: RecordingState) -> bool:
        return await self._find(job) is not None

    async def _settled(self, src: Path) -> NotARecording | None:
        """Wait up to ``file_wait`` for *src* to be a complete WAV (a mount may lag, Asterisk
        patches the header when it closes the file); return the last problem, or None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.file_wait
        pause = 0.05
        while True:
            try:
                await self.store.converter.run(probe_wav, src)
                return None
            except NotARecording as exc:
                problem = exc
            if self._closing.is_set() or loop.time() + pause > deadline:
                return problem
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), pause)
            pause = min(pause * 2, 1.0)

    async def _finish(self, state: RecordingState) -> None:
        """Write the sidecar, save to the catalog, link (now or soon), drop the PBX's copy if asked."""
        if state.storage_key is not None:
            path = self.store.path_of(sidecar_key(state.storage_key))
            try:
                await asyncio.to_thread(write_sidecar, path, state)
            except OSError as exc:  # the database still gets the facts; rescan needs the sidecar
                log.error("recording_sidecar_failed", key=state.storage_key, error=str(exc))
        linked = await self._save(state)
        if linked is None:
            return
        if not linked:
            self._link_soon(state.call_id)
        if (
            self.settings.remove_source
            and state.status in (RecordingStatus.STORED, RecordingStatus.CONVERTED)
            and state.sha256
        ):
            with contextlib.suppress(ValueError, OSError):
                await asyncio.to_thread(local_path(state.source, self.settings.spool_map).unlink)

    async def _save(self, state: RecordingState) -> bool | None:
        for attempt, pause in enumerate((*SAVE_PAUSES, None), start=1):
            try:
                return await self.catalog.save(state)
            except Exception as exc:
                if pause is None:
                    log.error(
                        "recording_catalog_failed",
                        call_id=state.call_id,
                        key=state.storage_key,
                        hint="the file and its sidecar are stored: `cti recordings rescan` recovers it",
                        exc_info=exc,
                    )
                    return None
                log.warning("recording_catalog_retry", call_id=state.call_id, attempt=attempt, error=str(exc))
                await asyncio.sleep(pause)
        return None

    def _link_soon(self, call_id: str) -> None:
        if call_id in self._linkers:
            return
        task = asyncio.create_task(self._link(call_id), name=f"recording-link:{call_id}")
        self._linkers[call_id] = task
        task.add_done_callback(lambda _t: self._linkers.pop(call_id, None))

    async def _link(self, call_id: str) -> None:
        """The call row is written at call end, maybe a moment after the file was ready."""
        for pause in LINK_PAUSES:
            await asyncio.sleep(pause)
            try:
                if await self.catalog.link(self.pbx_id, call_id):
                    log.info("recording_linked", call_id=call_id)
                    return
            except Exception as exc:
                log.warning("recording_link_retry", call_id=call_id, error=str(exc))
        log.info("recording_waits_for_call", call_id=call_id)
