"""Sales pages: deals by stage, the deal card and form, products, quotes and invoices, the funnel chart.

Server-rendered forms over the services of :mod:`crm_core.sales`; the services check every right,
so these pages never decide who may see or change what: a refusal (:class:`Forbidden`) becomes a
403 page, a bad value a 422 page that names the problem. Each change runs in one transaction and
ends with a redirect (POST, redirect, GET). Moving a deal into a failure stage without a loss
reason answers with a small form asking for it, because the funnel report is only as good as its
loss reasons.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import CrmError, Invalid
from crm_core.models import Deal, Pipeline, User
from crm_core.rights import Action, Entity, Forbidden, Principal
from crm_core.sales import deals as deal_service
from crm_core.sales import rows as row_service
from crm_core.sales.deals import DealsResource
from crm_core.sales.documents import InvoicesResource, QuotesResource
from crm_core.sales.errors import LossReasonRequired
from crm_core.sales.funnel import funnel_reports
from crm_core.sales.pipelines import PipelinesResource, default_pipeline, get_stage
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import (
    DealUpdate,
    InvoiceCreate,
    PipelineOut,
    ProductCreate,
    ProductUpdate,
    QuoteCreate,
)

from .. import i18n, keys
from ..api.errors import status_of
from ..auth import csrf_token, login_required, request_user
from ..funnel_svg import FunnelLabels, render_funnel
from ..timefmt import day_range, office_zone
from .documents import format_decimal

__all__ = ["add_routes"]

log = structlog.get_logger(__name__)

BOARD_LIMIT = 50
"Deals shown per stage column (the newest changed first); the count and sums cover them all."
LIST_LIMIT = 50
_DEALS = DealsResource()
_PIPELINES = PipelinesResource()
_PRODUCTS = ProductsResource()
_QUOTES = QuotesResource()
_INVOICES = InvoicesResource()

Work = Callable[[web.Request, AsyncSession, Principal], Awaitable[Mapping[str, Any] | web.StreamResponse]]
"A page's body: the request, the open session and the user's rights in; a context or a response out."


class PageError(Exception):
    """A form value this page cannot use, said in the page's language (answered with 422)."""


def _page(template: str) -> Callable[[Work], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Run a page's *work* with the user's principal in one transaction and render *template*.

    The work returns the template's context (or a response: a redirect after a change); a CRM
    error becomes an error page with the status the API would give, and nothing is committed.
    """

    def wrap(work: Work) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @login_required
        @functools.wraps(work)
        async def handler(request: web.Request) -> web.StreamResponse:
            user = request_user(request)
            try:
                async with request.app[keys.DB]() as session:
                    principal = await load_principal(session, user.id)
                    result = await work(request, session, principal)
                    await session.commit()
            except CrmError as exc:
                log.info("sales_page_refused", path=request.path, error_id=exc.error_id, user_id=user.id)
                return _error(request, status_of(exc), i18n.error_message(exc))
            except (PageError, ValidationError) as exc:
                return _error(request, 422, _validation_message(exc))
            if isinstance(result, web.HTTPException):  # the redirect after a change, once committed
                raise result
            if isinstance(result, web.StreamResponse):
                return result
            context = {"user": user, "csrf_token": csrf_token(request), **result}
            return aiohttp_jinja2.render_template(template, request, context)

        return handler

    return wrap


def _validation_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return i18n.gettext("%(field)s: %(problem)s", field=where, problem=first["msg"])
    return str(exc)


def _error(request: web.Request, status: int, message: str) -> web.Response:
    context = {"user": request_user(request), "csrf_token": csrf_token(request), "message": message}
    return aiohttp_jinja2.render_template("sales/error.html", request, context, status=status)


def _money(value: Decimal | None) -> str:
    return format_decimal(value, i18n.current_locale())


def _number(value: Decimal | None) -> str:
    return format_decimal(value, i18n.current_locale(), min_places=0)


async def _user_names(session: AsyncSession) -> dict[int, str]:
    return {uid: name for uid, name in await session.execute(select(User.id, User.name))}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _text(form: Mapping[str, Any], name: str, limit: int = 2000) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _decimal(form: Mapping[str, Any], name: str, label: str) -> Decimal | None:
    """A decimal typed in either language (``1 234,50`` or ``1,234.50``); empty is None."""
    text = _text(form, name, 40).replace("\u202f", "").replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    text = text.replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise PageError(
            i18n.gettext("%(field)s is not a number: %(value)s", field=label, value=text)
        ) from None


def _date(form: Mapping[str, Any], name: str) -> date | None:
    text = _text(form, name, 10)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageError(i18n.gettext("Not a date (YYYY-MM-DD): %(value)s", value=text)) from None


async def _pipeline(session: AsyncSession, principal: Principal, wanted: int | None) -> PipelineOut:
    pipeline_id = wanted if wanted is not None else (await default_pipeline(session)).id
    return await _PIPELINES.get(session, principal, pipeline_id)


# -- deals by stage --------------------------------------------------------------------------------


@_page("sales/board.html")
async def board_page(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/deals?pipeline=ID: a column per stage with its count, sums and newest deals."""
    pipeline = await _pipeline(session, principal, _int(request.query.get("pipeline")))
    visible = principal.visible(Entity.DEAL, Action.READ, Deal.responsible_id)
    tallies: dict[int, dict[str, Any]] = {s.id: {"count": 0, "sums": {}} for s in pipeline.stages}
    stmt = (
        select(Deal.stage_id, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.pipeline_id == pipeline.id, visible)
        .group_by(Deal.stage_id, Deal.currency)
    )
    for stage_id, currency, count, amount in await session.execute(stmt):
        if stage_id in tallies:
            tallies[stage_id]["count"] += int(count)
            tallies[stage_id]["sums"][currency] = Decimal(amount)
    columns = []
    for stage in pipeline.stages:
        page = await _DEALS.list(
            session,
            principal,
            ListQuery(filters={"stage_id": str(stage.id)}, sort=["-updated_at"], limit=BOARD_LIMIT),
        )
        columns.append({"stage": stage, "deals": page.items, **tallies[stage.id]})
    pipelines = list(await session.execute(select(Pipeline.id, Pipeline.name).order_by(Pipeline.sort)))
    return {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "names": await _user_names(session),
        "money": _money,
    }


@login_required
async def move_deal(request: web.Request) -> web.StreamResponse:
    """POST /crm/deals/{id}/stage: ``stage_id`` and, for a failure stage, ``loss_reason``."""
    deal_id = int(request.match_info["deal_id"])
    form = await request.post()
    stage_id = _int(_text(form, "stage_id", 20))
    reason = _text(form, "loss_reason", 500) or None
    back = _text(form, "back", 200)
    user = request_user(request)
    if stage_id is None:
        return _error(request, 422, i18n.gettext("Choose the stage to move the deal to."))
    try:
        async with request.app[keys.DB]() as session:
            principal = await load_principal(session, user.id)
            try:
                await deal_service.move_deal(session, principal, deal_id, stage_id, loss_reason=reason)
            except LossReasonRequired:
                deal = await deal_service.get_deal(session, principal, deal_id)
                stage = await _stage_name(session, principal, deal.pipeline_id, stage_id)
                context = {
                    "user": user,
                    "csrf_token": csrf_token(request),
                    "deal": deal,
                    "stage_id": stage_id,
                    "stage_name": stage,
                    "back": back,
                }
                return aiohttp_jinja2.render_template("sales/loss_reason.html", request, context, status=422)
            await session.commit()
    except CrmError as exc:
        log.info("deal_move_refused", deal_id=deal_id, error_id=exc.error_id, user_id=user.id)
        return _error(request, status_of(exc), i18n.error_message(exc))
    target = back if back.startswith("/crm/") and not back.startswith("//") else f"/crm/deals/{deal_id}"
    raise web.HTTPSeeOther(target)


async def _stage_name(session: AsyncSession, principal: Principal, pipeline_id: int, stage_id: int) -> str:
    """The name of *stage_id* (a failure stage may be of the deal's pipeline or of another)."""
    stage = await get_stage(session, stage_id)
    if stage.pipeline_id != pipeline_id:
        return f"{(await _PIPELINES.get(session, principal, stage.pipeline_id)).name}: {stage.name}"
    return stage.name


# -- the deal card and form ------------------------------------------------------------------------


async def _documents(session: AsyncSession, principal: Principal, deal_id: int) -> dict[str, list[Any]]:
    """The deal's quotes and invoices the user may read (none when they may read no such document)."""
    found: dict[str, list[Any]] = {}
    for kind, resource in (("quotes", _QUOTES), ("invoices", _INVOICES)):
        try:
            page = await resource.list(
                session,
                principal,
                ListQuery(filters={"deal_id": str(deal_id)}, sort=["-id"], limit=MAX_LIMIT),
            )
        except Forbidden:
            found[kind] = []
        else:
            found[kind] = page.items
    return found


@_page("sales/deal.html")
async def deal_page(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/deals/{id}: the deal with its product rows, totals, stage history and documents."""
    deal_id = int(request.match_info["deal_id"])
    deal = await deal_service.get_deal(session, principal, deal_id)
    pipeline = await _PIPELINES.get(session, principal, deal.pipeline_id)
    return {
        "deal": deal,
        "pipeline": pipeline,
        "stage_names": {stage.id: stage.name for stage in pipeline.stages},
        "totals": await row_service.totals(session, ("deal", deal_id)),
        "history": await deal_service.stage_history(session, principal, deal_id),
        "names": await _user_names(session),
        "can_edit": principal.can(Entity.DEAL, Action.UPDATE, deal.responsible_id),
        "can_quote": principal.level(Entity.QUOTE, Action.ADD) > 0,
        "can_invoice": principal.level(Entity.INVOICE, Action.ADD) > 0,
        "money": _money,
        "number": _number,
        **await _documents(session, principal, deal_id),
    }


@_page("sales/deal_form.html")
async def deal_form(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/deals/{id}/edit."""
    deal = await deal_service.get_deal(session, principal, int(request.match_info["deal_id"]))
    principal.require(Entity.DEAL, Action.UPDATE, deal.responsible_id)
    return {"deal": deal, "money": _money}


@_page("sales/deal_form.html")
async def save_deal(
    request: web.Request, session: AsyncSession, principal: Principal
) -> Mapping[str, Any] | web.StreamResponse:
    """POST /crm/deals/{id}/edit: title, amount (empty: the rows' total), close date, comments.

    A value the deal cannot take shows the form again with what was typed and the problem (422);
    a refusal of the right itself is the 403 page.
    """
    deal_id = int(request.match_info["deal_id"])
    form = await request.post()
    try:
        data = DealUpdate(
            title=_text(form, "title", 300) or None,
            amount=_decimal(form, "amount", i18n.gettext("Amount")),
            close_date=_date(form, "close_date"),
            comments=_text(form, "comments", 5000),
        )
        await deal_service.update_deal(session, principal, deal_id, data)
    except (Invalid, PageError, ValidationError) as exc:
        await session.rollback()  # nothing half-saved
        problem = i18n.error_message(exc) if isinstance(exc, Invalid) else _validation_message(exc)
        typed = {name: _text(form, name, 5000) for name in ("title", "amount", "close_date", "comments")}
        context = {
            "user": request_user(request),
            "csrf_token": csrf_token(request),
            "deal": await deal_service.get_deal(session, principal, deal_id),
            "typed": typed,
            "error": problem,
        }
        return aiohttp_jinja2.render_template("sales/deal_form.html", request, context, status=422)
    return web.HTTPSeeOther(f"/crm/deals/{deal_id}")


@_page("sales/error.html")
async def make_document(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/deals/{id}/quote or /invoice: a new document from the deal, then its printable page."""
    deal_id = int(request.match_info["deal_id"])
    kind = request.match_info["kind"]
    if kind == "quote":
        made = await _QUOTES.create(session, principal, QuoteCreate(deal_id=deal_id))
    else:
        made = await _INVOICES.create(session, principal, InvoiceCreate(deal_id=deal_id))
    log.info("document_made_from_deal", kind=kind, deal_id=deal_id, document_id=made.id)
    return web.HTTPSeeOther(f"/crm/{kind}s/{made.id}/print")


# -- products --------------------------------------------------------------------------------------


@_page("sales/products.html")
async def products_page(
    request: web.Request, session: AsyncSession, principal: Principal
) -> Mapping[str, Any]:
    """GET /crm/products?q=&offset=: the catalogue, searchable by name."""
    search = request.query.get("q", "").strip()[:100]
    offset = max(0, _int(request.query.get("offset")) or 0)
    filters = {"name__contains": search} if search else {}
    page = await _PRODUCTS.list(
        session, principal, ListQuery(filters=filters, sort=["sort", "name"], offset=offset, limit=LIST_LIMIT)
    )
    return {
        "page": page,
        "search": search,
        "can_add": principal.can(Entity.PRODUCT, Action.ADD, None),
        "can_edit": principal.can(Entity.PRODUCT, Action.UPDATE, None),
        "money": _money,
    }


def _product_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    vat = _decimal(form, "vat_rate", i18n.gettext("VAT rate"))
    return {
        "name": _text(form, "name", 300),
        "unit": _text(form, "unit", 20) or "pcs",
        "price": _decimal(form, "price", i18n.gettext("Price")) or Decimal(0),
        "currency": _text(form, "currency", 3).upper() or "RUB",
        "vat_rate": vat,
        "vat_included": form.get("vat_included") == "1",
        "active": form.get("active") == "1",
        "description": _text(form, "description", 5000),
        "external_id": _text(form, "external_id", 100) or None,
    }


@_page("sales/product_form.html")
async def product_form(
    request: web.Request, session: AsyncSession, principal: Principal
) -> Mapping[str, Any]:
    """GET /crm/products/new and /crm/products/{id}/edit."""
    product_id = _int(request.match_info.get("product_id"))
    if product_id is None:
        principal.require(Entity.PRODUCT, Action.ADD, None)
        return {"product": None, "money": _money}
    principal.require(Entity.PRODUCT, Action.UPDATE, None)
    return {"product": await _PRODUCTS.get(session, principal, product_id), "money": _money}


@_page("sales/product_form.html")
async def save_product(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products (new) and /crm/products/{id}/edit."""
    product_id = _int(request.match_info.get("product_id"))
    fields = _product_fields(await request.post())
    if product_id is None:
        await _PRODUCTS.create(session, principal, ProductCreate(**fields))
    else:
        await _PRODUCTS.update(session, principal, product_id, ProductUpdate(**fields))
    return web.HTTPSeeOther("/crm/products")


# -- quotes and invoices ---------------------------------------------------------------------------


def _documents_page(kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    resource = _QUOTES if kind == "quote" else _INVOICES

    @_page("sales/documents.html")
    async def documents_page(
        request: web.Request, session: AsyncSession, principal: Principal
    ) -> Mapping[str, Any]:
        offset = max(0, _int(request.query.get("offset")) or 0)
        filters = {"deal_id": request.query["deal"]} if _int(request.query.get("deal")) else {}
        page = await resource.list(
            session, principal, ListQuery(filters=filters, sort=["-id"], offset=offset, limit=LIST_LIMIT)
        )
        return {"kind": kind, "page": page, "names": await _user_names(session), "money": _money}

    documents_page.__name__ = f"{kind}s_page"
    documents_page.__doc__ = f"GET /crm/{kind}s: the {kind}s the user may read, newest first."
    return documents_page


# -- funnel ----------------------------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise PageError(i18n.gettext("Not a date (YYYY-MM-DD): %(value)s", value=text)) from None


@_page("sales/funnel.html")
async def funnel_page(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/funnel?pipeline=&start=&end=&responsible=: both variants as SVG charts.

    ``start`` and ``end`` are the office's days (the end day included): deals created in them count.
    """
    pipeline = await _pipeline(session, principal, _int(request.query.get("pipeline")))
    start, end = _day(request.query.get("start")), _day(request.query.get("end"))
    responsible = _int(request.query.get("responsible"))
    since, until = day_range(start, end, office_zone(request.app))
    reports = await funnel_reports(
        session,
        principal,
        pipeline_id=pipeline.id,
        start=since,
        end=until,
        responsible_ids=[responsible] if responsible is not None else None,
    )
    empty = i18n.gettext("No deals in this period.")

    def percent(value: Decimal) -> str:
        return f"{format_decimal(value, i18n.current_locale(), min_places=0)} %"

    charts = {
        variant: render_funnel(
            report,
            FunnelLabels(title=title, empty=empty, conversion=percent),
            money=_money,
        )
        for variant, report, title in (
            ("passed", reports["passed"], i18n.gettext("Deals by the stages they passed")),
            ("conversion", reports["conversion"], i18n.gettext("Deals with conversions")),
        )
    }
    pipelines = list(await session.execute(select(Pipeline.id, Pipeline.name).order_by(Pipeline.sort)))
    return {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "charts": charts,
        "deals": reports["passed"].deals,
        "users": sorted((await _user_names(session)).items(), key=lambda item: item[1]),
        "filters": {
            "start": start.isoformat() if start else "",
            "end": end.isoformat() if end else "",
            "responsible": responsible,
        },
    }


def add_routes(app: web.Application) -> None:
    """Register the sales pages."""
    router = app.router
    router.add_get("/crm/deals", board_page, name="deals")
    router.add_get(r"/crm/deals/{deal_id:\d+}", deal_page, name="deal")
    router.add_get(r"/crm/deals/{deal_id:\d+}/edit", deal_form, name="deal_edit")
    router.add_post(r"/crm/deals/{deal_id:\d+}/edit", save_deal)
    router.add_post(r"/crm/deals/{deal_id:\d+}/stage", move_deal, name="deal_stage")
    router.add_post(r"/crm/deals/{deal_id:\d+}/{kind:quote|invoice}", make_document, name="deal_document")
    router.add_get("/crm/products", products_page, name="products")
    router.add_get("/crm/products/new", product_form, name="product_new")
    router.add_post("/crm/products", save_product)
    router.add_get(r"/crm/products/{product_id:\d+}/edit", product_form, name="product_edit")
    router.add_post(r"/crm/products/{product_id:\d+}/edit", save_product)
    router.add_get("/crm/quotes", _documents_page("quote"), name="quotes")
    router.add_get("/crm/invoices", _documents_page("invoice"), name="invoices")
    router.add_get("/crm/funnel", funnel_page, name="funnel")
