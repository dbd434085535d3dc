"""The supervisor's recordings console: GET /supervisor/recordings.

Search the calls' recordings by day, agent (the call's responsible), number, direction, outcome
and client (the contact's name or the company's title), newest first, with paging. The list is
limited in SQL to the calls the user may listen to (``call``/read: an agent sees their own calls, a
supervisor their department's, an admin all), so a search never reveals that another's call exists.
Each playable recording gets the browser's audio player on ``/recordings/{id}``, which checks the
right again on every (Range) request and writes the listen to the audit trail; the download link
is shown only with the ``call``/export right on that call, and ``?download=1`` checks it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from crm_core.access import load_principal
from crm_core.models import CallActivity, Company, Contact, Lead, Recording, User
from crm_core.rights import Action, Entity, Forbidden, Principal
from recordings.state import RecordingStatus

from .. import i18n, keys
from ..auth import csrf_token, login_required, request_user

__all__ = ["DIRECTIONS", "OUTCOMES", "PAGE_SIZE", "Filters", "recordings_console"]

log = structlog.get_logger(__name__)

PAGE_SIZE = 50
DIRECTIONS: Mapping[str, str] = {
    "inbound": i18n.N_("Inbound"),
    "outbound": i18n.N_("Outbound"),
    "internal": i18n.N_("Internal"),
}
OUTCOMES: Mapping[str, str] = {
    "answered": i18n.N_("Answered"),
    "missed": i18n.N_("Missed"),
    "busy": i18n.N_("Busy"),
    "failed": i18n.N_("Failed"),
    "abandoned": i18n.N_("Abandoned"),
}
_PLAYABLE = frozenset({RecordingStatus.CONVERTED.value, RecordingStatus.STORED.value})


@dataclass(frozen=True, slots=True)
class Filters:
    """The search form as the query string gave it (anything unusable is dropped, not guessed)."""

    start: date | None = None
    end: date | None = None
    "Both days included; days are UTC."
    agent_id: int | None = None
    number: str = ""
    "Digits of the external number, matched anywhere in it (``1234567`` finds ``+79161234567``)."
    direction: str = ""
    outcome: str = ""
    client: str = ""
    offset: int = 0

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> tuple[Filters, list[str]]:
        """The filters and a message for each value that could not be used."""
        problems: list[str] = []

        def day(name: str) -> date | None:
            text = query.get(name, "").strip()
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                problems.append(i18n.gettext("Not a date (YYYY-MM-DD): %(value)s", value=text[:20]))
                return None

        agent = query.get("agent", "")
        offset = query.get("offset", "")
        filters = cls(
            start=day("start"),
            end=day("end"),
            agent_id=int(agent) if agent.isdigit() else None,
            number="".join(ch for ch in query.get("number", "") if ch.isdigit())[:20],
            direction=query.get("direction", "") if query.get("direction") in DIRECTIONS else "",
            outcome=query.get("outcome", "") if query.get("outcome") in OUTCOMES else "",
            client=query.get("client", "").strip()[:100],
            offset=int(offset) if offset.isdigit() else 0,
        )
        return filters, problems

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (for the paging links)."""
        values = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "agent": str(self.agent_id) if self.agent_id is not None else "",
            "number": self.number,
            "direction": self.direction,
            "outcome": self.outcome,
            "client": self.client,
            "offset": str(self.offset),
            **{key: str(value) for key, value in changes.items()},
        }
        return {key: value for key, value in values.items() if value and value != "0"}


@dataclass(frozen=True, slots=True)
class Row:
    """One recording in the results, with what the page may offer on it."""

    id: int
    started_at: datetime
    direction: str
    disposition: str | None
    number: str | None
    agent: str | None
    client: str | None
    "The contact's name, else the company's title, else the lead's title."
    talk_seconds: int
    duration_s: float | None
    playable: bool
    can_download: bool


def _search(principal: Principal, filters: Filters) -> Select:
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
    if filters.start is not None:
        stmt = stmt.where(CallActivity.started_at >= datetime.combine(filters.start, time(), UTC))
    if filters.end is not None:
        end = datetime.combine(filters.end + timedelta(days=1), time(), UTC)
        stmt = stmt.where(CallActivity.started_at < end)
    if filters.agent_id is not None:
        stmt = stmt.where(CallActivity.responsible_id == filters.agent_id)
    if filters.number:
        stmt = stmt.where(CallActivity.external_number.contains(filters.number, autoescape=True))
    if filters.direction:
        stmt = stmt.where(CallActivity.direction == filters.direction)
    if filters.outcome:
        stmt = stmt.where(CallActivity.disposition == filters.outcome)
    if filters.client:
        pattern = f"%{filters.client.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(contact.name).like(pattern),
                func.lower(company.title).like(pattern),
                func.lower(lead.title).like(pattern),
            )
        )
    return stmt


@login_required
async def recordings_console(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/recordings: the search form and one page of results."""
    user = request_user(request)
    filters, problems = Filters.parse(request.query)
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, user.id)
        try:
            stmt = _search(principal, filters)
        except Forbidden:
            log.info("recordings_console_refused", user_id=user.id)
            raise web.HTTPForbidden(text=i18n.gettext("You may not listen to call recordings")) from None
        total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
        page = stmt.order_by(CallActivity.started_at.desc(), Recording.id.desc())
        found = await session.execute(page.offset(filters.offset).limit(PAGE_SIZE))
        rows = [
            Row(
                id=found_row.id,
                started_at=found_row.started_at,
                direction=found_row.direction,
                disposition=found_row.disposition,
                number=found_row.external_number,
                agent=found_row.agent,
                client=found_row.contact_name or found_row.company_title or found_row.lead_title,
                talk_seconds=found_row.talk_seconds,
                duration_s=found_row.duration_s,
                playable=found_row.status in _PLAYABLE,
                can_download=principal.can(Entity.CALL, Action.EXPORT, found_row.responsible_id),
            )
            for found_row in found
        ]
        agents = list(
            await session.execute(
                select(User.id, User.name).where(User.is_active.is_(True)).order_by(User.name)
            )
        )
    log.info("recordings_searched", user_id=user.id, found=total)
    total = int(total or 0)
    context = {
        "user": user,
        "csrf_token": csrf_token(request),
        "filters": filters,
        "problems": problems,
        "rows": rows,
        "total": total,
        "agents": agents,
        "directions": {value: i18n.gettext(label) for value, label in DIRECTIONS.items()},
        "outcomes": {value: i18n.gettext(label) for value, label in OUTCOMES.items()},
        "previous": filters.query(offset=max(0, filters.offset - PAGE_SIZE)) if filters.offset else None,
        "next": filters.query(offset=filters.offset + PAGE_SIZE)
        if filters.offset + PAGE_SIZE < total
        else None,
    }
    return aiohttp_jinja2.render_template("recordings_console.html", request, context)
