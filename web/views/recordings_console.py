"""The supervisor's recordings console: GET /supervisor/recordings.

Search the calls' recordings by day, agent (the call's responsible), number, direction, outcome
and client (the contact's name or the company's title), newest first, with paging. The search
itself is :func:`crm_core.recordings_search.search_recordings`, limited in SQL to the calls the user
may listen to, so a search never reveals that another's call exists; this page parses the form and
renders the results.

Each playable recording gets the browser's audio player on ``/recordings/{id}``, which checks the
right again on every (Range) request and writes the listen to the audit trail; the download link
is shown only with the ``call``/export right on that call, and ``?download=1`` checks it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from crm_core.access import load_principal
from crm_core.recordings_search import RecordingSearch, agent_choices, search_recordings
from crm_core.rights import Forbidden

from .. import i18n, keys
from ..auth import csrf_token, login_required, request_user
from ..timefmt import office_zone

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


@dataclass(frozen=True, slots=True)
class Filters:
    """The console's query string: what to search for and which page (unusable values are dropped)."""

    search: RecordingSearch
    offset: int = 0

    @classmethod
    def parse(cls, query: Mapping[str, str], zone: tzinfo = UTC) -> tuple[Filters, list[str]]:
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
        recording = query.get("recording", "")
        offset = query.get("offset", "")
        search = RecordingSearch(
            start=day("start"),
            end=day("end"),
            agent_id=int(agent) if agent.isdigit() else None,
            number="".join(ch for ch in query.get("number", "") if ch.isdigit())[:20],
            direction=query.get("direction", "") if query.get("direction") in DIRECTIONS else "",
            outcome=query.get("outcome", "") if query.get("outcome") in OUTCOMES else "",
            client=query.get("client", "").strip()[:100],
            recording_id=int(recording) if recording.isdigit() and len(recording) < 19 else None,
            zone=zone,
        )
        return cls(search, offset=int(offset) if offset.isdigit() else 0), problems

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (for the paging links)."""
        search = self.search
        values = {
            "start": search.start.isoformat() if search.start else "",
            "end": search.end.isoformat() if search.end else "",
            "agent": str(search.agent_id) if search.agent_id is not None else "",
            "number": search.number,
            "direction": search.direction,
            "outcome": search.outcome,
            "client": search.client,
            "recording": str(search.recording_id) if search.recording_id is not None else "",
            "offset": str(self.offset),
            **{key: str(value) for key, value in changes.items()},
        }
        return {key: value for key, value in values.items() if value and value != "0"}


@login_required
async def recordings_console(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/recordings: the search form and one page of results."""
    user = request_user(request)
    filters, problems = Filters.parse(request.query, office_zone(request.app))
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, user.id)
        try:
            total, rows = await search_recordings(
                session, principal, filters.search, offset=filters.offset, limit=PAGE_SIZE
            )
        except Forbidden:
            log.info("recordings_console_refused", user_id=user.id)
            raise web.HTTPForbidden(text=i18n.gettext("You may not listen to call recordings")) from None
        agents = await agent_choices(session)
    log.info("recordings_searched", user_id=user.id, found=total)
    context = {
        "user": user,
        "csrf_token": csrf_token(request),
        "filters": filters.search,
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
