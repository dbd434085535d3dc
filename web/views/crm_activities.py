"""Adding a meeting, call or task from a card or deal page, and marking one done.

``POST /crm/{kind}/{id}/activities`` and ``POST /crm/deals/{id}/activities`` read the form under the
timeline (:mod:`.crm_activity_form`) and create the activity through
:class:`~crm_core.cards.ActivitiesResource` with the user's rights, bound to the page's card and the
other cards chosen. A refused value brings the page back (422) with each problem next to its field
and nothing saved. ``POST .../activities/{activity_id}/done`` completes an activity shown on that
card. Both go back to the page's timeline. Whoever may add no activity at all gets 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards import ActivitiesResource
from crm_core.cards.cardref import require_card
from crm_core.cards.schemas import ActivityCreate, ActivityOut, ActivityUpdate
from crm_core.errors import Invalid, NotFound
from crm_core.models import ActivityBinding
from crm_core.rights import Action, Entity, Forbidden, Principal

from ..auth import csrf_token, login_required, request_user
from ..i18n import error_message
from ..timefmt import office_zone
from . import crm_sales
from .crm_activity_form import CardRef, card_url, labelled, read_form
from .crm_card import card_context
from .crm_cards import card_id, card_session, kind_of
from .crm_forms import problems_of
from .sales_common import page

__all__ = ["add_card_activity", "add_deal_activity", "add_routes", "card_activity_done", "deal_activity_done"]

log = structlog.get_logger(__name__)


async def create_activity(
    session: AsyncSession,
    principal: Principal,
    owner: CardRef,
    data: ActivityCreate,
    problems: dict[str, str],
) -> ActivityOut | None:
    """The activity made by the service, or None with the refusal added to *problems*.

    The page's own card missing or out of reach is the page's error (404/403), not a field's.
    """
    await require_card(session, principal, *owner)
    try:
        return await ActivitiesResource().create(session, principal, data)
    except Forbidden as exc:
        field = "responsible_id" if exc.entity is Entity.ACTIVITY else "bindings"
        problems[field] = labelled(field, error_message(exc))
    except NotFound as exc:
        problems["bindings"] = labelled("bindings", error_message(exc))
    except Invalid as exc:
        problems.update({field: labelled(field, text) for field, text in problems_of(exc).items()})
    return None


async def _posted(
    request: web.Request, principal: Principal, owner: CardRef
) -> tuple[dict[str, Any], ActivityCreate | None, dict[str, str]]:
    principal.require_any(Entity.ACTIVITY, Action.ADD)
    form = await request.post()
    binds = [str(value) for value in form.getall("bind", [])]
    return read_form(form, binds, owner, office_zone(request.app), datetime.now(UTC))


async def _complete(session: AsyncSession, principal: Principal, owner: CardRef, activity_id: int) -> None:
    """Mark the activity done, if it is on *owner*'s timeline; the service checks the right."""
    await require_card(session, principal, *owner)
    on_card = await session.scalar(
        select(ActivityBinding.activity_id).where(
            ActivityBinding.activity_id == activity_id,
            ActivityBinding.owner_type == owner[0],
            ActivityBinding.owner_id == owner[1],
        )
    )
    if on_card is None:
        raise NotFound("activity", activity_id)
    await ActivitiesResource().update(session, principal, activity_id, ActivityUpdate(completed=True))


def _logged(event: str, owner: CardRef, problems: Mapping[str, str], made: ActivityOut | None) -> None:
    if made is None:
        log.info(f"{event}_refused", owner=f"{owner[0]}:{owner[1]}", fields=sorted(problems))
    else:
        log.info(event, owner=f"{owner[0]}:{owner[1]}", activity_id=made.id, kind=made.kind)


@login_required
async def add_card_activity(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/{id}/activities: the activity, then the card's timeline; or the form again."""
    kind, id = kind_of(request), card_id(request)
    owner = (kind.name, id)
    made: ActivityOut | None = None
    async with card_session(request) as (session, principal):
        typed, data, problems = await _posted(request, principal, owner)
        if data is not None:
            made = await create_activity(session, principal, owner, data, problems)
        if made is not None:
            await session.commit()
    _logged("crm_activity_added", owner, problems, made)
    if made is not None:
        raise web.HTTPSeeOther(f"{card_url(*owner)}#timeline")
    context = await card_context(request, kind, id, activity=(typed, problems))
    context.update(
        user=request_user(request),
        csrf_token=csrf_token(request),
        note_error="",
        note_text="",
        saved="",
        count=1,
    )
    return aiohttp_jinja2.render_template("crm/card.html", request, context, status=422)


@page("sales/deal.html")
async def add_deal_activity(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/deals/{id}/activities: the activity, then the deal's timeline; or the page again."""
    owner = ("deal", int(request.match_info["deal_id"]))
    typed, data, problems = await _posted(request, principal, owner)
    made = await create_activity(session, principal, owner, data, problems) if data is not None else None
    _logged("crm_activity_added", owner, problems, made)
    if made is not None:
        return web.HTTPSeeOther(f"{card_url(*owner)}#timeline")
    context = await crm_sales.deal_context(request, session, principal, activity=(typed, problems))
    context.update(user=request_user(request), csrf_token=csrf_token(request))
    return aiohttp_jinja2.render_template("sales/deal.html", request, context, status=422)


@login_required
async def card_activity_done(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/{id}/activities/{activity_id}/done: done, then back to the timeline."""
    owner = (kind_of(request).name, card_id(request))
    activity_id = int(request.match_info["activity_id"])
    async with card_session(request) as (session, principal):
        await _complete(session, principal, owner, activity_id)
        await session.commit()
    log.info("crm_activity_done", owner=f"{owner[0]}:{owner[1]}", activity_id=activity_id)
    raise web.HTTPSeeOther(f"{card_url(*owner)}#timeline")


@page("sales/error.html")
async def deal_activity_done(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/deals/{id}/activities/{activity_id}/done: done, then back to the deal's timeline."""
    owner = ("deal", int(request.match_info["deal_id"]))
    activity_id = int(request.match_info["activity_id"])
    await _complete(session, principal, owner, activity_id)
    log.info("crm_activity_done", owner=f"deal:{owner[1]}", activity_id=activity_id)
    return web.HTTPSeeOther(f"{card_url(*owner)}#timeline")


def add_routes(app: web.Application) -> None:
    """Register the activity form's and the Done button's handlers for cards and deals."""
    card = r"/crm/{kind:lead|contact|company}/{card_id:\d+}/activities"
    deal = r"/crm/deals/{deal_id:\d+}/activities"
    router = app.router
    router.add_post(card, add_card_activity, name="crm_activity_add")
    router.add_post(card + r"/{activity_id:\d+}/done", card_activity_done, name="crm_activity_done")
    router.add_post(deal, add_deal_activity, name="deal_activity_add")
    router.add_post(deal + r"/{activity_id:\d+}/done", deal_activity_done, name="deal_activity_done")
