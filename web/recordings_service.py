"""The recordings part of the daemon: composes the store, the pipeline and the CRM catalog.

``recordings`` knows no database and ``crm_core`` no bus subscription; this module (the web layer
composes everything) wires the pipeline to the bus subscription "recordings", runs its sweeper,
and runs retention once a day. The supervisors' board shows a full recordings disk as an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from crm_core.recording_retention import apply_retention
from crm_core.recordings import SqlRecordingCatalog
from cti.bus import Subscription
from recordings.convert import Converter
from recordings.pipeline import RecordingPipeline
from recordings.store import RecordingStore

from . import keys

__all__ = ["RETENTION_EVERY", "RecordingsService", "make_store"]

log = structlog.get_logger(__name__)

RETENTION_EVERY = 24 * 3600.0
"Seconds between two retention runs; the first runs this long after start-up is settled."
RETENTION_FIRST = 300.0
"Seconds after start-up before the first retention run (start-up stays quick)."
DRAIN_TIMEOUT = 30.0
"Seconds the files in progress get to finish at shutdown; the sweep resumes the rest next start."
ALERT_KEY = "recordings_storage_full"


def make_store(settings: Settings) -> RecordingStore:
    """The recordings store as the settings describe it (daemon and CLI share this)."""
    rec = settings.recordings
    return RecordingStore(rec.directory, Converter(rec.workers, bitrate=rec.bitrate, format=rec.format))


class RecordingsService:
    """Own the pipeline and its background tasks for the daemon's lifetime."""

    def __init__(self, app: web.Application) -> None:
        settings = app[keys.SETTINGS]
        self._app = app
        self._settings = settings
        self._sessionmaker: async_sessionmaker[AsyncSession] = app[keys.DB]
        self.store = make_store(settings)
        self.pipeline = RecordingPipeline(
            self.store,
            SqlRecordingCatalog(self._sessionmaker),
            pbx_id=settings.pbx.id,
            settings=settings.recordings,
            on_alert=self._alert,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, subscription: Subscription) -> None:
        """Consume the subscription, sweep retries, and run retention daily, each in its own task."""
        self._tasks = [
            asyncio.create_task(self.pipeline.run(subscription), name="recordings"),
            asyncio.create_task(self.pipeline.run_sweeper(), name="recordings-sweeper"),
            asyncio.create_task(self._retention_daily(), name="recordings-retention"),
        ]

    async def stop(self, subscription: Subscription) -> None:
        """Stop the tasks, start the files still queued (the PBX stopped first), let them finish."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while subscription.pending:
            self.pipeline.handle(subscription.get_nowait())
        await self.pipeline.close(DRAIN_TIMEOUT)

    async def run_retention(self) -> int:
        """One retention run as the daemon; return how many recordings it deleted."""
        async with self._sessionmaker() as session:
            report = await apply_retention(
                session,
                self.store,
                self._settings.recordings.retention,
                now=datetime.now(UTC),
                actor="retention",
            )
        log.info("recordings_retention_done", deleted=len(report.expired), held=report.held)
        return len(report.expired)

    async def _retention_daily(self) -> None:
        if not self._settings.recordings.retention:
            return
        await asyncio.sleep(RETENTION_FIRST)
        while True:
            try:
                await self.run_retention()
            except Exception:
                log.exception("recordings_retention_failed")
            await asyncio.sleep(RETENTION_EVERY)

    def _alert(self, message: str | None) -> None:
        board = self._app.get(keys.BOARD)
        if board is None:
            return
        if message is None:
            board.alerts.pop(ALERT_KEY, None)
        else:
            board.alerts[ALERT_KEY] = message
