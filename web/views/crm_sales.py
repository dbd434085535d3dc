"""Sales pages: deals by stage, the deal card and form, quotes and invoices, the funnel chart.

Server-rendered forms over the services of :mod:`crm_core.sales`; the services check every right,
so these pages never decide who may see or change what: a refusal (:class:`Forbidden`) becomes a
403 page, a bad value a 422 page that names the problem. Each change runs in one transaction and
ends with a redirect (POST, redirect, GET). Moving a deal into a failure stage without a loss
reason answers with a small form asking for it, because the funnel report is only as good as its
loss reasons. The product catalogue's pages live in :mod:`.product_pages`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.cards.timeline import timeline
from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import CrmError
from crm_core.models import Company, Contact, Deal, DocumentStatus, Lead, Pipeline, Stage
from crm_core.query import folded_contains
from crm_core.rights import Action, Entity, Forbidden, Principal
from crm_core.sales import deals as deal_service
from crm_core.sales import rows as row_service
from crm_core.sales.deals import DealsResource
from crm_core.sales.documents import InvoicesResource, QuotesResource
from crm_core.sales.errors import LossReasonRequired
from crm_core.sales.funnel import funnel_reports
from crm_core.sales.pipelines import PipelinesResource, default_pipeline, get_stage
from crm_core.sales.schemas import (
    DealOut,
    InvoiceCreate,
    InvoiceUpdate,
    PipelineOut,
    QuoteCreate,
    QuoteUpdate,
)

from .. import i18n, keys
from ..api.errors import status_of
from ..auth import csrf_token, login_required, request_user
from ..funnel_svg import FunnelLabels, render_funnel
from ..timefmt import day_range, office_zone
from . import deal_forms
from .crm_activity_form import CardLink, activity_context
from .documents import format_decimal
from .sales_common import PageError
from .sales_common import error_page as _error
from .sales_common import int_or_none as _int
from .sales_common import money as _money
from .sales_common import number as _number
from .sales_common import page as _page
from .sales_common import text as _text
from .sales_common import user_names as _user_names

__all__ = ["add_routes"]

log = structlog.get_logger(__name__)

BOARD_LIMIT = 50
"Deals shown per stage column (the newest changed first); the count and sums cover them all."
LIST_LIMIT = 50
TIMELINE_SIZE = 50
_DEALS = DealsResource()
_PIPELINES = PipelinesResource()
_QUOTES = QuotesResource()
_INVOICES = InvoicesResource()


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


def _board_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The board's filters (title contains, responsible) for the list and as the form shows them."""
    search = query.get("q", "").strip()[:100]
    responsible = _int(query.get("responsible"))
    filters = {"title__contains": search} if search else {}
    if responsible is not None:
        filters["responsible_id"] = str(responsible)
    return filters, {"q": search, "responsible": responsible}


@_page("sales/board.html")
async def board_page(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/deals?pipeline=&q=&responsible=&o<stage id>=: a column per stage, its count and sums.

    Each column shows :data:`BOARD_LIMIT` deals from its own offset (``o12=50``: stage 12 from its
    51st deal), the newest changed first; the counts and sums cover every deal the filters keep.
    """
    pipeline = await _pipeline(session, principal, _int(request.query.get("pipeline")))
    filters, shown = _board_filters(request.query)
    visible = principal.visible(Entity.DEAL, Action.READ, Deal.responsible_id)
    tallies: dict[int, dict[str, Any]] = {s.id: {"count": 0, "sums": {}} for s in pipeline.stages}
    stmt = (
        select(Deal.stage_id, Deal.currency, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.pipeline_id == pipeline.id, visible)
        .group_by(Deal.stage_id, Deal.currency)
    )
    if shown["q"]:
        pattern = literal(f"%{_like(shown['q'])}%")
        stmt = stmt.where(folded_contains(Deal.title, pattern, literal(shown["q"])))  # as the list's filter
    if shown["responsible"] is not None:
        stmt = stmt.where(Deal.responsible_id == shown["responsible"])
    for stage_id, currency, count, amount in await session.execute(stmt):
        if stage_id in tallies:
            tallies[stage_id]["count"] += int(count)
            tallies[stage_id]["sums"][currency] = Decimal(amount)
    offsets = {s.id: max(0, _int(request.query.get(f"o{s.id}")) or 0) for s in pipeline.stages}
    columns = []
    for stage in pipeline.stages:
        page = await _DEALS.list(
            session,
            principal,
            ListQuery(
                filters={**filters, "stage_id": str(stage.id)},
                sort=["-updated_at"],
                offset=offsets[stage.id],
                limit=BOARD_LIMIT,
            ),
        )
        columns.append(
            {"stage": stage, "deals": page.items, "offset": offsets[stage.id], **tallies[stage.id]}
        )
    pipelines = list(await session.execute(select(Pipeline.id, Pipeline.name).order_by(Pipeline.sort)))
    query = {"pipeline": pipeline.id, "q": shown["q"], "responsible": shown["responsible"] or ""}
    query.update({f"o{stage_id}": offset for stage_id, offset in offsets.items() if offset})
    return {
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "filters": shown,
        "query": {name: value for name, value in query.items() if value != ""},
        "limit": BOARD_LIMIT,
        "users": sorted((await _user_names(session)).items(), key=lambda item: item[1]),
        "names": await _user_names(session),
        "can_add": principal.level(Entity.DEAL, Action.ADD) > 0,
        "deleted": request.query.get("deleted") == "1",
        "money": _money,
    }


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
async def move_deal(request: web.Request) -> web.StreamResponse:
    """POST /crm/deals/{id}/stage: ``stage_id`` and, for a failure stage, ``loss_reason``.

    A form gets a redirect (or the loss-reason form); the board's drag and drop asks for JSON
    (``Accept: application/json``) and gets the deal's new stage, or the problem: 422 with
    ``error: "loss-reason-required"``, or the status and message the API would give.
    """
    deal_id = int(request.match_info["deal_id"])
    form = await request.post()
    stage_id = _int(_text(form, "stage_id", 20))
    reason = _text(form, "loss_reason", 500) or None
    back = _text(form, "back", 300)
    user = request_user(request)
    as_json = _wants_json(request)
    if stage_id is None:
        message = i18n.gettext("Choose the stage to move the deal to.")
        if as_json:
            return web.json_response({"error": "bad-value", "message": message}, status=422)
        return _error(request, 422, message)
    try:
        async with request.app[keys.DB]() as session:
            principal = await load_principal(session, user.id)
            try:
                moved = await deal_service.move_deal(
                    session, principal, deal_id, stage_id, loss_reason=reason
                )
            except LossReasonRequired as exc:
                if as_json:
                    body = {"error": exc.error_id, "message": i18n.error_message(exc)}
                    return web.json_response(body, status=422)
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
        if as_json:
            body = {"error": exc.error_id, "message": i18n.error_message(exc)}
            return web.json_response(body, status=status_of(exc))
        return _error(request, status_of(exc), i18n.error_message(exc))
    if as_json:
        return web.json_response({"id": moved.id, "stage_id": moved.stage_id, "closed": moved.closed})
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


_LINKED_KINDS = (("company", "company"), ("contacts", "contact"), ("lead", "lead"))
"The keys of :func:`_linked` and the kind of card each holds."


async def _linked(session: AsyncSession, principal: Principal, deal: DealOut) -> dict[str, Any]:
    """The deal's company, contacts and source lead as ``(id, name)``; the name is None when hidden."""

    async def names(model: Any, column: Any, entity: Entity, ids: list[int]) -> list[tuple[int, str | None]]:
        if not ids:
            return []
        rows = await session.execute(select(model.id, column, model.responsible_id).where(model.id.in_(ids)))
        found = {i: (n if principal.can(entity, Action.READ, owner) else None) for i, n, owner in rows}
        return [(i, found[i]) for i in ids if i in found]

    company = [deal.company_id] if deal.company_id else []
    lead = [deal.source_lead_id] if deal.source_lead_id else []
    return {
        "company": await names(Company, Company.title, Entity.COMPANY, company),
        "contacts": await names(Contact, Contact.name, Entity.CONTACT, deal.contact_ids),
        "lead": await names(Lead, Lead.title, Entity.LEAD, lead),
    }


@_page("sales/deal.html")
async def deal_page(request: web.Request, session: AsyncSession, principal: Principal) -> Mapping[str, Any]:
    """GET /crm/deals/{id}: the deal with its links, rows, totals, documents, timeline and history."""
    return await deal_context(request, session, principal)


async def deal_context(
    request: web.Request,
    session: AsyncSession,
    principal: Principal,
    *,
    activity: tuple[Mapping[str, Any], Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """What the deal page shows; *activity* is a refused activity form (typed values, problems)."""
    deal_id = int(request.match_info["deal_id"])
    deal = await deal_service.get_deal(session, principal, deal_id)
    pipeline = await _PIPELINES.get(session, principal, deal.pipeline_id)
    stage_names = {i: n for i, n in await session.execute(select(Stage.id, Stage.name))}
    stage_names.update({stage.id: stage.name for stage in pipeline.stages})
    linked = await _linked(session, principal, deal)
    items = await timeline(session, principal, "deal", deal_id, limit=TIMELINE_SIZE)
    typed, problems = activity if activity is not None else (None, None)
    cards = [(kind, card) for key, kind in _LINKED_KINDS for card in linked[key]]
    activities = await activity_context(
        session,
        principal,
        office_zone(request.app),
        ("deal", deal_id),
        items,
        [CardLink(kind, i, name) for kind, (i, name) in cards],
        typed=typed,
        problems=problems,
    )
    return {
        "deal": deal,
        "pipeline": pipeline,
        "stage_names": stage_names,
        "totals": await row_service.totals(session, ("deal", deal_id)),
        "history": await deal_service.stage_history(session, principal, deal_id),
        "names": await _user_names(session),
        "linked": linked,
        "timeline": items,
        "can_edit": principal.can(Entity.DEAL, Action.UPDATE, deal.responsible_id),
        "can_delete": principal.can(Entity.DEAL, Action.DELETE, deal.responsible_id),
        "can_note": principal.can(Entity.ACTIVITY, Action.ADD, principal.user_id),
        "can_quote": principal.level(Entity.QUOTE, Action.ADD) > 0,
        "can_invoice": principal.level(Entity.INVOICE, Action.ADD) > 0,
        "document_statuses": await _document_statuses(session),
        "money": _money,
        "number": _number,
        **await _documents(session, principal, deal_id),
        **activities,
    }


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


# -- quotes and invoices ---------------------------------------------------------------------------


async def _document_statuses(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    """Each document kind's statuses as ``(code, name)`` in their order."""
    found: dict[str, list[tuple[str, str]]] = {"quote": [], "invoice": []}
    stmt = select(DocumentStatus.kind, DocumentStatus.code, DocumentStatus.name).order_by(
        DocumentStatus.sort, DocumentStatus.id
    )
    for kind, code, name in await session.execute(stmt):
        found.setdefault(kind, []).append((code, name))
    return found


def _document_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The list's filters from the query: search (a number when it has a digit, else the title),
    status, issued from/until (days), deal; and the same values to show in the form."""
    shown = {
        "q": query.get("q", "").strip()[:100],
        "status": query.get("status", "").strip()[:50],
        "start": query.get("start", "").strip()[:10],
        "end": query.get("end", "").strip()[:10],
        "deal": query.get("deal", "").strip()[:12] if _int(query.get("deal")) else "",
    }
    filters: dict[str, str] = {}
    if shown["q"]:
        by_number = any(char.isdigit() for char in shown["q"])
        filters["number__contains" if by_number else "title__contains"] = shown["q"]
    if shown["status"]:
        filters["status"] = shown["status"]
    for name, operator in (("start", "gte"), ("end", "lte")):
        if shown[name]:
            _day(shown[name])  # a bad date is named on a 422 page
            filters[f"issued_on__{operator}"] = shown[name]
    if shown["deal"]:
        filters["deal_id"] = shown["deal"]
    return filters, shown


def _documents_page(kind: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    resource = _QUOTES if kind == "quote" else _INVOICES

    @_page("sales/documents.html")
    async def documents_page(
        request: web.Request, session: AsyncSession, principal: Principal
    ) -> Mapping[str, Any]:
        offset = max(0, _int(request.query.get("offset")) or 0)
        filters, shown = _document_filters(request.query)
        page = await resource.list(
            session, principal, ListQuery(filters=filters, sort=["-id"], offset=offset, limit=LIST_LIMIT)
        )
        return {
            "kind": kind,
            "page": page,
            "filters": shown,
            "query": {name: value for name, value in shown.items() if value},
            "statuses": (await _document_statuses(session))[kind],
            "can_change": principal.level(resource.entity, Action.UPDATE) > 0,
            "names": await _user_names(session),
            "money": _money,
        }

    documents_page.__name__ = f"{kind}s_page"
    documents_page.__doc__ = (
        f"GET /crm/{kind}s?q=&status=&start=&end=&deal=&offset=: the {kind}s the user may read, newest first."
    )
    return documents_page


@_page("sales/error.html")
async def document_status(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/{quote|invoice}s/{id}/status {status, back}: the service changes it (PAID notes when)."""
    kind = request.match_info["kind"]
    document_id = int(request.match_info["document_id"])
    form = await request.post()
    status = _text(form, "status", 50)
    if kind == "quote":
        await _QUOTES.update(session, principal, document_id, QuoteUpdate(status=status))
    else:
        await _INVOICES.update(session, principal, document_id, InvoiceUpdate(status=status))
    log.info("document_status_changed", kind=kind, document_id=document_id, status=status)
    back = _text(form, "back", 300)
    return web.HTTPSeeOther(
        back if back.startswith("/crm/") and not back.startswith("//") else f"/crm/{kind}s"
    )


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
    router.add_get("/crm/deals/new", deal_forms.new_deal_form, name="deal_new")
    router.add_post("/crm/deals/new", deal_forms.create_deal)
    router.add_get(r"/crm/deals/{deal_id:\d+}/edit", deal_forms.edit_deal_form, name="deal_edit")
    router.add_post(r"/crm/deals/{deal_id:\d+}/edit", deal_forms.save_deal)
    router.add_post(r"/crm/deals/{deal_id:\d+}/delete", deal_forms.delete_deal, name="deal_delete")
    router.add_post(r"/crm/deals/{deal_id:\d+}/notes", deal_forms.add_note, name="deal_note")
    router.add_post(r"/crm/deals/{deal_id:\d+}/stage", move_deal, name="deal_stage")
    router.add_post(r"/crm/deals/{deal_id:\d+}/{kind:quote|invoice}", make_document, name="deal_document")
    router.add_get("/crm/quotes", _documents_page("quote"), name="quotes")
    router.add_get("/crm/invoices", _documents_page("invoice"), name="invoices")
    router.add_post(
        r"/crm/{kind:quote|invoice}s/{document_id:\d+}/status", document_status, name="document_status"
    )
    router.add_get("/crm/funnel", funnel_page, name="funnel")
