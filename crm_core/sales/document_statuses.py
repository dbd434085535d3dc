"""The status lists of quotes and of invoices: ``/api/v1/document-statuses``, edited like lead statuses.

Each entry belongs to one kind (``quote`` or ``invoice``) and has a code fixed once created; its
name, order and meaning (process, success, failure) are editable. The meaning is what the rules
read: an invoice reaching a success status is paid. Reading the list takes the read right on that
kind of document; changing it is a setting of the whole CRM (level "all" to update that kind).
A status that documents use cannot go (move them first), nor the last one of a kind (new documents
take the first status of their list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, ClassVar, Literal

import structlog
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import DocumentKind, DocumentStatus, Invoice, Quote, StatusSemantic
from ..query import fetch_page
from ..rights import Action, Entity, Forbidden, Level, Principal
from .errors import BadValue, InUse
from .schemas import Code

__all__ = [
    "DocumentStatusCreate",
    "DocumentStatusOut",
    "DocumentStatusUpdate",
    "DocumentStatusesResource",
]

log = structlog.get_logger(__name__)

StatusName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_ENTITY = {DocumentKind.QUOTE.value: Entity.QUOTE, DocumentKind.INVOICE.value: Entity.INVOICE}
_MODEL = {DocumentKind.QUOTE.value: Quote, DocumentKind.INVOICE.value: Invoice}


class DocumentStatusCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["quote", "invoice"]
    code: Code
    name: StatusName
    sort: int = 500
    semantic: StatusSemantic = StatusSemantic.PROCESS
    "process (draft, sent...), success (accepted, paid: an invoice there is paid) or failure."


class DocumentStatusUpdate(BaseModel):
    """The kind and the code stay; the rest changes when sent."""

    model_config = ConfigDict(extra="forbid")

    name: StatusName | None = None
    sort: int | None = None
    semantic: StatusSemantic | None = None


class DocumentStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    code: str
    name: str
    sort: int
    semantic: StatusSemantic


class DocumentStatusesResource:
    """``/api/v1/document-statuses``."""

    entity: ClassVar[Entity] = Entity.INVOICE
    path: ClassVar[str] = "document-statuses"
    schema_out: ClassVar[type[BaseModel]] = DocumentStatusOut
    schema_create: ClassVar[type[BaseModel]] = DocumentStatusCreate
    schema_update: ClassVar[type[BaseModel]] = DocumentStatusUpdate
    filterable: ClassVar[Mapping[str, type]] = {
        "id": int,
        "kind": str,
        "code": str,
        "name": str,
        "semantic": StatusSemantic,
    }
    sortable: ClassVar[Sequence[str]] = ("kind", "sort", "code", "name", "id")

    async def list(
        self, session: AsyncSession, principal: Principal, query: ListQuery
    ) -> Page[DocumentStatusOut]:
        """The statuses of the kinds of documents the user may read, each list in its order."""
        kinds = [k for k, e in _ENTITY.items() if principal.level(e, Action.READ) is not Level.NONE]
        if not kinds:
            raise Forbidden(Entity.INVOICE, Action.READ)
        if not query.sort:
            query = ListQuery(
                filters=query.filters, sort=("kind", "sort"), offset=query.offset, limit=query.limit
            )
        stmt = select(DocumentStatus).where(DocumentStatus.kind.in_(kinds))
        rows, total = await fetch_page(
            session, stmt, DocumentStatus, query, filterable=self.filterable, sortable=self.sortable
        )
        items = [DocumentStatusOut.model_validate(row) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> DocumentStatusOut:
        row = await self._row(session, id)
        principal.require_any(_ENTITY[row.kind], Action.READ)
        return DocumentStatusOut.model_validate(row)

    async def create(
        self, session: AsyncSession, principal: Principal, data: DocumentStatusCreate
    ) -> DocumentStatusOut:
        principal.require(_ENTITY[data.kind], Action.UPDATE, None)
        taken = select(DocumentStatus.id).where(
            DocumentStatus.kind == data.kind, DocumentStatus.code == data.code
        )
        if await session.scalar(taken) is not None:
            raise BadValue("code", data.code, f"the {data.kind} status {data.code!r} already exists")
        row = DocumentStatus(**data.model_dump(mode="json"))
        session.add(row)
        await session.flush()
        log.info("document_status_created", kind=row.kind, code=row.code, by=principal.login)
        return DocumentStatusOut.model_validate(row)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: DocumentStatusUpdate
    ) -> DocumentStatusOut:
        row = await self._row(session, id)
        principal.require(_ENTITY[row.kind], Action.UPDATE, None)
        changes = {k: v for k, v in data.model_dump(mode="json", exclude_unset=True).items() if v is not None}
        for key, value in changes.items():
            setattr(row, key, value)
        await session.flush()
        log.info(
            "document_status_updated",
            kind=row.kind,
            code=row.code,
            fields=sorted(changes),
            by=principal.login,
        )
        return DocumentStatusOut.model_validate(row)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        """Delete an unused status; :class:`InUse` names what still needs it."""
        row = await self._row(session, id)
        principal.require(_ENTITY[row.kind], Action.UPDATE, None)
        what = f"the {row.kind} status {row.code!r}"
        model = _MODEL[row.kind]
        used = await session.scalar(select(func.count()).select_from(model).where(model.status_id == row.id))
        if used:
            raise InUse(what, f"{used} {row.kind}(s); move them to another status first")
        others = await session.scalar(
            select(func.count())
            .select_from(DocumentStatus)
            .where(DocumentStatus.kind == row.kind, DocumentStatus.id != row.id)
        )
        if not others:
            raise InUse(what, f"every new {row.kind}: it is the last status of the list")
        await session.delete(row)
        await session.flush()
        log.info("document_status_deleted", kind=row.kind, code=row.code, by=principal.login)

    async def _row(self, session: AsyncSession, id: int) -> DocumentStatus:
        row = await session.get(DocumentStatus, id)
        if row is None:
            raise NotFound("document status", id)
        return row
