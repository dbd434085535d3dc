"""Write and read the audit trail (who did what, when). Callers own the session and its commit.

An entry is added in the same transaction as the change it records, so the trail never names a
change that was rolled back, nor misses one that was committed. The admin's viewer pages through
it with :func:`search_audit`, newest first in a stable order (by id), so paging never skips or
repeats an entry written meanwhile at the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry

__all__ = [
    "AuditRecord",
    "AuditSearch",
    "action_names",
    "actor_names",
    "entries",
    "record",
    "search_audit",
]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An audit entry as the outside sees it (no ORM object leaves crm_core)."""

    id: int
    at: datetime
    user_id: int | None
    actor: str
    action: str
    target: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditSearch:
    """Which entries the viewer wants; an empty field does not filter."""

    action: str = ""
    "The whole action or its family: ``recording`` finds ``recording.listen``, not ``recordingx.a``."
    actor: str = ""
    "The actor's login, so the entries of a deleted user (``user_id`` now NULL) are still found."


def _out(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        user_id=entry.user_id,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        details=dict(entry.details or {}),
    )


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor: str,
    target: str = "",
    user_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Add one entry to *session*'s transaction (flushed, not committed) and return it."""
    entry = AuditEntry(
        action=action, actor=actor, target=target, user_id=user_id, details=dict(details or {})
    )
    session.add(entry)
    await session.flush()
    log.info("audit_recorded", action=action, actor=actor, target=target, user_id=user_id)
    return _out(entry)


async def entries(
    session: AsyncSession, *, action_prefix: str | None = None, limit: int = 100
) -> list[AuditRecord]:
    """The newest entries first, optionally only actions starting with *action_prefix*."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action_prefix:
        stmt = stmt.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
    return [_out(entry) for entry in await session.scalars(stmt)]


async def search_audit(
    session: AsyncSession, search: AuditSearch, *, offset: int, limit: int
) -> tuple[int, list[AuditRecord]]:
    """How many entries match, and the page at *offset*, newest first."""
    stmt = select(AuditEntry)
    if search.action:
        stmt = stmt.where(
            or_(
                AuditEntry.action == search.action,
                AuditEntry.action.startswith(f"{search.action}.", autoescape=True),
            )
        )
    if search.actor:
        stmt = stmt.where(AuditEntry.actor == search.actor)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.scalars(stmt.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    return int(total or 0), [_out(entry) for entry in found]


async def action_names(session: AsyncSession) -> list[str]:
    """Every action the trail holds, sorted (the viewer's action filter offers them)."""
    return list(await session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


async def actor_names(session: AsyncSession) -> list[str]:
    """Every actor the trail names, sorted (the viewer's user filter offers them)."""
    return list(await session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))
