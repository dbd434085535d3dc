"""Export contacts, companies, leads, products, deals, quotes or invoices to CSV, within the user's
export right and read scope.

An export is the easiest way to carry the whole client base out of the company, so it has a right
of its own (Bitrix24 has one too): the rows are those the user may both read *and* export, and an
export is written to the audit trail with its filters and row count.

The columns are the import's field names, so an exported file (edited or not) imports back
without a mapping (deals, quotes and invoices are exported only: their columns name the pipeline,
stage, status, company, contacts and deal by their names). Cards are read in keyset-paged chunks
by id with their phones and e-mails in one query per chunk, so a million contacts stream out in
constant memory.

Cells that a spreadsheet would run as a formula (``=``, ``@``, or ``+``/``-`` followed by anything
but a phone number) get a leading apostrophe: a name typed as ``=HYPERLINK(...)`` by a web form
must not become a live formula on the desk of whoever opens the export (CSV injection).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..cards.companies import CompaniesResource
from ..cards.contacts import ContactsResource
from ..cards.leads import LeadsResource
from ..crud import ListQuery
from ..models import (
    Company,
    Contact,
    Deal,
    DealContact,
    DocumentStatus,
    Email,
    EmailKind,
    Invoice,
    Lead,
    Phone,
    PhoneKind,
    Pipeline,
    Quote,
    Stage,
    User,
)
from ..models.catalog import Product, ProductSection
from ..query import apply_list_query
from ..rights import Action, Entity, Principal
from ..sales.deals import DealsResource
from ..sales.documents import InvoicesResource, QuotesResource
from ..sales.products import ProductsResource
from .mapping import ImportKind

__all__ = ["CHUNK", "ExportKind", "columns", "export_csv", "export_rows"]


class ExportKind(StrEnum):
    """What can be exported: the import kinds, and the sales records."""

    CONTACTS = "contacts"
    COMPANIES = "companies"
    LEADS = "leads"
    PRODUCTS = "products"
    DEALS = "deals"
    QUOTES = "quotes"
    INVOICES = "invoices"

    @property
    def entity(self) -> Entity:
        """The rights entity whose ``export`` (and ``read``) right the export needs."""
        return _ENTITIES[self]


_ENTITIES = {
    ExportKind.CONTACTS: Entity.CONTACT,
    ExportKind.COMPANIES: Entity.COMPANY,
    ExportKind.LEADS: Entity.LEAD,
    ExportKind.PRODUCTS: Entity.PRODUCT,
    ExportKind.DEALS: Entity.DEAL,
    ExportKind.QUOTES: Entity.QUOTE,
    ExportKind.INVOICES: Entity.INVOICE,
}

log = structlog.get_logger(__name__)

CHUNK = 1000
_FORMULA = re.compile(r"^[=@\t\r]|^[+\-](?![\d\s().+\-]*$)")
_CHANNELS = ("phone", "phone_mobile", "phone_home", "email", "email_home")
_PHONE_COLUMN = {PhoneKind.MOBILE: "phone_mobile", PhoneKind.HOME: "phone_home"}
_EMAIL_COLUMN = {EmailKind.HOME: "email_home"}

_DOCUMENT = ("id", "number", "title", "deal", "status", "currency", "net_total", "tax_total", "total")
_COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.DEALS: (
        "id",
        "title",
        "pipeline",
        "stage",
        "amount",
        "currency",
        "responsible",
        "company",
        "contacts",
        "created_at",
        "closed_at",
    ),
    ExportKind.QUOTES: (*_DOCUMENT, "issued_on", "valid_until", "responsible", "created_at"),
    ExportKind.INVOICES: (*_DOCUMENT, "issued_on", "due_on", "paid_at", "responsible", "created_at"),
    ExportKind.CONTACTS: ("id", "name", *_CHANNELS, "company", "responsible", "comments", "created_at"),
    ExportKind.COMPANIES: ("id", "title", *_CHANNELS, "responsible", "comments", "created_at"),
    ExportKind.LEADS: (
        "id",
        "title",
        "name",
        "company_name",
        *_CHANNELS,
        "status",
        "source",
        "amount",
        "currency",
        "responsible",
        "comments",
        "created_at",
    ),
    ExportKind.PRODUCTS: (
        "id",
        "name",
        "section",
        "price",
        "currency",
        "unit",
        "vat_rate",
        "vat_included",
        "active",
        "external_id",
        "description",
    ),
}


def _columns_only(filterable: Mapping[str, type]) -> dict[str, type]:
    """The filters on the model's own columns (a document's ``status`` filter needs a join)."""
    return {k: v for k, v in filterable.items() if k != "status"}


_SOURCES: dict[ExportKind, tuple[Any, Any, Mapping[str, type]]] = {
    # model, its owner type for phones/e-mails, and the filters its REST resource accepts
    ExportKind.CONTACTS: (Contact, "contact", ContactsResource.filterable),
    ExportKind.COMPANIES: (Company, "company", CompaniesResource.filterable),
    ExportKind.LEADS: (Lead, "lead", LeadsResource.filterable),
    ExportKind.PRODUCTS: (Product, None, ProductsResource.filterable),
    ExportKind.DEALS: (Deal, None, DealsResource.filterable),
    ExportKind.QUOTES: (Quote, None, _columns_only(QuotesResource.filterable)),
    ExportKind.INVOICES: (Invoice, None, _columns_only(InvoicesResource.filterable)),
}


def columns(kind: ImportKind | ExportKind) -> tuple[str, ...]:
    """The header row of an export of *kind*."""
    return _COLUMNS[ExportKind(kind)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    return "'" + text if _FORMULA.match(text) else text


def _statement(kind: ExportKind, principal: Principal, filters: Mapping[str, str]) -> Select:
    """The cards the principal may read and export, filtered, in id order."""
    model, _owner_type, filterable = _SOURCES[kind]
    entity = kind.entity
    principal.require_any(entity, Action.EXPORT)
    stmt = select(model)
    if kind is ExportKind.PRODUCTS:
        # The catalogue belongs to nobody: any export level exports it, as any read level reads it.
        principal.require_any(entity, Action.READ)
    else:
        stmt = stmt.where(
            principal.visible(entity, Action.EXPORT, model.responsible_id),
            principal.visible(entity, Action.READ, model.responsible_id),
        )
    page, _count = apply_list_query(
        stmt, model, ListQuery(filters=dict(filters), limit=1), filterable=filterable, sortable=()
    )
    return page.limit(None).offset(None).order_by(None).order_by(model.id)


async def _channels(
    session: AsyncSession, owner_type: str, ids: Sequence[int]
) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    phones = select(Phone.owner_id, Phone.kind, Phone.raw).where(
        Phone.owner_type == owner_type, Phone.owner_id.in_(ids)
    )
    for owner_id, kind, raw in (await session.execute(phones.order_by(Phone.id))).all():
        found[owner_id][_PHONE_COLUMN.get(kind, "phone")].append(raw)
    emails = select(Email.owner_id, Email.kind, Email.value).where(
        Email.owner_type == owner_type, Email.owner_id.in_(ids)
    )
    for owner_id, kind, value in (await session.execute(emails.order_by(Email.id))).all():
        found[owner_id][_EMAIL_COLUMN.get(kind, "email")].append(value)
    return found


async def export_rows(
    session: AsyncSession,
    principal: Principal,
    kind: ImportKind | ExportKind,
    filters: Mapping[str, str] | None = None,
) -> AsyncIterator[list[str]]:
    """Yield the header, then one list of cells per record (raises ``Forbidden`` before the first)."""
    kind = ExportKind(kind)
    stmt = _statement(kind, principal, filters or {})
    model, owner_type, _filterable = _SOURCES[kind]
    names = _COLUMNS[kind]
    logins = dict((await session.execute(select(User.id, User.login))).all())
    titles: dict[int, str] = {}
    if kind is ExportKind.PRODUCTS:
        titles = dict((await session.execute(select(ProductSection.id, ProductSection.name))).all())
    yield list(names)
    last = 0
    while True:
        cards = list(await session.scalars(stmt.where(model.id > last).limit(CHUNK)))
        if not cards:
            return
        last = cards[-1].id
        ids = [card.id for card in cards]
        channels = await _channels(session, owner_type, ids) if owner_type else {}
        if kind in (ExportKind.CONTACTS, ExportKind.DEALS):
            wanted = {card.company_id for card in cards if card.company_id is not None}
            if wanted - titles.keys():
                rows = await session.execute(select(Company.id, Company.title).where(Company.id.in_(wanted)))
                titles.update(rows.all())
        related = await _related(session, kind, cards)
        for card in cards:
            extra = channels.get(card.id, {})
            values: dict[str, Any] = {name: ", ".join(extra.get(name, ())) for name in _CHANNELS}
            values["responsible"] = logins.get(getattr(card, "responsible_id", None) or 0)
            if kind in (ExportKind.CONTACTS, ExportKind.DEALS):
                values["company"] = titles.get(card.company_id or 0)
            elif kind is ExportKind.PRODUCTS:
                values["section"] = titles.get(card.section_id or 0)
            values.update(related.get(card.id, {}))
            yield [_text(values[name] if name in values else getattr(card, name)) for name in names]


async def _related(
    session: AsyncSession, kind: ExportKind, records: Sequence[Any]
) -> dict[int, dict[str, Any]]:
    """The names a sales record's row shows instead of ids: pipeline, stage, contacts, deal, status."""
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    if kind is ExportKind.DEALS:
        pipelines = dict((await session.execute(select(Pipeline.id, Pipeline.name))).all())
        stages = dict((await session.execute(select(Stage.id, Stage.name))).all())
        people = await session.execute(
            select(DealContact.deal_id, Contact.name)
            .join(Contact, Contact.id == DealContact.contact_id)
            .where(DealContact.deal_id.in_([d.id for d in records]))
            .order_by(DealContact.deal_id, DealContact.sort, Contact.id)
        )
        names: dict[int, list[str]] = defaultdict(list)
        for deal_id, name in people.all():
            names[deal_id].append(name)
        for deal in records:
            found[deal.id] = {
                "pipeline": pipelines.get(deal.pipeline_id),
                "stage": stages.get(deal.stage_id),
                "contacts": ", ".join(names[deal.id]),
            }
    elif kind in (ExportKind.QUOTES, ExportKind.INVOICES):
        statuses = dict((await session.execute(select(DocumentStatus.id, DocumentStatus.name))).all())
        wanted = {d.deal_id for d in records if d.deal_id is not None}
        deals = dict((await session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(wanted)))).all())
        for document in records:
            found[document.id] = {
                "status": statuses.get(document.status_id),
                "deal": deals.get(document.deal_id or 0),
            }
    return found


async def export_csv(
    session: AsyncSession,
    principal: Principal,
    kind: ImportKind | ExportKind,
    filters: Mapping[str, str] | None = None,
    *,
    delimiter: str = ",",
) -> AsyncIterator[str]:
    """Yield the CSV text in pieces of about :data:`CHUNK` rows; audit the export once done.

    The audit entry is added to the caller's session when the last piece has been produced; the
    caller commits it.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    count = -1
    async for cells in export_rows(session, principal, kind, filters):
        writer.writerow(cells)
        count += 1
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
    await audit.record(
        session,
        action="crm.export",
        actor=principal.login,
        user_id=principal.user_id,
        target=kind.value,
        details={"rows": count, "filters": dict(filters or {})},
    )
    log.info("export_written", kind=kind.value, rows=count, by=principal.login)
