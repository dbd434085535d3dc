"""Search the calls' recordings: the supervisor's console asks, this module answers in SQL.

The search is limited in SQL to the calls the principal may listen to (``call``/read: an agent sees
their own calls, a supervisor their department's, an admin all), so a search never reveals that
another's call exists; a principal without that right at all gets :class:`~crm_core.rights.Forbidden`.
Each hit says whether its file can be played yet and whether the principal may download it
(``call``/export on that call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from recordings.state import RecordingStatus

from .models import CallActivity, Company, Contact, Lead, Recording, User
from .rights import Action, Entity, Principal

__all__ = ["RecordingHit", "RecordingSearch", "agent_choices", "search_recordings"]

_PLAYABLE = frozenset({RecordingStatus.CONVERTED.value, RecordingStatus.STORED.value})


@dataclass(frozen=True, slots=True)
class RecordingSearch:
    """What to look for; an empty field does not filter."""

    start: date | None = None
    end: date | None = None
    "Both days included, each from midnight to midnight in *zone*."
    zone: tzinfo = UTC
    "Whose days: the office's zone, so '27 November' is the office's 27 November."
    agent_id: int | None = None
    "The call's responsible."
    number: str = ""
    "Digits of the external number, matched anywhere in it (``1234567`` finds ``+79161234567``)."
    direction: str = ""
    outcome: str = ""
    "The call's disposition: answered, missed, busy..."
    client: str = ""
    "Part of the contact's name, the company's title or the lead's title, in any case."
    recording_id: int | None = None
    "This one recording (the audit log links its entries here)."


def _utc(day: date, zone: tzinfo) -> datetime:
    """Midnight starting *day* in *zone*, in UTC (as the database keeps instants)."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RecordingHit:
    """One recording found, with what the principal may do with it."""

    id: int
    started_at: datetime
    direction: str
    disposition: str | None
    number: str | None
    agent: str | None
    client: str | None
    "The contact's name, else the company's title, else the lead's title."
    client_card: tuple[str, int] | None
    "That card as (kind, id), e.g. ('contact', 7)."
    talk_seconds: int
    duration_s: float | None
    playable: bool
    can_download: bool


async def search_recordings(
    session: AsyncSession, principal: Principal, search: RecordingSearch, *, offset: int, limit: int
) -> tuple[int, list[RecordingHit]]:
    """How many recordings match, and the page at *offset*, newest call first."""
    stmt = _statement(principal, search)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = stmt.order_by(CallActivity.started_at.desc(), Recording.id.desc()).offset(offset).limit(limit)
    hits = [
        RecordingHit(
            id=row.id,
            started_at=row.started_at,
            direction=row.direction,
            disposition=row.disposition,
            number=row.external_number,
            agent=row.agent,
            client=row.contact_name or row.company_title or row.lead_title,
            client_card=_client_card(row),
            talk_seconds=row.talk_seconds,
            duration_s=row.duration_s,
            playable=row.status in _PLAYABLE,
            can_download=principal.can(Entity.CALL, Action.EXPORT, row.responsible_id),
        )
        for row in await session.execute(page)
    ]
    return int(total or 0), hits


def _client_card(row: Any) -> tuple[str, int] | None:
    for kind, id, title in (
        ("contact", row.contact_id, row.contact_name),
        ("company", row.company_id, row.company_title),
        ("lead", row.lead_id, row.lead_title),
    ):
        if id is not None and title:
            return kind, id
    return None


async def agent_choices(session: AsyncSession) -> list[tuple[int, str]]:
    """The active users (id, name) by name: who the agent filter offers."""
    rows = await session.execute(
        select(User.id, User.name).where(User.is_active.is_(True)).order_by(User.name)
    )
    return [(id, name) for id, name in rows]


def _statement(principal: Principal, search: RecordingSearch) -> Select:
    contact, company, lead = aliased(Contact), aliased(Company), aliased(Lead)
    stmt = (
        select(
            Recording.id,
            Recording.status,
            Recording.duration_s,
            CallActivity.started_at,
            CallActivity.direction,
            CallActivity.disposition,
            CallActivity.external_number,
            CallActivity.talk_seconds,
            CallActivity.responsible_id,
            User.name.label("agent"),
            CallActivity.contact_id,
            CallActivity.company_id,
            CallActivity.lead_id,
            contact.name.label("contact_name"),
            company.title.label("company_title"),
            lead.title.label("lead_title"),
        )
        .join(CallActivity, Recording.call_pk == CallActivity.id)
        .outerjoin(User, User.id == CallActivity.responsible_id)
        .outerjoin(contact, contact.id == CallActivity.contact_id)
        .outerjoin(company, company.id == CallActivity.company_id)
        .outerjoin(lead, lead.id == CallActivity.lead_id)
        .where(principal.visible(Entity.CALL, Action.READ, CallActivity.responsible_id))
    )
    if search.start is not None:
        stmt = stmt.where(CallActivity.started_at >= _utc(search.start, search.zone))
    if search.end is not None:
        end = _utc(search.end + timedelta(days=1), search.zone)
        stmt = stmt.where(CallActivity.started_at < end)
    if search.agent_id is not None:
        stmt = stmt.where(CallActivity.responsible_id == search.agent_id)
    if search.recording_id is not None:
        stmt = stmt.where(Recording.id == search.recording_id)
    if search.number:
        stmt = stmt.where(CallActivity.external_number.contains(search.number, autoescape=True))
    if search.direction:
        stmt = stmt.where(CallActivity.direction == search.direction)
    if search.outcome:
        stmt = stmt.where(CallActivity.disposition == search.outcome)
    if search.client:
        pattern = f"%{search.client.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(contact.name).like(pattern),
                func.lower(company.title).like(pattern),
                func.lower(lead.title).like(pattern),
            )
        )
    return stmt
