"""Create, edit and delete leads, contacts and companies: /crm/{kind}/new, .../{id}/edit, .../{id}/delete.

The form posts plain fields; phones and e-mails come as repeated rows (``phone_value`` with its
``phone_kind``), so a card keeps every number with its kind and no script is needed. The form is
validated by the service's own pydantic schema and then by the service (a status that exists, a
company the user may see, a number that is a number); each problem is shown next to its field in
the user's language, with what was typed kept. An edit sends every field the form shows, so what the
user sees is what is saved. Delete asks for confirmation in the page (``static/crm_cards.js``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards import CompaniesResource
from crm_core.crud import ListQuery
from crm_core.errors import Invalid
from crm_core.models import EmailKind, LeadSourceItem, LeadStatusItem, PhoneKind, StatusSemantic
from crm_core.rights import Action, Principal
from crm_core.users import list_users

from ..auth import csrf_token, login_required, request_user
from ..i18n import N_, error_message, gettext
from .crm_cards import CardKind, card_id, card_session, kind_of, service
from .product_rows import catalogue, parse_rows, row_problems, rows_of

__all__ = [
    "company_options",
    "create",
    "delete",
    "edit_form",
    "form_data",
    "new_form",
    "problems_of",
    "update",
]

log = structlog.get_logger(__name__)

BLANK_ROWS = 2
"Empty phone and e-mail rows offered below the card's own."
COMPANY_CHOICES = 500

_FIELDS: Mapping[str, tuple[str, ...]] = {
    "lead": ("title", "name", "company_name", "status", "source", "amount", "currency"),
    "contact": ("name",),
    "company": ("title",),
}
"Each kind's own single-value fields, in the form's order (responsible and comments are common)."

_PYDANTIC_MESSAGES: Mapping[str, str] = {
    "missing": N_("Fill this in"),
    "string_too_short": N_("Fill this in"),
    "string_too_long": N_("This is too long"),
    "decimal_parsing": N_("Write an amount of 0 or more, e.g. 1500.50"),
    "decimal_max_places": N_("Write an amount of 0 or more, e.g. 1500.50"),
    "decimal_max_digits": N_("Write an amount of 0 or more, e.g. 1500.50"),
    "greater_than_equal": N_("Write an amount of 0 or more, e.g. 1500.50"),
    "int_parsing": N_("Choose one from the list"),
    "too_long": N_("Too many entries"),
}
"Pydantic's error types in words for people (its own messages are for API clients)."
_PATTERN_MESSAGES: Mapping[str, str] = {
    "currency": N_("Three capital letters, e.g. RUB"),
    "status": N_("Choose one from the list"),
    "source": N_("Choose one from the list"),
}


class _RowsRefused(Exception):
    """A product row's value was refused before the card's own fields were checked."""


def form_data(kind: CardKind, form: MultiDictProxy[Any]) -> dict[str, Any]:
    """The posted form as the service's input: empty optional fields are None, rows become lists."""
    data: dict[str, Any] = {}
    for field in _FIELDS[kind.name]:
        value = str(form.get(field, "")).strip()
        # The card's name is required: left empty it stays "" so the schema says "fill this in".
        data[field] = value if value or field == kind.title_field else None
    if kind.name == "lead":
        # Empty: the product rows' total (a new lead leaves it out, an edit sends null).
        amount = (data["amount"] or "").replace(" ", "").replace("\u202f", "").replace(",", ".")
        data["amount"] = amount or None
        data["currency"] = (data["currency"] or "RUB").upper()
        for required in ("status", "source"):
            if data[required] is None:
                data.pop(required)
    # Only a form that could show every company of the contact may replace them: one the user
    # cannot see would otherwise be unlinked by an edit that never showed it.
    if kind.name == "contact" and form.get("companies_shown") == "1":
        data["company_ids"] = [int(v) for v in form.getall("company_ids", []) if str(v).isdigit()]
    responsible = str(form.get("responsible_id", ""))
    data["responsible_id"] = int(responsible) if responsible.isdigit() else None
    data["comments"] = str(form.get("comments", ""))
    data["phones"] = _rows(form, "phone")
    data["emails"] = _rows(form, "email")
    return data


def _rows(form: MultiDictProxy[Any], name: str) -> list[dict[str, str]]:
    values, kinds = form.getall(f"{name}_value", []), form.getall(f"{name}_kind", [])
    rows = []
    for index, value in enumerate(values):
        if str(value).strip():
            kind = str(kinds[index]) if index < len(kinds) else ""
            rows.append({"value": str(value).strip(), **({"kind": kind} if kind else {})})
    return rows


def problems_of(error: ValidationError | Invalid) -> dict[str, str]:
    """Field -> message in the user's language (the first problem of each field)."""
    problems: dict[str, str] = {}
    if isinstance(error, Invalid):
        field = error.field.split("[")[0].split(".")[0]
        problems[field] = error_message(error)
        return problems
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "form"
        if item["type"] == "string_pattern_mismatch" and field in _PATTERN_MESSAGES:
            message = gettext(_PATTERN_MESSAGES[field])
        elif item["type"] in _PYDANTIC_MESSAGES:
            message = gettext(_PYDANTIC_MESSAGES[item["type"]])
        else:
            message = item["msg"]
        problems.setdefault(field, message)
    return problems


async def _choices(session: AsyncSession, principal: Principal, kind: CardKind) -> dict[str, Any]:
    """What the form's selects offer: active users; a lead's statuses and sources; a contact's companies."""
    users = [(u.id, u.name) for u in await list_users(session, include_disabled=False)]
    choices: dict[str, Any] = {"users": users, "statuses": [], "sources": [], "companies": []}
    if kind.name == "lead":
        choices["statuses"] = list(
            await session.execute(
                select(LeadStatusItem.code, LeadStatusItem.name)
                .where(LeadStatusItem.semantic != StatusSemantic.SUCCESS)
                .order_by(LeadStatusItem.sort)
            )
        )
        choices["sources"] = list(
            await session.execute(
                select(LeadSourceItem.code, LeadSourceItem.name).order_by(LeadSourceItem.sort)
            )
        )
    if kind.name == "contact":
        page = await CompaniesResource().list(
            session, principal, ListQuery(sort=("title",), limit=COMPANY_CHOICES)
        )
        choices["companies"] = [(c.id, c.title) for c in page.items]
    return choices


def company_options(
    companies: list[tuple[int, str]], linked: list[int]
) -> tuple[list[tuple[int, str]], bool]:
    """The contact's primary company first (a multiple select posts in list order, and the first
    posted is the primary), and whether every linked company is among the options."""
    primary = linked[0] if linked else None
    ordered = sorted(companies, key=lambda c: c[0] != primary)
    offered = {company_id for company_id, _title in companies}
    return ordered, all(company_id in offered for company_id in linked)


async def _render(
    request: web.Request,
    kind: CardKind,
    *,
    values: Mapping[str, Any],
    id: int | None,
    problems: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    async with card_session(request) as (session, principal):
        choices = await _choices(session, principal, kind)
        if kind.name == "lead":
            choices["catalogue"] = await catalogue(session, principal)
    choices["companies"], choices["companies_shown"] = company_options(
        choices["companies"], list(values.get("company_ids") or [])
    )
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "kind": kind,
        "id": id,
        "values": values,
        "problems": problems or {},
        "phone_kinds": [k.value for k in PhoneKind],
        "email_kinds": [k.value for k in EmailKind],
        "blank_rows": BLANK_ROWS,
        "editor_rows": values.get("editor_rows") or rows_of(values.get("rows")),
        "currency": values.get("currency") or "RUB",
        **choices,
    }
    response = aiohttp_jinja2.render_template("crm/form.html", request, context)
    response.set_status(status)
    return response


@login_required
async def new_form(request: web.Request) -> web.StreamResponse:
    """GET /crm/{kind}/new: an empty form (the user is the responsible by default)."""
    kind = kind_of(request)
    values: dict[str, Any] = {
        "responsible_id": request_user(request).id,
        "phones": [],
        "emails": [],
        "comments": "",
    }
    if kind.name == "lead":
        values.update(status="NEW", source="OTHER", amount=Decimal("0"), currency="RUB")
    return await _render(request, kind, values=values, id=None)


@login_required
async def edit_form(request: web.Request) -> web.StreamResponse:
    """GET /crm/{kind}/{id}/edit: the card's fields in the form (the update right is checked first)."""
    kind, id = kind_of(request), card_id(request)
    async with card_session(request) as (session, principal):
        await service(request, kind).row(session, principal, id, Action.UPDATE)
        card = await service(request, kind).get(session, principal, id)
    values = card.model_dump()
    if kind.name == "lead" and not card.amount_manual:
        values["amount"] = None  # shown empty: the rows' total
    return await _render(request, kind, values=values, id=id)


async def _save(request: web.Request, kind: CardKind, id: int | None) -> web.StreamResponse:
    form = await request.post()
    data = form_data(kind, form)
    rows = parse_rows(form) if kind.name == "lead" and "rows_shown" in form else None
    if rows is not None:
        data["rows"] = rows.rows
    if kind.name == "lead" and id is None and data["amount"] is None:
        data.pop("amount")
    schema: type[BaseModel] = kind.service.schema_create if id is None else kind.service.schema_update
    problems: dict[str, str] = dict(rows.problems) if rows is not None else {}
    async with card_session(request) as (session, principal):
        try:
            if problems:  # a product row the editor could not read: nothing is saved
                raise _RowsRefused
            parsed = schema.model_validate(data)
            cards = service(request, kind)
            if id is None:
                saved = await cards.create(session, principal, parsed)
            else:
                saved = await cards.update(session, principal, id, parsed)
            await session.commit()
        except _RowsRefused:
            log.debug("crm_form_rows_refused", kind=kind.name, card_id=id)
        except Invalid as exc:
            await session.rollback()
            problems = row_problems(exc) or problems_of(exc)
        except ValidationError as exc:
            await session.rollback()
            problems = problems_of(exc)
    if problems:
        if rows is not None:
            data["editor_rows"] = rows.typed
        log.info("crm_form_rejected", kind=kind.name, card_id=id, fields=sorted(problems))
        return await _render(request, kind, values=data, id=id, problems=problems, status=422)
    log.info("crm_card_saved", kind=kind.name, card_id=saved.id, created=id is None)
    raise web.HTTPSeeOther(f"/crm/{kind.name}/{saved.id}?saved={'created' if id is None else 'updated'}")


@login_required
async def create(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/new: create the card and show it, or the form again with the problems."""
    return await _save(request, kind_of(request), None)


@login_required
async def update(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/{id}/edit: save the card and show it, or the form again with the problems."""
    return await _save(request, kind_of(request), card_id(request))


@login_required
async def delete(request: web.Request) -> web.StreamResponse:
    """POST /crm/{kind}/{id}/delete: delete the card (its calls stay, unlinked) and go to the list."""
    kind, id = kind_of(request), card_id(request)
    async with card_session(request) as (session, principal):
        await service(request, kind).delete(session, principal, id)
        await session.commit()
    log.info("crm_card_deleted_from_page", kind=kind.name, card_id=id)
    raise web.HTTPSeeOther(f"/crm/{kind.plural}?deleted=1")
