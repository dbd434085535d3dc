"""Recordings in the database: the pipeline's catalog, linking to calls, and what serving needs.

A recording row appears in one of two orders, and both end in the same single linked row:

- the CRM logs the call first (``record_call`` adds a bare row per PBX path, ``call_pk`` set),
  then the pipeline fills that row in;
- the file is ready first: the pipeline saves an unlinked row on its natural key (pbx id, call
  id, PBX path), and linking later merges it into the bare row the call brought, or links it.

Functions take the caller's session and never commit; :class:`SqlRecordingCatalog` is the
pipeline's port, one short transaction per operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recordings.state import RecordingState, RecordingStatus

from .models import CallActivity, Recording

__all__ = [
    "RecordingAccess",
    "SqlRecordingCatalog",
    "find_recording",
    "link_call",
    "load_access",
    "save_recording",
    "state_of",
]

log = structlog.get_logger(__name__)

_RETRYABLE = (RecordingStatus.PENDING.value, RecordingStatus.STORED.value)


@dataclass(frozen=True, slots=True)
class RecordingAccess:
    """What serving a recording needs: its keys and status, and whose call it is."""

    id: int
    status: RecordingStatus
    storage_key: str | None
    peaks_key: str | None
    format: str | None
    call_pk: int | None
    call_id: str | None
    responsible_id: int | None
    "The call's owner (CallActivity.responsible_id); None for a file with no call yet."


def state_of(row: Recording, call: CallActivity | None) -> RecordingState:
    """The pipeline's view of a row (a bare row takes its natural key from its call)."""
    return RecordingState(
        pbx_id=row.pbx_id or (call.pbx_id if call is not None else ""),
        call_id=row.call_id or (call.call_id if call is not None else ""),
        source=row.path,
        started_at=call.started_at if call is not None else row.created_at,
        status=RecordingStatus(row.status),
        storage_key=row.storage_key,
        original_key=row.original_key,
        peaks_key=row.peaks_key,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        duration_s=row.duration_s,
        format=row.format,
        attempts=row.attempts,
        error=row.error,
        next_attempt_at=row.next_attempt_at,
        stored_at=row.stored_at,
    )


async def _call(session: AsyncSession, pbx_id: str, call_id: str) -> CallActivity | None:
    return await session.scalar(
        select(CallActivity).where(CallActivity.pbx_id == pbx_id, CallActivity.call_id == call_id)
    )


async def _rows(
    session: AsyncSession, pbx_id: str, call_id: str, source: str, call: CallActivity | None
) -> list[Recording]:
    """Rows of one file: ours on the natural key, and the bare row its logged call brought."""
    natural = and_(Recording.pbx_id == pbx_id, Recording.call_id == call_id, Recording.path == source)
    condition = (
        natural
        if call is None
        else or_(natural, and_(Recording.call_pk == call.id, Recording.path == source))
    )
    return list(await session.scalars(select(Recording).where(condition).order_by(Recording.id)))


async def find_recording(
    session: AsyncSession, pbx_id: str, call_id: str, source: str
) -> RecordingState | None:
    """The state of the PBX's file *source* of this call, if any row knows it."""
    call = await _call(session, pbx_id, call_id)
    rows = await _rows(session, pbx_id, call_id, source, call)
    if not rows:
        return None
    return state_of(_keeper(rows), call)


def _keeper(rows: list[Recording]) -> Recording:
    """The row to keep of several for one file: the linked one (the card may show its id)."""
    return next((r for r in rows if r.call_pk is not None), rows[0])


async def save_recording(session: AsyncSession, state: RecordingState) -> Recording:
    """Write *state* into the file's one row (created, merged or updated); link it if the call is logged."""
    call = await _call(session, state.pbx_id, state.call_id)
    rows = await _rows(session, state.pbx_id, state.call_id, state.source, call)
    row = _keeper(rows) if rows else None
    extra = [r.id for r in rows if r is not row]
    if extra:
        # The unlinked twin of a bare row (its facts are in *state*). A bulk delete, because a
        # linker running at the same time may have removed it already, and that is fine.
        await session.execute(delete(Recording).where(Recording.id.in_(extra)))
    if row is None:
        row = Recording(path=state.source)
        session.add(row)
    row.pbx_id = state.pbx_id
    row.call_id = state.call_id
    if call is not None:
        row.call_pk = call.id
    row.status = state.status.value
    row.storage_key = state.storage_key
    row.original_key = state.original_key
    row.peaks_key = state.peaks_key
    row.sha256 = state.sha256
    row.size_bytes = state.size_bytes
    row.duration_s = state.duration_s
    row.format = state.format
    row.attempts = state.attempts
    row.error = state.error
    row.next_attempt_at = state.next_attempt_at
    row.stored_at = state.stored_at
    await session.flush()
    return row


async def link_call(session: AsyncSession, pbx_id: str, call_id: str) -> bool:
    """Link the call's unlinked rows to its call row; False while the call is not logged."""
    call = await _call(session, pbx_id, call_id)
    if call is None:
        return False
    waiting = await session.scalars(
        select(Recording).where(
            Recording.pbx_id == pbx_id, Recording.call_id == call_id, Recording.call_pk.is_(None)
        )
    )
    for row in list(waiting):
        await save_recording(session, state_of(row, None))
    return True


class SqlRecordingCatalog:
    """The pipeline's catalog on the CRM database: one short transaction per call."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def find(self, pbx_id: str, call_id: str, source: str) -> RecordingState | None:
        async with self._sessionmaker() as session:
            return await find_recording(session, pbx_id, call_id, source)

    async def save(self, state: RecordingState) -> bool:
        try:
            return await self._save_once(state)
        except IntegrityError:
            # A concurrent writer (the call being logged right now) took the unique slot first;
            # the second try finds its row and merges into it.
            log.info("recording_save_race", call_id=state.call_id, source=state.source)
            return await self._save_once(state)

    async def _save_once(self, state: RecordingState) -> bool:
        async with self._sessionmaker() as session:
            row = await save_recording(session, state)
            linked = row.call_pk is not None
            await session.commit()
        return linked

    async def due(
        self, pbx_id: str, *, now: datetime, stale_before: datetime, limit: int
    ) -> list[RecordingState]:
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(Recording, CallActivity)
                .outerjoin(CallActivity, Recording.call_pk == CallActivity.id)
                .where(
                    func.coalesce(Recording.pbx_id, CallActivity.pbx_id) == pbx_id,
                    Recording.status.in_(_RETRYABLE),
                    or_(
                        Recording.next_attempt_at <= now,
                        and_(Recording.next_attempt_at.is_(None), Recording.created_at <= stale_before),
                    ),
                )
                .order_by(func.coalesce(Recording.next_attempt_at, Recording.created_at))
                .limit(limit)
            )
            return [state_of(row, call) for row, call in result]

    async def link(self, pbx_id: str, call_id: str) -> bool:
        async with self._sessionmaker() as session:
            linked = await link_call(session, pbx_id, call_id)
            await session.commit()
        return linked

    async def link_waiting(self, pbx_id: str) -> int:
        async with self._sessionmaker() as session:
            call_ids = list(
                await session.scalars(
                    select(Recording.call_id)
                    .join(
                        CallActivity,
                        and_(
                            CallActivity.pbx_id == Recording.pbx_id, CallActivity.call_id == Recording.call_id
                        ),
                    )
                    .where(Recording.pbx_id == pbx_id, Recording.call_pk.is_(None))
                    .distinct()
                )
            )
            for call_id in call_ids:
                if call_id is not None:
                    await link_call(session, pbx_id, call_id)
            await session.commit()
        return len(call_ids)


async def load_access(session: AsyncSession, recording_id: int) -> RecordingAccess | None:
    """The recording with its call's owner, or None when there is no such recording."""
    found = (
        await session.execute(
            select(Recording, CallActivity.responsible_id, CallActivity.call_id)
            .outerjoin(CallActivity, Recording.call_pk == CallActivity.id)
            .where(Recording.id == recording_id)
        )
    ).first()
    if found is None:
        return None
    row, responsible_id, call_id = found
    return RecordingAccess(
        id=row.id,
        status=RecordingStatus(row.status),
        storage_key=row.storage_key,
        peaks_key=row.peaks_key,
        format=row.format,
        call_pk=row.call_pk,
        call_id=call_id or row.call_id,
        responsible_id=responsible_id,
    )
