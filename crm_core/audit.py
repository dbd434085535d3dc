"""Write and read the audit trail (who did what, when). Callers own the session and its commit.

An entry is added in the same transaction as the change it records, so the trail never names a
change that was rolled back, nor misses one that was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry

__all__ = ["AuditRecord", "entries", "record"]

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


def _out(entry: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=entry.id,
        at=entry.at,
        user_id=entry.user_id,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        details=dict(entry.details),
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
