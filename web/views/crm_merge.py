"""Lead conversion and duplicate merging: the pages that turn several records into the right one.

- ``/crm/lead/{id}/convert`` shows the conversion offer (existing contacts and companies that look
  like the lead, from :func:`crm_core.cards.conversion.conversion_offer`) and converts: link one of
  them, create a new card, and/or open a deal. Creating a card while look-alikes exist needs the
  user's explicit "create anyway" (the service refuses otherwise, and the page says why).
- ``/crm/{plural}/duplicates?axis=phone`` lists groups of cards sharing a phone, an e-mail, a name
  or a company name (:func:`crm_core.cards.duplicates.duplicate_groups`); each group is a form that
  keeps one card and merges the chosen others into it (:func:`crm_core.cards.merge.merge`, which
  moves everything and writes an audit record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards.conversion import LeadConversion, conversion_offer, convert_lead
from crm_core.cards.duplicates import duplicate_groups
from crm_core.cards.errors import DuplicatesFound
from crm_core.cards.merge import merge
from crm_core.errors import Conflict, Invalid
from crm_core.models import Company, Contact, Lead
from crm_core.rights import Action, Entity, Principal

from .. import keys
from ..auth import csrf_token, login_required, request_user
from ..i18n import error_message, gettext
from .crm_cards import KINDS, CardKind, card_id, card_session, service, user_names

__all__ = ["AXES", "conversion_request", "convert", "convert_page", "duplicates_page", "merge_cards"]

log = structlog.get_logger(__name__)

AXES: Mapping[str, tuple[str, ...]] = {
    "contact": ("phone", "email", "name"),
    "company": ("phone", "email", "company"),
    "lead": ("phone", "email", "name", "company"),
}
"What each kind can share with a twin (a contact has no company name of its own, a company no person)."
GROUPS_SHOWN = 50
_TITLES: Mapping[str, Any] = {"contact": Contact.name, "company": Company.title, "lead": Lead.title}
_MODELS: Mapping[str, Any] = {"contact": Contact, "company": Company, "lead": Lead}


def _kind_by_plural(request: web.Request) -> CardKind:
    return next(k for k in KINDS.values() if k.plural == request.match_info["plural"])


def _choice(value: str) -> str | int | None:
    """A conversion radio: ``""`` nothing, ``create`` a new card, digits an existing card's id."""
    if value == "create":
        return "create"
    return int(value) if value.isdigit() else None


def conversion_request(form: Mapping[str, str]) -> LeadConversion:
    """The conversion the form asks for."""
    return LeadConversion(
        contact=_choice(form.get("contact", "")),
        company=_choice(form.get("company", "")),
        deal=form.get("deal") == "1",
        create_despite_duplicates=form.get("anyway") == "1",
    )


async def _convert_context(request: web.Request, lead_id: int) -> dict[str, Any]:
    region = request.app[keys.SETTINGS].crm.default_region
    async with card_session(request) as (session, principal):
        lead = await service(request, KINDS["lead"]).get(session, principal, lead_id)
        offer = await conversion_offer(session, principal, lead_id, region=region)
        names = await user_names(session)
    return {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "lead": lead,
        "offer": offer,
        "names": names,
        "error": "",
        "chosen": {"contact": "", "company": "", "deal": "", "anyway": ""},
    }


@login_required
async def convert_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/lead/{id}/convert: the look-alike contacts and companies, and the conversion form."""
    context = await _convert_context(request, card_id(request))
    if context["lead"].converted_at is not None:
        raise web.HTTPSeeOther(f"/crm/lead/{context['lead'].id}")
    return aiohttp_jinja2.render_template("crm/convert.html", request, context)


@login_required
async def convert(request: web.Request) -> web.StreamResponse:
    """POST /crm/lead/{id}/convert: convert, then show the client's card (or the page with the problem)."""
    lead_id = card_id(request)
    form = {k: str(v) for k, v in (await request.post()).items()}
    crm = request.app[keys.SETTINGS].crm
    wanted = conversion_request(form)
    error, status = "", 422
    if wanted.contact is None and wanted.company is None and not wanted.deal:
        error = gettext("Choose what the lead becomes")
    else:
        async with card_session(request) as (session, principal):
            try:
                result = await convert_lead(
                    session,
                    principal,
                    lead_id,
                    wanted,
                    region=crm.default_region,
                    own_numbers=crm.own_numbers,
                )
                await session.commit()
            except DuplicatesFound:
                await session.rollback()
                error, status = (
                    gettext(
                        "Look-alike cards exist: link one of them, "
                        "or tick “Create anyway” if this is a new client"
                    ),
                    409,
                )
            except Conflict as exc:  # converted meanwhile, in another tab or by a colleague
                await session.rollback()
                error, status = error_message(exc), 409
            except Invalid as exc:
                await session.rollback()
                error = error_message(exc)
    if error:
        context = await _convert_context(request, lead_id)
        context.update(error=error, chosen=form)
        response = aiohttp_jinja2.render_template("crm/convert.html", request, context)
        response.set_status(status)
        return response
    log.info("crm_lead_converted_from_page", lead_id=lead_id, created=result.created)
    if result.contact_id is not None:
        raise web.HTTPSeeOther(f"/crm/contact/{result.contact_id}?saved=converted")
    if result.company_id is not None:
        raise web.HTTPSeeOther(f"/crm/company/{result.company_id}?saved=converted")
    raise web.HTTPSeeOther(f"/crm/lead/{lead_id}?saved=converted")


async def _cards(
    session: AsyncSession, principal: Principal, kind: str, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The group's cards: title and responsible, and whether the user may merge them away or keep them."""
    model = _MODELS[kind]
    rows = await session.execute(
        select(model.id, _TITLES[kind], model.responsible_id, model.created_at).where(model.id.in_(ids))
    )
    entity = Entity(kind)
    return {
        id_: {
            "id": id_,
            "title": title,
            "responsible_id": owner,
            "created_at": created_at,
            "may_keep": principal.can(entity, Action.UPDATE, owner),
            "may_merge": principal.can(entity, Action.DELETE, owner),
        }
        for id_, title, owner, created_at in rows
    }


@login_required
async def duplicates_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/{plural}/duplicates?axis=: groups of look-alike cards, each a merge form."""
    kind = _kind_by_plural(request)
    axis = request.query.get("axis", "phone")
    if axis not in AXES[kind.name]:
        axis = AXES[kind.name][0]
    async with card_session(request) as (session, principal):
        groups = await duplicate_groups(session, principal, kind.name, axis, limit=GROUPS_SHOWN)
        cards = await _cards(session, principal, kind.name, sorted({i for g in groups for i in g.ids}))
        names = await user_names(session)
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "kind": kind,
        "axis": axis,
        "axes": AXES[kind.name],
        "groups": [[cards[i] for i in group.ids if i in cards] for group in groups],
        "keys": [group.key for group in groups],
        "names": names,
        "merged": request.query.get("merged", ""),
        "error": request.query.get("error", ""),
    }
    return aiohttp_jinja2.render_template("crm/duplicates.html", request, context)


@login_required
async def merge_cards(request: web.Request) -> web.StreamResponse:
    """POST /crm/{plural}/merge {keep, merge...}: merge the chosen cards into the kept one."""
    kind = _kind_by_plural(request)
    form = await request.post()
    keep = str(form.get("keep", ""))
    merged = [int(v) for v in form.getall("merge", []) if str(v).isdigit() and str(v) != keep]
    if not keep.isdigit() or not merged:
        raise web.HTTPUnprocessableEntity(
            text=gettext("Choose the card to keep and at least one other to merge")
        )
    async with card_session(request) as (session, principal):
        result = await merge(session, principal, kind.name, int(keep), merged)  # type: ignore[arg-type]
        await session.commit()
    log.info("crm_cards_merged_from_page", kind=kind.name, kept=result.kept_id, merged=result.merged_ids)
    raise web.HTTPSeeOther(f"/crm/{kind.name}/{result.kept_id}?saved=merged&count={len(result.merged_ids)}")
