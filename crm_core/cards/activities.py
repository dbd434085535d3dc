"""Activities (calls, meetings, tasks, notes) bound to one or several cards.

Rights follow the activity's responsible user (entity ``activity``); in addition, binding an
activity to a card takes the right to read that card, so nobody attaches notes to cards they
cannot see. Changing the bindings replaces them as a set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import Activity, ActivityBinding, ActivityKind
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from .base import check_user
from .cardref import require_card
from .errors import BadValue
from .schemas import ActivityCreate, ActivityOut, ActivityUpdate, Binding

__all__ = ["ActivitiesResource", "bind"]

log = structlog.get_logger(__name__)


async def bind(session: AsyncSession, activity_ids: Sequence[int], owner_type: str, owner_id: int) -> int:
    """Also show the activities *activity_ids* on the card; return how many bindings were added."""
    if not activity_ids:
        return 0
    have = set(
        await session.scalars(
            select(ActivityBinding.activity_id).where(
                ActivityBinding.activity_id.in_(activity_ids),
                ActivityBinding.owner_type == owner_type,
                ActivityBinding.owner_id == owner_id,
            )
        )
    )
    new = [a for a in dict.fromkeys(activity_ids) if a not in have]
    session.add_all(ActivityBinding(activity_id=a, owner_type=owner_type, owner_id=owner_id) for a in new)
    await session.flush()
    return len(new)


class ActivitiesResource:
    entity: ClassVar[Entity] = Entity.ACTIVITY
    path: ClassVar[str] = "activities"
    schema_out = ActivityOut
    schema_create = ActivityCreate
    schema_update = ActivityUpdate
    filterable: ClassVar = {
        "id": int,
        "kind": ActivityKind,
        "subject": str,
        "completed": bool,
        "responsible_id": int,
        "start_at": datetime,
        "end_at": datetime,
        "call_pk": int,
    }
    sortable: ClassVar = ("id", "start_at", "end_at", "created_at")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[ActivityOut]:
        """Visible activities; ``owner=contact:5`` keeps those bound to one card."""
        stmt = select(Activity).where(
            principal.visible(Entity.ACTIVITY, Action.READ, Activity.responsible_id)
        )
        filters = dict(query.filters)
        owner = filters.pop("owner", None)
        if owner is not None:
            kind, _, id_text = owner.partition(":")
            if not id_text.isdigit() or kind not in ("lead", "contact", "company", "deal"):
                raise BadValue("owner", owner, f"{owner!r} is not written kind:id (e.g. contact:5)")
            stmt = stmt.where(
                Activity.id.in_(
                    select(ActivityBinding.activity_id).where(
                        ActivityBinding.owner_type == kind, ActivityBinding.owner_id == int(id_text)
                    )
                )
            )
        rest = ListQuery(filters=filters, sort=query.sort, offset=query.offset, limit=query.limit)
        rows, total = await fetch_page(
            session, stmt, Activity, rest, filterable=self.filterable, sortable=self.sortable
        )
        return Page(
            items=[ActivityOut.model_validate(r) for r in rows],
            total=total,
            offset=query.offset,
            limit=query.limit,
        )

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> ActivityOut:
        return ActivityOut.model_validate(await self._row(session, principal, id, Action.READ))

    async def create(self, session: AsyncSession, principal: Principal, data: ActivityCreate) -> ActivityOut:
        responsible_id = data.responsible_id if data.responsible_id is not None else principal.user_id
        principal.require(Entity.ACTIVITY, Action.ADD, responsible_id)
        await check_user(session, "responsible_id", responsible_id)
        _check_times(data.start_at, data.end_at)
        bindings = await _checked_bindings(session, principal, data.bindings)
        activity = Activity(
            kind=data.kind,
            subject=data.subject,
            description=data.description,
            direction=data.direction,
            start_at=data.start_at,
            end_at=data.end_at,
            completed=data.completed,
            responsible_id=responsible_id,
            created_by_id=principal.user_id,
            bindings=[ActivityBinding(owner_type=b.owner_type, owner_id=b.owner_id) for b in bindings],
        )
        session.add(activity)
        await session.flush()
        log.info("activity_created", id=activity.id, kind=activity.kind, by=principal.login)
        return ActivityOut.model_validate(activity)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: ActivityUpdate
    ) -> ActivityOut:
        activity = await self._row(session, principal, id, Action.UPDATE)
        changes = data.model_dump(exclude_unset=True)
        bindings = changes.pop("bindings", None)
        for required in ("subject", "start_at", "completed", "description"):
            if required in changes and changes[required] is None:
                raise BadValue(required, None, "cannot be empty")
        if "responsible_id" in changes:
            await check_user(session, "responsible_id", changes["responsible_id"])
        _check_times(changes.get("start_at", activity.start_at), changes.get("end_at", activity.end_at))
        for key, value in changes.items():
            setattr(activity, key, value)
        if bindings is not None:
            wanted = await _checked_bindings(session, principal, data.bindings or [])
            keep = {(b.owner_type, b.owner_id): b for b in activity.bindings}
            activity.bindings = [
                keep.get((b.owner_type, b.owner_id))
                or ActivityBinding(owner_type=b.owner_type, owner_id=b.owner_id)
                for b in wanted
            ]
        await session.flush()
        return ActivityOut.model_validate(activity)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        activity = await self._row(session, principal, id, Action.DELETE)
        await session.delete(activity)
        await session.flush()

    async def _row(self, session: AsyncSession, principal: Principal, id: int, action: Action) -> Activity:
        activity = await session.get(Activity, id)
        if activity is None:
            raise NotFound("activity", id)
        principal.require(Entity.ACTIVITY, action, activity.responsible_id)
        return activity


def _check_times(start_at: datetime, end_at: datetime | None) -> None:
    if end_at is not None and end_at < start_at:
        raise BadValue("end_at", end_at.isoformat(), "ends before it starts")


async def _checked_bindings(
    session: AsyncSession, principal: Principal, bindings: Sequence[Binding]
) -> list[Binding]:
    """The bindings without repeats, each card existing and readable by the principal."""
    unique = list(dict.fromkeys(bindings))
    for binding in unique:
        await require_card(session, principal, binding.owner_type, binding.owner_id)
    return unique
