"""Apply a dialplan: the one path the CLI, SIGHUP and the web editor all go through.

Every apply validates first (an invalid text changes nothing), then, holding a lock, records the
version and writes the file, and only then swaps the running plan. The order inside the lock:

1. open a transaction; insert the version row and its audit entry (flushed, not committed);
2. replace the file atomically (temp file in the same directory, fsync, ``os.replace``, fsync dir);
3. commit; if the commit fails, put the previous file back and re-raise;
4. swap the running plan (memory only: it cannot fail).

A database that refuses the row fails at step 1, before the file is touched. A crash after step 2
and before step 3 leaves a file newer than the history: the next start sees a file that is not the
latest version, runs it (the file is what the admin sees) and records it as a ``startup`` version
with a loud ``dialplan_file_not_in_history`` warning, so the two never disagree silently. A crash
after step 3 simply restarts with the new file. The running plan never gets ahead of the file or
the history, because it swaps last.

The lock is an ``asyncio.Lock`` (one apply at a time in this daemon) plus ``flock`` on the file's
directory (one at a time across processes: ``cti dialplan apply`` beside the daemon). The locked
part runs shielded, so a cancelled request cannot stop an apply between its file write and commit.
The file writes and the directory lock themselves are in :mod:`config.files`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.dialplan import DialplanError, Issue, parse_dialplan
from config.dialplan_spec import DialplanSpec
from config.files import DirectoryBusy, lock_directory, replace_file, restore_file, unlock_directory
from config.settings import Settings
from crm_core import audit, dialplans
from crm_core.dialplans import VersionInfo
from crm_core.models import DialplanSource
from cti.plan import PlanSnapshot, RunningPlan, text_sha256
from cti.routing import CallFacts, call_facts

__all__ = [
    "ApplyResult",
    "DialplanBusy",
    "DialplanInvalid",
    "DialplanService",
    "PlanChanged",
    "is_warning",
    "sample_call",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")

LOCK_TIMEOUT = 30.0
"Seconds an apply waits for another process's apply before giving up."


class DialplanInvalid(Exception):
    """The text did not validate; nothing changed. ``issues`` say where and why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues) or "the dialplan is not valid")
        self.issues = list(issues)


class PlanChanged(Exception):
    """The running plan is no longer the one the editor started from (someone applied meanwhile)."""

    def __init__(self, running_version: int | None) -> None:
        who = f"version {running_version}" if running_version is not None else "another plan"
        super().__init__(f"someone applied {who} meanwhile: review the diff against it, then apply again")
        self.running_version = running_version


class DialplanBusy(Exception):
    """Another process held the dialplan lock for too long."""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply did."""

    outcome: Literal["applied", "reloaded", "unchanged"]
    """``applied``: a new version; ``reloaded``: the latest version, now running here (no new row,
    e.g. after ``cti dialplan apply``); ``unchanged``: this text was already running."""
    version: int | None
    sha256: str
    warnings: tuple[Issue, ...] = ()

    @property
    def message(self) -> str:
        name = f"version {self.version}" if self.version is not None else "this plan"
        if self.outcome == "applied":
            return f"applied version {self.version}"
        if self.outcome == "reloaded":
            return f"{name} is running now"
        return f"already running ({name})"


def is_warning(issue: Issue) -> bool:
    """True for an issue that does not stop the plan from being applied."""
    return str(issue.severity).lower() == "warning"


def sample_call(
    spec: DialplanSpec, caller: str, dialled: str, *, at: datetime | None = None, trunk: str | None = None
) -> CallFacts:
    """Facts for "explain a call": *at* default now, naive in the plan's zone; *trunk* default
    the one carrying the dialled DID when the caller is not one of our extensions."""
    facts = call_facts(spec, caller, dialled, at if at is not None else datetime.now(spec.zone()))
    return dataclasses.replace(facts, trunk=trunk) if trunk else facts


class DialplanService:
    """Validate, diff, apply and roll back the dialplan file, its history and the running plan."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        running: RunningPlan,
        settings: Settings,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self._sessionmaker = sessionmaker
        self.running = running
        self.path = Path(settings.dialplan)
        self._lock = asyncio.Lock()
        self._lock_timeout = lock_timeout
        self._inflight: set[asyncio.Task[Any]] = set()

    # Reading -----------------------------------------------------------------------------------

    def validate(self, text: str, *, path: str | None = None) -> tuple[DialplanSpec | None, list[Issue]]:
        """Parse and check *text*: (the spec, its warnings), or (None, every issue found)."""
        name = path or str(self.path)
        try:
            spec, warnings = parse_dialplan(text, path=name)
        except DialplanError as exc:
            return None, list(exc.issues)
        except Exception as exc:  # a checker bug must not take the daemon or the editor down
            log.exception("dialplan_validator_crashed", path=name)
            return None, [Issue(name, 0, 0, f"the validator failed ({type(exc).__name__}: {exc})")]
        return spec, list(warnings)

    def diff(self, text: str) -> str:
        """Unified diff from the running plan to *text* ("" when they are the same)."""
        current = self.running.current
        running = f"{self.path} (running, version {current.version})"
        lines = difflib.unified_diff(
            current.text.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=running,
            tofile=f"{self.path} (edited)",
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )

    async def history(self, limit: int = 50) -> list[VersionInfo]:
        """The newest applied versions first (without their texts)."""
        async with self._sessionmaker() as session:
            return await dialplans.list_versions(session, limit=limit)

    async def version(self, version_id: int) -> VersionInfo:
        """One applied version with its text (``crm_core.errors.NotFound`` when unknown)."""
        async with self._sessionmaker() as session:
            return await dialplans.get_version(session, version_id)

    # Changing ----------------------------------------------------------------------------------

    async def apply(
        self,
        text: str,
        *,
        actor: str,
        source: str,
        user_id: int | None = None,
        comment: str = "",
        expected_sha: str | None = None,
        rolled_back_from: int | None = None,
        path: str | None = None,
    ) -> ApplyResult:
        """Validate *text*, record it, write the file and run it; nothing changes if any step fails.

        Raises DialplanInvalid (errors), PlanChanged (*expected_sha* given and no longer running),
        DialplanBusy, or whatever the database or the disk raised (the previous state is kept).
        *path* only names the text in issues (default: the dialplan file).
        """
        spec, issues = self.validate(text, path=path)
        if spec is None:
            log.warning(
                "dialplan_rejected", source=source, actor=actor, issues=[str(issue) for issue in issues]
            )
            raise DialplanInvalid(issues)

        async def locked() -> ApplyResult:
            async with self._locked():
                return await self._apply_locked(
                    spec,
                    text,
                    warnings=issues,
                    actor=actor,
                    source=source,
                    user_id=user_id,
                    comment=comment,
                    expected_sha=expected_sha,
                    rolled_back_from=rolled_back_from,
                )

        return await self._shielded(locked())

    async def apply_file(self, *, actor: str, source: str, comment: str = "") -> ApplyResult:
        """Apply what the dialplan file says now (SIGHUP, ``cti dialplan apply`` without FILE).

        The file is read under the lock, so an apply that finished meanwhile is not undone.
        """

        async def locked() -> ApplyResult:
            async with self._locked():
                text = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
                spec, issues = self.validate(text)
                if spec is None:
                    log.warning(
                        "dialplan_rejected",
                        source=source,
                        actor=actor,
                        issues=[str(issue) for issue in issues],
                    )
                    raise DialplanInvalid(issues)
                return await self._apply_locked(
                    spec, text, warnings=issues, actor=actor, source=source, comment=comment
                )

        return await self._shielded(locked())

    async def rollback(
        self, version_id: int, *, actor: str, user_id: int | None = None, comment: str = ""
    ) -> ApplyResult:
        """Apply the text of an earlier version again, as a new version (source ``rollback``)."""
        old = await self.version(version_id)
        return await self.apply(
            old.text,
            actor=actor,
            source=DialplanSource.ROLLBACK,
            user_id=user_id,
            comment=comment or f"rollback to version {version_id}",
            rolled_back_from=version_id,
        )

    async def reload_file(self, *, actor: str = "sighup", source: str = DialplanSource.SIGHUP) -> bool:
        """Apply the file and log the outcome; never raise (the running plan stays on any error)."""
        try:
            result = await self.apply_file(actor=actor, source=source)
        except DialplanInvalid as exc:
            log.error(
                "dialplan_reload_rejected",
                path=str(self.path),
                issues=[str(issue) for issue in exc.issues],
                running_version=self.running.version,
            )
            return False
        except Exception as exc:
            log.error(
                "dialplan_reload_failed",
                path=str(self.path),
                error=type(exc).__name__,
                detail=str(exc),
                running_version=self.running.version,
            )
            return False
        log.info("dialplan_reloaded", outcome=result.outcome, version=result.version, source=source)
        return True

    async def load_at_startup(self) -> PlanSnapshot:
        """Run the file; if it is invalid or missing, the last applied version; else the empty plan.

        Never raises: the daemon must start, if need be with no plan (every problem is logged).
        A valid file that is not the latest version (edited by hand, or written by an apply that
        crashed before its commit) is recorded as a ``startup`` version.
        """
        async with self._locked(required=False):
            try:
                text: str | None = await asyncio.to_thread(self.path.read_text, encoding="utf-8")
            except FileNotFoundError:
                log.warning("dialplan_file_missing", path=str(self.path))
                text = None
            except (OSError, UnicodeDecodeError) as exc:
                log.error("dialplan_file_unreadable", path=str(self.path), error=str(exc))
                text = None
            if text is not None:
                spec, issues = self.validate(text)
                if spec is not None:
                    self._log_warnings(issues)
                    version = await self._record_startup(text)
                    return self.running.swap(spec, text, version)
                for issue in issues:
                    log.error("dialplan_file_error", issue=str(issue))
                log.error("dialplan_file_invalid", path=str(self.path), errors=len(issues))
            return await self._run_latest_version()

    async def close(self) -> None:
        """Wait for applies still running (a cancelled request's apply finishes first)."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    # The locked part ---------------------------------------------------------------------------

    async def _apply_locked(
        self,
        spec: DialplanSpec,
        text: str,
        *,
        warnings: list[Issue],
        actor: str,
        source: str,
        user_id: int | None = None,
        comment: str = "",
        expected_sha: str | None = None,
        rolled_back_from: int | None = None,
    ) -> ApplyResult:
        current = self.running.current
        sha = text_sha256(text)
        data = text.encode("utf-8")
        if sha == current.sha256:
            # The file may still differ (it was invalid at start-up): an apply always leaves it right.
            await asyncio.to_thread(replace_file, self.path, data)
            log.info("dialplan_unchanged", version=current.version, source=source, actor=actor)
            return ApplyResult("unchanged", current.version, sha, tuple(warnings))
        if expected_sha is not None and expected_sha != current.sha256:
            raise PlanChanged(current.version)
        async with self._sessionmaker() as session:
            latest = await dialplans.latest_version(session)
            if expected_sha is not None and latest is not None and latest.sha256 not in (expected_sha, sha):
                # Another process (`cti dialplan apply` not yet signalled here) recorded a newer plan
                # than the one this editor started from: do not silently replace it.
                raise PlanChanged(latest.id)
            if latest is not None and latest.sha256 == sha:
                # Recorded already, by another process (`cti dialplan apply` then SIGHUP): run it.
                await asyncio.to_thread(replace_file, self.path, data)
                self.running.swap(spec, text, latest.id)
                log.info("dialplan_reloaded_version", version=latest.id, source=source, actor=actor)
                return ApplyResult("reloaded", latest.id, sha, tuple(warnings))
            version = await dialplans.add_version(
                session,
                text=text,
                source=source,
                applied_by_name=actor,
                applied_by_id=user_id,
                comment=comment,
                rolled_back_from=rolled_back_from,
            )
            await audit.record(
                session,
                action="dialplan.rollback" if rolled_back_from is not None else "dialplan.apply",
                actor=actor,
                user_id=user_id,
                target=f"dialplan_version:{version.id}",
                details={
                    "source": source,
                    "sha256": sha,
                    "previous_version": latest.id if latest is not None else None,
                    "running_version": current.version,
                    "running_sha256": current.sha256,
                    "rolled_back_from": rolled_back_from,
                    "comment": comment,
                },
            )
            previous = await asyncio.to_thread(replace_file, self.path, data)
            try:
                await session.commit()
            except BaseException as exc:
                await self._restore(previous, exc)
                raise
        self.running.swap(spec, text, version.id)
        log.info(
            "dialplan_applied",
            version=version.id,
            source=source,
            actor=actor,
            user_id=user_id,
            sha256=sha[:12],
            warnings=len(warnings),
        )
        return ApplyResult("applied", version.id, sha, tuple(warnings))

    async def _restore(self, previous: bytes | None, cause: BaseException) -> None:
        try:
            await asyncio.to_thread(restore_file, self.path, previous)
        except Exception as exc:
            log.critical(
                "dialplan_file_restore_failed",
                path=str(self.path),
                error=str(exc),
                cause=type(cause).__name__,
                fix="the file holds the new text but the history does not: run `cti dialplan apply`",
            )
        else:
            log.error("dialplan_apply_rolled_back", path=str(self.path), cause=type(cause).__name__)

    async def _record_startup(self, text: str) -> int | None:
        """The version id of the file's text, recording it first if it is not the latest."""
        sha = text_sha256(text)
        try:
            async with self._sessionmaker() as session:
                latest = await dialplans.latest_version(session)
                if latest is not None and latest.sha256 == sha:
                    return latest.id
                if latest is not None:
                    log.warning("dialplan_file_not_in_history", path=str(self.path), latest_version=latest.id)
                version = await dialplans.add_version(
                    session,
                    text=text,
                    source=DialplanSource.STARTUP,
                    applied_by_name="startup",
                    comment="the file at start-up",
                )
                await audit.record(
                    session,
                    action="dialplan.apply",
                    actor="startup",
                    target=f"dialplan_version:{version.id}",
                    details={"source": DialplanSource.STARTUP.value, "sha256": sha},
                )
                await session.commit()
                return version.id
        except Exception as exc:  # the plan runs regardless; the history catches up at the next apply
            log.warning("dialplan_history_unavailable", error=type(exc).__name__, detail=str(exc))
            return None

    async def _run_latest_version(self) -> PlanSnapshot:
        try:
            async with self._sessionmaker() as session:
                latest = await dialplans.latest_version(session)
        except Exception as exc:
            log.warning("dialplan_history_unavailable", error=type(exc).__name__, detail=str(exc))
            latest = None
        if latest is not None:
            spec, issues = self.validate(latest.text, path=f"dialplan version {latest.id}")
            if spec is not None:
                log.warning("dialplan_running_last_applied", version=latest.id, path=str(self.path))
                return self.running.swap(spec, latest.text, latest.id)
            log.error(
                "dialplan_last_version_invalid",
                version=latest.id,
                issues=[str(issue) for issue in issues if not is_warning(issue)],
            )
        log.warning("dialplan_empty", path=str(self.path), note="no routes: every call is refused")
        return self.running.current

    def _log_warnings(self, issues: list[Issue]) -> None:
        for issue in issues:
            log.warning("dialplan_warning", issue=str(issue))

    @contextlib.asynccontextmanager
    async def _locked(self, *, required: bool = True) -> AsyncIterator[None]:
        """One change at a time, in this process and across processes.

        Not *required* (start-up, which must never fail): run without the file lock if it cannot
        be had (a read-only or missing directory, another process stuck holding it).
        """
        async with self._lock:
            fd: int | None
            try:
                fd = await self._flock(create=required)
            except (OSError, DialplanBusy) as exc:
                if required:
                    raise
                log.warning("dialplan_lock_unavailable", path=str(self.path), error=str(exc))
                fd = None
            try:
                yield
            finally:
                if fd is not None:
                    unlock_directory(fd)

    async def _flock(self, *, create: bool) -> int:
        """Lock the dialplan's directory against other processes (no stray lock file is needed)."""
        directory = self.path.resolve().parent
        try:
            return await lock_directory(directory, create=create, timeout=self._lock_timeout)
        except DirectoryBusy:
            raise DialplanBusy(f"another process is applying the dialplan ({directory})") from None

    async def _shielded(self, work: Coroutine[Any, Any, T]) -> T:
        """Run *work* to its end even if our caller is cancelled (a closed browser tab)."""
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(_forget(self._inflight))
        return await asyncio.shield(task)


def _forget(inflight: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        inflight.discard(task)
        # Retrieved here: when the caller was cancelled, nobody else awaits the outcome.
        if not task.cancelled() and task.exception() is not None:
            log.debug("dialplan_apply_outcome", error=type(task.exception()).__name__)

    return done
