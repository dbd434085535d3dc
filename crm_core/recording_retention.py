"""Retention of recordings: per direction / per line policies, legal holds, every deletion audited.

A call's recordings are kept for the days of the first policy whose conditions all match the call
(``direction``, ``did``); no match keeps them forever. A call on legal hold is never touched. A
recording with no call (its call was never logged) matches only a policy without conditions, aged
from when we stored it. Each deletion removes the files first and then the row with its audit
entry in one transaction, so a row never outlives a commit that says it was deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import RetentionPolicy
from recordings.sidecar import sidecar_key
from recordings.store import RecordingStore

from . import audit
from .errors import NotFound
from .models import CallActivity, Recording

__all__ = ["RetentionReport", "apply_retention", "policy_days", "set_legal_hold"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Expired:
    recording_id: int
    call_id: str | None
    storage_key: str | None
    age_days: int
    policy_days: int


@dataclass(slots=True)
class RetentionReport:
    """What a retention run deleted (or, dry, would delete) and what it spared for a hold."""

    dry_run: bool
    expired: list[Expired] = field(default_factory=list)
    held: int = 0
    "Recordings past their policy that a legal hold kept."


def policy_days(policies: Sequence[RetentionPolicy], direction: str | None, did: str | None) -> int | None:
    """Days to keep a call's recordings: the first policy that matches, None for "forever"."""
    for policy in policies:
        if policy.direction is not None and policy.direction != direction:
            continue
        if policy.did is not None and policy.did != did:
            continue
        return policy.days
    return None


async def apply_retention(
    session: AsyncSession,
    store: RecordingStore,
    policies: Sequence[RetentionPolicy],
    *,
    now: datetime,
    actor: str,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete every recording past its policy (files, row, audit entry); commits per recording."""
    report = RetentionReport(dry_run=dry_run)
    if not policies:
        return report
    # Nothing younger than the shortest policy can be due: let the database skip it.
    oldest = now - timedelta(days=min(p.days for p in policies))
    result = await session.execute(
        select(Recording, CallActivity)
        .outerjoin(CallActivity, Recording.call_pk == CallActivity.id)
        .where(func.coalesce(CallActivity.started_at, Recording.created_at) < oldest)
        .order_by(Recording.id)
    )
    candidates = []
    for row, call in result:
        if call is not None:
            days = policy_days(policies, call.direction, call.did)
            born = call.started_at
        else:  # no call to match: only a policy without conditions applies
            days = policy_days(policies, None, None)
            born = row.created_at
        if days is None or now - born < timedelta(days=days):
            continue
        if call is not None and call.legal_hold:
            report.held += 1
            continue
        age = (now - born).days
        call_id = row.call_id or (call.call_id if call is not None else None)
        candidates.append((row, Expired(row.id, call_id, row.storage_key, age, days)))
    for row, expired in candidates:
        report.expired.append(expired)
        if dry_run:
            continue
        keys = [row.storage_key, row.original_key, row.peaks_key]
        keys += [sidecar_key(k) for k in keys[:1] if k]
        removed = await store.delete(keys)
        await session.delete(row)
        await audit.record(
            session,
            action="recording.delete",
            actor=actor,
            target=f"recording:{expired.recording_id}",
            details={
                "call_id": expired.call_id,
                "reason": "retention",
                "policy_days": expired.policy_days,
                "age_days": expired.age_days,
                "files": removed,
            },
        )
        await session.commit()
        log.info(
            "recording_expired", recording_id=expired.recording_id, call_id=expired.call_id, files=removed
        )
    return report


async def set_legal_hold(
    session: AsyncSession, *, pbx_id: str, call_id: str, hold: bool, actor: str, user_id: int | None = None
) -> bool:
    """Put the call on legal hold (or release it), audited; False when it already was so.

    Raises :class:`NotFound` when no such call is logged. The caller commits.
    """
    call = await session.scalar(
        select(CallActivity).where(CallActivity.pbx_id == pbx_id, CallActivity.call_id == call_id)
    )
    if call is None:
        raise NotFound("call", f"{pbx_id}/{call_id}")
    if call.legal_hold == hold:
        return False
    call.legal_hold = hold
    await audit.record(
        session,
        action="recording.hold" if hold else "recording.release",
        actor=actor,
        user_id=user_id,
        target=f"call:{call.id}",
        details={"pbx_id": pbx_id, "call_id": call_id},
    )
    log.info("legal_hold_changed", call_id=call_id, hold=hold, actor=actor)
    return True
