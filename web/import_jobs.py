"""Uploaded import files waiting for their mapping, and the imports running in the background.

An upload is read once (off the event loop: a big workbook takes seconds) and kept in memory as a
*draft* for an hour, so the mapping form, the dry run and the import all work on the same rows
without uploading again. A dry run or an import runs as a *job*: an asyncio task with its own
session, whose progress the page polls. Drafts and jobs belong to the user who made them; another
user asking for one gets "not found", never someone else's data.

This is one process's memory: a restart forgets drafts and unfinished jobs (an unfinished import
was never committed, so nothing is half-imported), and with several web nodes a user's requests
must reach the node that holds the upload (sticky sessions).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.access import load_principal
from crm_core.errors import CrmError
from crm_core.transfer.importer import DedupeMode, ImportReport, MatchKey, Progress, import_table
from crm_core.transfer.mapping import ColumnMapping, ImportKind
from crm_core.transfer.readers import SourceTable, read_table

__all__ = ["DRAFT_TTL", "MAX_DRAFTS_PER_USER", "SHOWN_ISSUES", "Draft", "ImportJob", "ImportJobs"]

log = structlog.get_logger(__name__)

DRAFT_TTL = 3600.0
"Seconds an uploaded file is kept for its mapping and import."
MAX_DRAFTS_PER_USER = 3
"A user's older uploads are dropped beyond this, which bounds the memory one user can hold."
MAX_JOBS_KEPT = 50
SHOWN_ISSUES = 500
"Bad and skipped rows a page or the progress endpoint lists (all of them are counted)."


@dataclass(slots=True)
class Draft:
    """One uploaded file, read, waiting for a mapping."""

    id: str
    user_id: int
    kind: ImportKind
    table: SourceTable
    created: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class ImportJob:
    """A dry run or an import in progress (or finished) for one user."""

    id: str
    user_id: int
    draft_id: str
    dry_run: bool
    state: str = "running"
    "running, done (the report says whether rows failed) or failed (``error`` says why)."
    progress: Progress | None = None
    report: ImportReport | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = None
    resubmit: list[tuple[str, str]] = field(default_factory=list)
    "The mapping form's fields, so a clean dry run's page can start the import with the same settings."

    def as_dict(self) -> dict[str, object]:
        """What the progress endpoint answers."""
        progress = self.progress
        return {
            "id": self.id,
            "state": self.state,
            "dry_run": self.dry_run,
            "phase": progress.phase if progress else "check",
            "done": progress.done if progress else 0,
            "total": progress.total if progress else 0,
            "error": self.error,
            "report": self.report.as_dict(limit=SHOWN_ISSUES) if self.report else None,
        }


class ImportJobs:
    """The drafts and jobs of this process."""

    def __init__(self) -> None:
        self._drafts: dict[str, Draft] = {}
        self._jobs: dict[str, ImportJob] = {}

    async def add_draft(self, user_id: int, kind: ImportKind, name: str, data: bytes) -> Draft:
        """Read *data* (CSV or .xlsx) in a worker thread and keep it; raises ``UnreadableFile``."""
        table = await asyncio.to_thread(read_table, name, data)
        self._forget_old(user_id)
        draft = Draft(id=secrets.token_urlsafe(12), user_id=user_id, kind=kind, table=table)
        self._drafts[draft.id] = draft
        log.info("import_uploaded", draft=draft.id, kind=kind.value, rows=len(table.rows), file=name)
        return draft

    def _forget_old(self, user_id: int) -> None:
        now = time.monotonic()
        for key, draft in list(self._drafts.items()):
            if now - draft.created > DRAFT_TTL:
                del self._drafts[key]
        mine = sorted((d for d in self._drafts.values() if d.user_id == user_id), key=lambda d: d.created)
        for draft in mine[: max(0, len(mine) - MAX_DRAFTS_PER_USER + 1)]:
            del self._drafts[draft.id]
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for job in finished[: max(0, len(finished) - MAX_JOBS_KEPT)]:
            del self._jobs[job.id]

    def draft(self, draft_id: str, user_id: int) -> Draft | None:
        draft = self._drafts.get(draft_id)
        return draft if draft is not None and draft.user_id == user_id else None

    def job(self, job_id: str, user_id: int) -> ImportJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    def start(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        draft: Draft,
        mapping: ColumnMapping,
        *,
        dedupe: DedupeMode,
        match_on: Sequence[MatchKey],
        dry_run: bool,
        region: str,
        own_numbers: Sequence[str] = (),
    ) -> ImportJob:
        """Run the dry run or the import of *draft* in the background; poll the returned job."""
        job = ImportJob(
            id=secrets.token_urlsafe(12), user_id=draft.user_id, draft_id=draft.id, dry_run=dry_run
        )

        def progress(value: Progress) -> None:
            job.progress = value

        async def run() -> None:
            try:
                async with sessionmaker() as session:
                    principal = await load_principal(session, draft.user_id)
                    job.report = await import_table(
                        session,
                        principal,
                        draft.table,
                        mapping,
                        dedupe=dedupe,
                        match_on=match_on,
                        dry_run=dry_run,
                        region=region,
                        own_numbers=own_numbers,
                        progress=progress,
                    )
                    if job.report.committed:
                        await session.commit()
                job.state = "done"
                if job.report.committed:
                    # Imported: the same rows must not be imported twice by a second click.
                    self._drafts.pop(draft.id, None)
            except CrmError as exc:
                job.state, job.error = "failed", str(exc)
                log.info("import_job_refused", job=job.id, error_id=exc.error_id)
            except Exception:
                job.state, job.error = "failed", "The import failed; nothing was imported."
                log.exception("import_job_crashed", job=job.id)

        job.task = asyncio.create_task(run(), name=f"import-{job.id}")
        self._jobs[job.id] = job
        return job

    async def close(self) -> None:
        """Cancel the running jobs (their transactions roll back: nothing half-imported)."""
        running = [job.task for job in self._jobs.values() if job.task is not None and not job.task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        self._drafts.clear()
