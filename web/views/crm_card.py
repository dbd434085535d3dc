"""One card: GET /crm/{lead|contact|company}/{id} and its add-note form (POST .../notes).

Under the timeline the page also has the activity form (meetings, calls, tasks: see
:mod:`.crm_activity_form`; its handlers are in :mod:`.crm_activities`).

The page the screen-pop links to. It shows the card's fields, its phones as click-to-call links
(``static/crm_cards.js`` posts them to ``/calls/dial`` with the CSRF header), the companies or
contacts it is linked to, its deals, and its timeline: calls with their recordings (an ``<audio>``
element on ``/recordings/{id}``, which serves HTTP Range, and a waveform the script draws from
``/recordings/{id}/peaks``), notes and other activities, call-back tasks. The timeline comes from
:func:`crm_core.cards.timeline.timeline`, which shows a call only to whoever may read calls of its
owner, so a colleague's recording never leaks through a shared client card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards import ActivitiesResource
from crm_core.cards.schemas import ActivityCreate, Binding
from crm_core.cards.timeline import timeline
from crm_core.crud import ListQuery
from crm_core.errors import Invalid
from crm_core.models import ActivityKind, Company, Contact, DealContact, Stage
from crm_core.rights import Action, Entity, Forbidden, Level, Principal
from crm_core.sales.deals import DealsResource, get_deal
from crm_core.sales.schemas import DealOut

from ..auth import csrf_token, login_required, request_user
from ..i18n import error_message, gettext
from ..timefmt import office_zone
from .crm_activity_form import CardLink, activity_context
from .crm_cards import CardKind, card_id, card_session, kind_of, lead_dictionaries, service, user_names
from .sales_common import money, number

__all__ = ["TIMELINE_SIZE", "add_note", "card_context", "card_page"]

log = structlog.get_logger(__name__)

TIMELINE_SIZE = 50
DEALS_SHOWN = 20
_SUBJECT_LENGTH = 80


async def _titles(
    session: AsyncSession, principal: Principal, kind: str, ids: Sequence[int]
) -> list[tuple[int, str | None]]:
    """``(id, title)`` of linked cards in *ids*' order; the title is None where the user may not read it."""
    if not ids:
        return []
    model, column = {"contact": (Contact, Contact.name), "company": (Company, Company.title)}[kind]
    rows = await session.execute(select(model.id, column, model.responsible_id).where(model.id.in_(ids)))
    found = {
        id_: (title if principal.can(Entity(kind), Action.READ, owner) else None)
        for id_, title, owner in rows
    }
    return [(id_, found[id_]) for id_ in ids if id_ in found]


async def _deals(session: AsyncSession, principal: Principal, kind: str, id: int) -> list[DealOut]:
    """The card's deals the user may read, newest first."""
    if principal.level(Entity.DEAL, Action.READ) is Level.NONE:
        return []
    if kind == "contact":
        deal_ids = await session.scalars(
            select(DealContact.deal_id)
            .where(DealContact.contact_id == id)
            .order_by(DealContact.deal_id.desc())
            .limit(DEALS_SHOWN)
        )
        deals = []
        for deal_id in deal_ids.all():
            try:
                deals.append(await get_deal(session, principal, deal_id))
            except Forbidden:
                continue
        return deals
    field = {"lead": "source_lead_id", "company": "company_id"}[kind]
    query = ListQuery(filters={field: str(id)}, sort=("-created_at",), limit=DEALS_SHOWN)
    return (await DealsResource().list(session, principal, query)).items


async def card_context(
    request: web.Request,
    kind: CardKind,
    id: int,
    *,
    activity: tuple[Mapping[str, Any], Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Everything the card page shows, read in one session with the user's rights.

    *activity* is a refused activity form: what was typed and the problems, shown again.
    """
    async with card_session(request) as (session, principal):
        card: BaseModel = await service(request, kind).get(session, principal, id)
        items = await timeline(session, principal, kind.name, id, limit=TIMELINE_SIZE)
        names = await user_names(session)
        links: dict[str, list[tuple[int, str | None]]] = {}
        if kind.name == "contact":
            links["company"] = await _titles(session, principal, "company", card.company_ids)
        elif kind.name == "company":
            links["contact"] = await _titles(session, principal, "contact", card.contact_ids)
        else:
            for linked in ("contact", "company"):
                linked_id = getattr(card, f"{linked}_id")
                links[linked] = await _titles(session, principal, linked, [linked_id] if linked_id else [])
        deals = await _deals(session, principal, kind.name, id)
        statuses, sources = await lead_dictionaries(session)
        owner = card.responsible_id
        rights = {
            "update": principal.can(kind.service.entity, Action.UPDATE, owner),
            "delete": principal.can(kind.service.entity, Action.DELETE, owner),
            "note": principal.can(Entity.ACTIVITY, Action.ADD, principal.user_id),
            "add_deal": principal.level(Entity.DEAL, Action.ADD) is not Level.NONE,
        }
        stage_ids = {deal.stage_id for deal in deals}
        stage_names = {
            i: n
            for i, n in await session.execute(select(Stage.id, Stage.name).where(Stage.id.in_(stage_ids)))
        }
        linked = [CardLink(other, i, n) for other, cards in links.items() for i, n in cards]
        linked += [CardLink("deal", deal.id, deal.title) for deal in deals]
        typed, problems = activity if activity is not None else (None, None)
        activities = await activity_context(
            session,
            principal,
            office_zone(request.app),
            (kind.name, id),
            items,
            linked,
            typed=typed,
            problems=problems,
        )
    return {
        "kind": kind,
        "card": card,
        "title": getattr(card, kind.title_field),
        "timeline": items,
        "names": names,
        "links": links,
        "deals": deals,
        "rights": rights,
        "converted": kind.name == "lead" and card.converted_at is not None,
        "statuses": statuses,
        "sources": sources,
        "stage_names": stage_names,
        "money": money,
        "number": number,
        **activities,
    }


@login_required
async def card_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/{kind}/{id}: the card, its links, deals and timeline."""
    context = await card_context(request, kind_of(request), card_id(request))
    context.update(
        user=request_user(request),
        csrf_token=csrf_token(request),
        note_error="",
        note_text="",
        saved=request.query.get("saved", ""),
        count=int(count) if (count := request.query.get("count", "1")).isdigit() else 1,
    )
    return aiohttp_jinja2.render_template("crm/card.html", request, context)


def note_activity(kind: str, id: int, text: str, now: datetime) -> ActivityCreate:
    """The note as an activity bound to the card: its first line (shortened) is the subject."""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    subject = first_line if len(first_line) <= _SUBJECT_LENGTH else first_line[: _SUBJECT_LENGTH - 1] + "…"
    return ActivityCreate(
        kind=ActivityKind.NOTE,
        subject=subject,
        description=text.strip(),
        start_at=now,
        completed=True,
        bindings=[Binding(owner_type=kind, owner_id=id)],
    )


@login_required
async def add_note(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/{id}/notes {text}: a note on the card's timeline, then back to the card."""
    kind, id = kind_of(request), card_id(request)
    form = await request.post()
    text = str(form.get("text", ""))
    error = ""
    async with card_session(request) as (session, principal):
        try:
            if not text.strip():
                raise ValueError
            note = await ActivitiesResource().create(
                session, principal, note_activity(kind.name, id, text, datetime.now(UTC))
            )
            await session.commit()
        except (ValueError, ValidationError):
            error = gettext("Write the note first: it is empty")
        except Invalid as exc:
            error = error_message(exc)
    if not error:
        log.info("crm_note_added", kind=kind.name, card_id=id, activity_id=note.id)
        raise web.HTTPSeeOther(f"/crm/{kind.name}/{id}?saved=note#timeline")
    context = await card_context(request, kind, id)
    context.update(
        user=request_user(request),
        csrf_token=csrf_token(request),
        note_error=error,
        note_text=text,
        saved="",
        count=1,
    )
    response = aiohttp_jinja2.render_template("crm/card.html", request, context)
    response.set_status(422)
    return response
