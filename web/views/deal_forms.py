"""The deal form (new and edit), deleting a deal, and notes on a deal's timeline.

``GET/POST /crm/deals/new`` (``?company=ID``, ``?contact=ID`` or ``?pipeline=ID`` preselect), and
``GET/POST /crm/deals/{id}/edit``: title, stage (new deals; an existing deal moves with the stage
form), company, contacts, responsible, currency, amount (empty: the products' total), close date,
comments and the product rows (:mod:`.product_rows`). Every problem is shown next to its field with
what was typed kept (422); nothing is saved then. An edit changes the company, the contacts, the
responsible and the rows only when the form showed them (an old form or a script posting a few
fields leaves the rest alone), and the contacts only when the form could show every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards import ActivitiesResource, CompaniesResource, ContactsResource
from crm_core.crud import ListQuery
from crm_core.errors import Invalid
from crm_core.rights import Action, Entity, Forbidden, Principal
from crm_core.sales import deals as deal_service
from crm_core.sales.pipelines import PipelinesResource
from crm_core.sales.schemas import DealCreate, DealOut, DealUpdate
from crm_core.users import list_users

from .. import i18n
from ..auth import csrf_token, request_user
from .crm_card import note_activity
from .crm_forms import problems_of
from .product_rows import catalogue, parse_rows, row_problems, rows_of
from .sales_common import PageError, int_or_none, page, parse_decimal, text

__all__ = ["add_note", "create_deal", "delete_deal", "edit_deal_form", "new_deal_form", "save_deal"]

log = structlog.get_logger(__name__)

CHOICES = 500
"Companies and contacts offered in the form's selects."


async def _titles(
    session: AsyncSession, principal: Principal, resource: Any, sort: str, label: str
) -> list[tuple[int, str]]:
    try:
        found = await resource.list(session, principal, ListQuery(sort=(sort,), limit=CHOICES))
    except Forbidden:
        return []
    return [(item.id, getattr(item, label)) for item in found.items]


async def _choices(
    session: AsyncSession, principal: Principal, action: Action, values: Mapping[str, Any]
) -> dict[str, Any]:
    """What the form's selects offer; a linked card the user may not list stays as "(hidden)"."""
    companies = await _titles(session, principal, CompaniesResource(), "title", "title")
    contacts = await _titles(session, principal, ContactsResource(), "name", "name")
    hidden = i18n.gettext("(hidden)")
    company_id = values.get("company_id")
    if company_id and company_id not in {cid for cid, _ in companies}:
        companies.insert(0, (company_id, hidden))
    offered = {cid for cid, _ in contacts}
    chosen = list(values.get("contact_ids") or [])
    contacts = [(cid, hidden) for cid in chosen if cid not in offered] + contacts
    users = [
        (u.id, u.name)
        for u in await list_users(session, include_disabled=False)
        if principal.can(Entity.DEAL, action, u.id) or u.id == values.get("responsible_id")
    ]
    pipelines = (
        await PipelinesResource().list(session, principal, ListQuery(sort=("sort",), limit=100))
    ).items
    return {
        "companies": companies,
        "contacts": contacts,
        "users": users,
        "pipelines": pipelines,
        "catalogue": await catalogue(session, principal),
    }


async def _render(
    request: web.Request,
    session: AsyncSession,
    principal: Principal,
    *,
    deal: DealOut | None,
    values: Mapping[str, Any],
    editor_rows: list[dict[str, str]],
    problems: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    action = Action.ADD if deal is None else Action.UPDATE
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "deal": deal,
        "values": values,
        "editor_rows": editor_rows,
        "problems": problems or {},
        "currency": values.get("currency") or "RUB",
        **await _choices(session, principal, action, values),
    }
    return aiohttp_jinja2.render_template("sales/deal_form.html", request, context, status=status)


def _values_of(deal: DealOut) -> dict[str, Any]:
    values = deal.model_dump(exclude={"rows"})
    values["amount"] = deal.amount if deal.amount_manual else ""
    return values


@page("sales/deal_form.html")
async def new_deal_form(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """GET /crm/deals/new: an empty deal, the card it is made from (query) preselected."""
    principal.require_any(Entity.DEAL, Action.ADD)
    query = request.query
    contact = int_or_none(query.get("contact"))
    values = {
        "responsible_id": principal.user_id,
        "company_id": int_or_none(query.get("company")),
        "contact_ids": [contact] if contact else [],
        "pipeline_id": int_or_none(query.get("pipeline")),
        "currency": "RUB",
        "comments": "",
    }
    return await _render(request, session, principal, deal=None, values=values, editor_rows=[])


@page("sales/deal_form.html")
async def edit_deal_form(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """GET /crm/deals/{id}/edit."""
    deal = await deal_service.get_deal(session, principal, int(request.match_info["deal_id"]))
    principal.require(Entity.DEAL, Action.UPDATE, deal.responsible_id)
    return await _render(
        request, session, principal, deal=deal, values=_values_of(deal), editor_rows=rows_of(deal.rows)
    )


def _posted(form: Mapping[str, Any], *, new: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's input from the form (only the fields it showed) and the values to show again."""
    typed: dict[str, Any] = {
        name: text(form, name, 5000)
        for name in ("title", "amount", "close_date", "comments", "currency", "stage_id")
    }
    data: dict[str, Any] = {"title": typed["title"], "comments": typed["comments"]}
    data["close_date"] = typed["close_date"] or None
    if "currency" in form:
        data["currency"] = typed["currency"].upper() or "RUB"
    if new:
        data["stage_id"] = int_or_none(typed["stage_id"])
    if "responsible_id" in form:
        typed["responsible_id"] = data["responsible_id"] = int_or_none(text(form, "responsible_id", 20))
    if "company_id" in form:
        typed["company_id"] = data["company_id"] = int_or_none(text(form, "company_id", 20))
    contact_ids = [int(v) for v in form.getall("contact_ids", []) if str(v).isdigit()]  # type: ignore[attr-defined]
    typed["contact_ids"] = contact_ids
    if new or form.get("contacts_shown") == "1":
        data["contact_ids"] = contact_ids
    return data, typed


async def _save(
    request: web.Request, session: AsyncSession, principal: Principal, deal: DealOut | None
) -> web.StreamResponse:
    form = await request.post()
    data, typed = _posted(form, new=deal is None)
    rows = parse_rows(form)
    problems = dict(rows.problems)
    if "rows_shown" in form:
        data["rows"] = rows.rows
    schema: type[BaseModel] = DealCreate if deal is None else DealUpdate
    saved: DealOut | None = None
    try:
        amount = parse_decimal(form, "amount", i18n.gettext("Amount"))
    except PageError as exc:
        problems["amount"] = str(exc)
    else:
        if amount is not None or deal is not None:
            data["amount"] = amount
    if not problems:
        try:
            parsed = schema.model_validate(data)
            if deal is None:
                saved = await deal_service.create_deal(session, principal, parsed)  # type: ignore[arg-type]
            else:
                saved = await deal_service.update_deal(session, principal, deal.id, parsed)  # type: ignore[arg-type]
        except ValidationError as exc:
            problems.update(problems_of(exc))
        except Invalid as exc:
            await session.rollback()  # nothing half-saved
            problems.update(row_problems(exc) or problems_of(exc))
    if saved is None:
        log.info("deal_form_rejected", deal_id=deal.id if deal else None, fields=sorted(problems))
        if deal is not None:
            deal = await deal_service.get_deal(session, principal, deal.id)
        return await _render(
            request,
            session,
            principal,
            deal=deal,
            values={**(_values_of(deal) if deal else {}), **typed},
            editor_rows=rows.typed,
            problems=problems,
            status=422,
        )
    log.info("deal_saved_from_form", deal_id=saved.id, created=deal is None, rows=len(rows.rows))
    return web.HTTPSeeOther(f"/crm/deals/{saved.id}")


@page("sales/deal_form.html")
async def create_deal(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/deals/new: the deal and its rows, then its page; or the form again with the problems."""
    return await _save(request, session, principal, None)


@page("sales/deal_form.html")
async def save_deal(request: web.Request, session: AsyncSession, principal: Principal) -> web.StreamResponse:
    """POST /crm/deals/{id}/edit: the fields the form showed, then the deal's page."""
    deal = await deal_service.get_deal(session, principal, int(request.match_info["deal_id"]))
    principal.require(Entity.DEAL, Action.UPDATE, deal.responsible_id)
    return await _save(request, session, principal, deal)


@page("sales/error.html")
async def delete_deal(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/deals/{id}/delete (the page asks first): the service deletes it, back to the board."""
    deal_id = int(request.match_info["deal_id"])
    await deal_service.delete_deal(session, principal, deal_id)
    log.info("deal_deleted_from_page", deal_id=deal_id)
    return web.HTTPSeeOther("/crm/deals?deleted=1")


@page("sales/error.html")
async def add_note(request: web.Request, session: AsyncSession, principal: Principal) -> web.StreamResponse:
    """POST /crm/deals/{id}/notes {text}: a note on the deal's timeline, then back to the deal."""
    deal_id = int(request.match_info["deal_id"])
    note = text(await request.post(), "text", 20000)
    if not note:
        raise PageError(i18n.gettext("Write the note first: it is empty"))
    made = await ActivitiesResource().create(
        session, principal, note_activity("deal", deal_id, note, datetime.now(UTC))
    )
    log.info("deal_note_added", deal_id=deal_id, activity_id=made.id)
    return web.HTTPSeeOther(f"/crm/deals/{deal_id}#timeline")
