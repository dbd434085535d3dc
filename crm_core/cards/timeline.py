"""One card's timeline: its activities, the calls logged on it and its call-back tasks, newest first.

Three sources, because they are written by different parts (people, the call log, missed-call
handling); each is read newest first up to the page's end and the results merged, so a page costs
three indexed queries plus one for the calls' recordings, whatever the card's history.

Rights: the card must be readable. Activities and tasks on it are shown to whoever may read the
card; calls and their recordings follow the ``call`` rights (an agent sees only calls they had), so
a colleague's recording never leaks through a shared card.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Activity, ActivityBinding, CallActivity, Recording, Task
from ..rights import Action, Entity, Forbidden, Principal
from .cardref import require_card
from .errors import BadValue

__all__ = ["TimelineItem", "timeline"]

MAX_PAGE = 200


class TimelineItem(BaseModel):
    """One entry of a card's history."""

    source: Literal["activity", "call", "task"]
    "Where it lives: an activity, a logged call (``call`` table), a call-back task."
    id: int
    kind: str
    "call, meeting, task or note."
    at: datetime
    subject: str
    completed: bool
    responsible_id: int | None
    details: dict[str, Any]
    "For calls: direction, number, disposition, talk seconds, who answered, recording ids."


_CALL_COLUMN = {
    "lead": CallActivity.lead_id,
    "contact": CallActivity.contact_id,
    "company": CallActivity.company_id,
}
_TASK_COLUMN = {"lead": Task.lead_id, "contact": Task.contact_id, "company": Task.company_id}


async def timeline(
    session: AsyncSession, principal: Principal, kind: str, card_id: int, *, offset: int = 0, limit: int = 50
) -> list[TimelineItem]:
    """The card's history, newest first; raises ``NotFound``/``Forbidden`` for a card out of reach."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadValue("limit", limit, f"limit must be 1..{MAX_PAGE} and offset 0 or more")
    await require_card(session, principal, kind, card_id)
    end = offset + limit
    items = await _activities(session, kind, card_id, end)
    if kind in _CALL_COLUMN:
        items += await _calls(session, principal, _CALL_COLUMN[kind] == card_id, end)
        items += await _tasks(session, _TASK_COLUMN[kind] == card_id, end)
    items.sort(key=lambda item: (item.at, item.source, item.id), reverse=True)
    return items[offset:end]


async def _activities(session: AsyncSession, kind: str, card_id: int, end: int) -> list[TimelineItem]:
    rows = await session.scalars(
        select(Activity)
        .join(ActivityBinding, ActivityBinding.activity_id == Activity.id)
        .where(ActivityBinding.owner_type == kind, ActivityBinding.owner_id == card_id)
        .order_by(Activity.start_at.desc(), Activity.id.desc())
        .limit(end)
    )
    return [
        TimelineItem(
            source="activity",
            id=a.id,
            kind=a.kind,
            at=a.start_at,
            subject=a.subject,
            completed=a.completed,
            responsible_id=a.responsible_id,
            details={
                "description": a.description,
                "direction": a.direction,
                "end_at": a.end_at,
                "call_pk": a.call_pk,
            },
        )
        for a in rows
    ]


async def _calls(session: AsyncSession, principal: Principal, on_card: Any, end: int) -> list[TimelineItem]:
    try:
        visible = principal.visible(Entity.CALL, Action.READ, CallActivity.responsible_id)
    except Forbidden:
        return []
    calls = list(
        await session.scalars(
            select(CallActivity)
            .where(on_card, visible)
            .order_by(CallActivity.started_at.desc(), CallActivity.id.desc())
            .limit(end)
        )
    )
    recordings: dict[int, list[int]] = defaultdict(list)
    if calls:
        rows = await session.execute(
            select(Recording.call_pk, Recording.id)
            .where(Recording.call_pk.in_([c.id for c in calls]))
            .order_by(Recording.id)
        )
        for call_pk, recording_id in rows:
            recordings[call_pk].append(recording_id)
    return [
        TimelineItem(
            source="call",
            id=c.id,
            kind="call",
            at=c.started_at,
            subject=_call_subject(c),
            completed=True,
            responsible_id=c.responsible_id,
            details={
                "direction": c.direction,
                "number": c.external_number,
                "disposition": c.disposition,
                "talk_seconds": c.talk_seconds,
                "answered_by": c.answered_by,
                "recording_ids": recordings[c.id],
            },
        )
        for c in calls
    ]


def _call_subject(call: CallActivity) -> str:
    way = {"inbound": "Incoming", "outbound": "Outgoing"}.get(call.direction, "Internal")
    return f"{way} call {call.external_number or ''}".strip()


async def _tasks(session: AsyncSession, on_card: Any, end: int) -> list[TimelineItem]:
    rows = await session.scalars(
        select(Task).where(on_card).order_by(Task.created_at.desc(), Task.id.desc()).limit(end)
    )
    return [
        TimelineItem(
            source="task",
            id=t.id,
            kind="task",
            at=t.created_at,
            subject=t.title,
            completed=t.done,
            responsible_id=t.responsible_id,
            details={"description": t.description, "due_at": t.due_at, "call_pk": t.call_pk},
        )
        for t in rows
    ]
