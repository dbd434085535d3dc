"""Quotes and invoices: made from a deal (its rows copied), numbered, moved through their statuses.

A document copies the deal's rows, currency, company and main contact when it is made; later
changes to the deal do not touch it (an invoice sent is what the customer holds). Its own rows may
still be edited; its totals always follow its rows. An invoice may be made from one of the deal's
quotes instead, and then copies the quote's rows. Reaching the invoice success status (PAID)
records when it was paid; leaving it clears that. An invoice is never deleted, only cancelled, so
the invoice numbers given out stay without gaps.

Rights: quotes and invoices are their own entities (``quote``, ``invoice``) with a responsible
(the deal's unless given); making one also needs the right to read its deal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..db import utc_now
from ..errors import NotFound
from ..models import (
    Company,
    Contact,
    Deal,
    DealContact,
    DocumentKind,
    DocumentStatus,
    Invoice,
    Quote,
    RowOwner,
    StatusSemantic,
    User,
)
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from . import rows as product_rows
from .deals import load_deal
from .errors import BadValue, KeptForTheRecord
from .numbering import next_number
from .schemas import (
    InvoiceCreate,
    InvoiceOut,
    InvoiceUpdate,
    QuoteCreate,
    QuoteOut,
    QuoteUpdate,
    RowOut,
)

__all__ = ["InvoicesResource", "Printable", "QuotesResource", "printable"]

log = structlog.get_logger(__name__)

Document = Quote | Invoice


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of document: its table, its right, its rows' owner type and its output schema."""

    kind: DocumentKind
    model: type[Quote] | type[Invoice]
    entity: Entity
    owner: RowOwner
    out: type[QuoteOut] | type[InvoiceOut]
    title: str


_QUOTE = _Kind(DocumentKind.QUOTE, Quote, Entity.QUOTE, RowOwner.QUOTE, QuoteOut, "Quote")
_INVOICE = _Kind(DocumentKind.INVOICE, Invoice, Entity.INVOICE, RowOwner.INVOICE, InvoiceOut, "Invoice")
KINDS: Mapping[str, _Kind] = {k.kind.value: k for k in (_QUOTE, _INVOICE)}


async def _status(session: AsyncSession, kind: _Kind, code: str | None) -> DocumentStatus:
    stmt = select(DocumentStatus).where(DocumentStatus.kind == kind.kind.value)
    if code is None:
        found = await session.scalar(stmt.order_by(DocumentStatus.sort, DocumentStatus.id).limit(1))
    else:
        found = await session.scalar(stmt.where(DocumentStatus.code == code))
    if found is None:
        codes = tuple(
            await session.scalars(select(DocumentStatus.code).where(DocumentStatus.kind == kind.kind))
        )
        raise BadValue("status", code, f"not a {kind.kind.value} status", codes)
    return found


async def _outs(
    session: AsyncSession, kind: _Kind, documents: Sequence[Document], *, with_rows: bool = False
) -> list[Any]:
    ids = {d.status_id for d in documents}
    statuses = {
        s.id: s for s in await session.scalars(select(DocumentStatus).where(DocumentStatus.id.in_(ids)))
    }
    result = []
    for document in documents:
        status = statuses[document.status_id]
        rows: list[RowOut] | None = None
        if with_rows:
            loaded = await product_rows.load_rows(session, (kind.owner, document.id))
            rows = [product_rows.row_out(r) for r in loaded]
        fields = {name: getattr(document, name) for name in kind.out.model_fields if hasattr(document, name)}
        fields.update(status=status.code, status_semantic=StatusSemantic(status.semantic), rows=rows)
        result.append(kind.out.model_validate(fields))
    return result


async def _out(session: AsyncSession, kind: _Kind, document: Document) -> Any:
    return (await _outs(session, kind, [document], with_rows=True))[0]


async def _load(session: AsyncSession, kind: _Kind, document_id: int) -> Document:
    document = await session.get(kind.model, document_id)
    if document is None:
        raise NotFound(kind.kind.value, document_id)
    return document


async def _main_contact(session: AsyncSession, deal_id: int) -> int | None:
    stmt = (
        select(DealContact.contact_id)
        .where(DealContact.deal_id == deal_id)
        .order_by(DealContact.sort, DealContact.contact_id)
        .limit(1)
    )
    return await session.scalar(stmt)


async def _create(
    session: AsyncSession,
    principal: Principal,
    kind: _Kind,
    data: QuoteCreate | InvoiceCreate,
    extra: dict[str, Any],
    *,
    rows_from: tuple[str, int] | None = None,
    today: date | None = None,
) -> Any:
    deal = await load_deal(session, data.deal_id)
    principal.require(Entity.DEAL, Action.READ, deal.responsible_id)
    responsible_id = data.responsible_id or deal.responsible_id or principal.user_id
    principal.require(kind.entity, Action.ADD, responsible_id)
    if data.responsible_id is not None and await session.get(User, data.responsible_id) is None:
        raise NotFound("user", data.responsible_id)
    status = await _status(session, kind, data.status)
    issued_on = data.issued_on or today or utc_now().date()
    number = await next_number(session, kind.kind.value, issued_on)
    document = kind.model(
        number=number,
        title=data.title or f"{kind.title} {number}: {deal.title}"[:300],
        deal_id=deal.id,
        company_id=deal.company_id,
        contact_id=await _main_contact(session, deal.id),
        responsible_id=responsible_id,
        status_id=status.id,
        currency=deal.currency,
        issued_on=issued_on,
        comments=data.comments,
        **extra,
    )
    session.add(document)
    await session.flush()
    await product_rows.copy_rows(session, rows_from or (RowOwner.DEAL, deal.id), (kind.owner, document.id))
    log.info(
        "document_created", kind=kind.kind.value, document_id=document.id, number=number, deal_id=deal.id
    )
    return await _out(session, kind, document)


async def _update(
    session: AsyncSession,
    principal: Principal,
    kind: _Kind,
    document_id: int,
    data: QuoteUpdate | InvoiceUpdate,
) -> Any:
    document = await _load(session, kind, document_id)
    principal.require(kind.entity, Action.UPDATE, document.responsible_id)
    sent = data.model_fields_set
    if "responsible_id" in sent and data.responsible_id != document.responsible_id:
        principal.require(kind.entity, Action.UPDATE, data.responsible_id)
        if data.responsible_id is not None and await session.get(User, data.responsible_id) is None:
            raise NotFound("user", data.responsible_id)
        document.responsible_id = data.responsible_id
    if data.title is not None:
        document.title = data.title
    if data.issued_on is not None:
        document.issued_on = data.issued_on
    if data.comments is not None:
        document.comments = data.comments
    for name in ("valid_until", "due_on"):
        if name in sent:
            setattr(document, name, getattr(data, name))
    if data.status is not None:
        status = await _status(session, kind, data.status)
        document.status_id = status.id
        if isinstance(document, Invoice):
            if status.semantic != StatusSemantic.SUCCESS:
                document.paid_at = None
            elif document.paid_at is None:
                document.paid_at = utc_now()
    if data.rows is not None:
        await product_rows.replace_rows(session, (kind.owner, document.id), data.rows)
    await session.flush()
    log.info(
        "document_updated",
        kind=kind.kind.value,
        document_id=document.id,
        fields=sorted(sent),
        by=principal.login,
    )
    return await _out(session, kind, document)


async def _delete(session: AsyncSession, principal: Principal, kind: _Kind, document_id: int) -> None:
    document = await _load(session, kind, document_id)
    principal.require(kind.entity, Action.DELETE, document.responsible_id)
    await product_rows.delete_rows(session, (kind.owner, document_id))
    await session.delete(document)
    await session.flush()
    log.info(
        f"{kind.kind.value}_deleted", document_id=document_id, number=document.number, by=principal.login
    )


class _DocumentsResource:
    """What the quotes and invoices resources share: list, get, delete."""

    kind: ClassVar[_Kind]
    entity: ClassVar[Entity]
    filterable: ClassVar[Mapping[str, type]]
    _FILTERABLE: ClassVar[dict[str, type]] = {
        "number": str,
        "title": str,
        "status": str,
        "deal_id": int,
        "company_id": int,
        "contact_id": int,
        "responsible_id": int,
        "currency": str,
        "total": Decimal,
        "issued_on": date,
        "created_at": datetime,
    }
    sortable: ClassVar[tuple[str, ...]] = ("number", "title", "total", "issued_on", "created_at", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[Any]:
        model = self.kind.model
        stmt = (
            select(model)
            .join(DocumentStatus, DocumentStatus.id == model.status_id)
            .where(principal.visible(self.entity, Action.READ, model.responsible_id))
        )
        documents, total = await fetch_page(
            session,
            stmt,
            model,
            query,
            filterable=self.filterable,
            sortable=self.sortable,
            columns={"status": DocumentStatus.code},
        )
        items = await _outs(session, self.kind, documents)
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> Any:
        document = await _load(session, self.kind, id)
        principal.require(self.entity, Action.READ, document.responsible_id)
        return await _out(session, self.kind, document)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        await _delete(session, principal, self.kind, id)


class QuotesResource(_DocumentsResource):
    """``/api/v1/quotes``."""

    kind: ClassVar[_Kind] = _QUOTE
    entity: ClassVar[Entity] = Entity.QUOTE
    path: ClassVar[str] = "quotes"
    schema_out: ClassVar[type[BaseModel]] = QuoteOut
    schema_create: ClassVar[type[BaseModel]] = QuoteCreate
    schema_update: ClassVar[type[BaseModel]] = QuoteUpdate
    filterable: ClassVar[Mapping[str, type]] = {**_DocumentsResource._FILTERABLE, "valid_until": date}

    async def create(
        self, session: AsyncSession, principal: Principal, data: QuoteCreate, *, today: date | None = None
    ) -> QuoteOut:
        return await _create(session, principal, _QUOTE, data, {"valid_until": data.valid_until}, today=today)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: QuoteUpdate
    ) -> QuoteOut:
        return await _update(session, principal, _QUOTE, id, data)


class InvoicesResource(_DocumentsResource):
    """``/api/v1/invoices``."""

    kind: ClassVar[_Kind] = _INVOICE
    entity: ClassVar[Entity] = Entity.INVOICE
    path: ClassVar[str] = "invoices"
    schema_out: ClassVar[type[BaseModel]] = InvoiceOut
    schema_create: ClassVar[type[BaseModel]] = InvoiceCreate
    schema_update: ClassVar[type[BaseModel]] = InvoiceUpdate
    filterable: ClassVar[Mapping[str, type]] = {
        **_DocumentsResource._FILTERABLE,
        "quote_id": int,
        "due_on": date,
        "paid_at": datetime,
    }

    async def create(
        self, session: AsyncSession, principal: Principal, data: InvoiceCreate, *, today: date | None = None
    ) -> InvoiceOut:
        rows_from = None
        if data.quote_id is not None:
            quote = await _load(session, _QUOTE, data.quote_id)
            if quote.deal_id != data.deal_id:
                raise BadValue(
                    "quote_id", data.quote_id, f"quote {quote.number} is not of deal {data.deal_id}"
                )
            principal.require(Entity.QUOTE, Action.READ, quote.responsible_id)
            rows_from = (RowOwner.QUOTE.value, quote.id)
        status = await _status(session, _INVOICE, data.status)
        extra = {
            "quote_id": data.quote_id,
            "due_on": data.due_on,
            "paid_at": utc_now() if status.semantic == StatusSemantic.SUCCESS else None,
        }
        return await _create(session, principal, _INVOICE, data, extra, rows_from=rows_from, today=today)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: InvoiceUpdate
    ) -> InvoiceOut:
        return await _update(session, principal, _INVOICE, id, data)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        """Refused: an invoice keeps its number for good and is cancelled instead.

        A gap in the invoice numbers is the first thing an auditor asks about; the CANCELLED
        status keeps the number, the rows and the history.
        """
        invoice = await _load(session, _INVOICE, id)
        principal.require(Entity.INVOICE, Action.DELETE, invoice.responsible_id)
        raise KeptForTheRecord(f"invoice {invoice.number}", "CANCELLED")


@dataclass(frozen=True, slots=True)
class Printable:
    """Everything the printable page of a quote or an invoice shows."""

    kind: str
    document: QuoteOut | InvoiceOut
    status_name: str
    deal_title: str | None
    company: str | None
    contact: str | None
    responsible: str | None


async def printable(session: AsyncSession, principal: Principal, kind: str, document_id: int) -> Printable:
    """Load a document for printing, checking the read right on it."""
    try:
        spec = KINDS[kind]
    except KeyError:
        raise NotFound("document kind", kind) from None
    document = await _load(session, spec, document_id)
    principal.require(spec.entity, Action.READ, document.responsible_id)
    status = await session.get(DocumentStatus, document.status_id)

    async def name(model: Any, column: Any, key: int | None) -> str | None:
        return None if key is None else await session.scalar(select(column).where(model.id == key))

    return Printable(
        kind=spec.kind.value,
        document=await _out(session, spec, document),
        status_name=status.name if status is not None else "",
        deal_title=await name(Deal, Deal.title, document.deal_id),
        company=await name(Company, Company.title, document.company_id),
        contact=await name(Contact, Contact.name, document.contact_id),
        responsible=await name(User, User.name, document.responsible_id),
    )
