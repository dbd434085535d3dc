"""The lead status and source dictionaries: editable lists whose codes the rest of the CRM relies on.

Codes are fixed once created; names, order and (for statuses) open/junk meaning are editable by
users with "all" rights to update leads. A few codes carry behaviour and stay: ``NEW`` (call
logging files leads there, so it stays open), the success status ``CONVERTED`` (where conversion
puts a lead), ``CALL`` (the source of leads from calls) and ``OTHER`` (the default source). An entry
that leads still use cannot be removed either: the message says how many.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import Conflict, NotFound
from ..models import Lead, LeadSource, LeadSourceItem, LeadStatus, LeadStatusItem, StatusSemantic
from ..query import fetch_page
from ..rights import Action, Entity, Forbidden, Level, Principal
from .errors import BadValue, InUse
from .schemas import (
    LeadSourceCreate,
    LeadSourceOut,
    LeadSourceUpdate,
    LeadStatusCreate,
    LeadStatusOut,
    LeadStatusUpdate,
)

__all__ = [
    "LeadSourcesResource",
    "LeadStatusesResource",
    "source_codes",
    "status_semantics",
    "success_status",
]

_KEEP_STATUSES = {LeadStatus.NEW.value: "call logging files new leads in it"}
_KEEP_SOURCES = {
    LeadSource.CALL.value: "call logging files leads from calls with it",
    LeadSource.OTHER.value: "it is the default source",
}


async def status_semantics(session: AsyncSession) -> dict[str, str]:
    """Every status code with its semantic (a handful of rows), in the dictionary's order."""
    rows = await session.execute(
        select(LeadStatusItem.code, LeadStatusItem.semantic).order_by(LeadStatusItem.sort, LeadStatusItem.id)
    )
    return {code: semantic for code, semantic in rows}


async def source_codes(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(LeadSourceItem.code).order_by(LeadSourceItem.sort)))


async def success_status(session: AsyncSession) -> str:
    """The code conversion moves a lead to (``CONVERTED`` unless renamed by a later revision)."""
    code = await session.scalar(
        select(LeadStatusItem.code).where(LeadStatusItem.semantic == StatusSemantic.SUCCESS)
    )
    if code is None:  # the migration seeds it and nothing here deletes it
        raise Conflict("The lead status dictionary has no success status")
    return code


def _require_admin(principal: Principal) -> None:
    """Dictionaries are settings of the whole CRM: changing them takes "all" rights to update leads."""
    if principal.level(Entity.LEAD, Action.UPDATE) is not Level.ALL:
        raise Forbidden(Entity.LEAD, Action.UPDATE)


class _Dictionary:
    entity: ClassVar[Entity] = Entity.LEAD
    model: ClassVar[Any]
    what: ClassVar[str]
    lead_field: ClassVar[str]
    "The lead attribute holding the code."
    keep: ClassVar[Mapping[str, str]]
    schema_out: ClassVar[Any]
    sortable: ClassVar = ("sort", "code", "name", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[Any]:
        principal.require_any(Entity.LEAD, Action.READ)
        if not query.sort:
            query = ListQuery(filters=query.filters, sort=("sort",), offset=query.offset, limit=query.limit)
        rows, total = await fetch_page(
            session, select(self.model), self.model, query, filterable=self.filterable, sortable=self.sortable
        )
        items = [self.schema_out.model_validate(row) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> Any:
        principal.require_any(Entity.LEAD, Action.READ)
        return self.schema_out.model_validate(await self._row(session, id))

    async def create(self, session: AsyncSession, principal: Principal, data: Any) -> Any:
        _require_admin(principal)
        if await session.scalar(select(self.model.id).where(self.model.code == data.code)) is not None:
            raise BadValue("code", data.code, f"{self.what} {data.code!r} already exists")
        row = self.model(**data.model_dump())
        session.add(row)
        await session.flush()
        return self.schema_out.model_validate(row)

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: Any) -> Any:
        _require_admin(principal)
        row = await self._row(session, id)
        changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
        self._check_update(row, changes)
        for key, value in changes.items():
            setattr(row, key, value)
        await session.flush()
        return self.schema_out.model_validate(row)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        _require_admin(principal)
        row = await self._row(session, id)
        if row.code in self.keep:
            raise InUse(self.what, row.code, self.keep[row.code])
        self._check_delete(row)
        used = await session.scalar(
            select(func.count()).select_from(Lead).where(getattr(Lead, self.lead_field) == row.code)
        )
        if used:
            raise InUse(self.what, row.code, f"{used} lead(s) use it; move them first")
        await session.delete(row)
        await session.flush()

    async def _row(self, session: AsyncSession, id: int) -> Any:
        row = await session.get(self.model, id)
        if row is None:
            raise NotFound(self.what, id)
        return row

    def _check_update(self, row: Any, changes: dict[str, Any]) -> None:
        """Subclasses refuse changes that would break behaviour tied to a code."""

    def _check_delete(self, row: Any) -> None:
        """Subclasses refuse removing entries the software needs."""


class LeadStatusesResource(_Dictionary):
    path: ClassVar[str] = "lead-statuses"
    model: ClassVar[Any] = LeadStatusItem
    what: ClassVar[str] = "lead status"
    lead_field: ClassVar[str] = "status"
    keep: ClassVar[Mapping[str, str]] = _KEEP_STATUSES
    schema_out: ClassVar[Any] = LeadStatusOut
    schema_create: ClassVar[Any] = LeadStatusCreate
    schema_update: ClassVar[Any] = LeadStatusUpdate
    filterable: ClassVar[Mapping[str, type]] = {"code": str, "name": str, "semantic": StatusSemantic}

    def _check_update(self, row: Any, changes: dict[str, Any]) -> None:
        semantic = changes.get("semantic")
        if semantic is None or semantic == row.semantic:
            return
        if row.semantic == StatusSemantic.SUCCESS:
            raise BadValue("semantic", semantic, f"{row.code!r} is the conversion status and stays a success")
        if row.code in _KEEP_STATUSES:
            raise BadValue("semantic", semantic, f"{row.code!r} stays open: {_KEEP_STATUSES[row.code]}")

    def _check_delete(self, row: Any) -> None:
        if row.semantic == StatusSemantic.SUCCESS:
            raise InUse(self.what, row.code, "conversion moves leads to it")


class LeadSourcesResource(_Dictionary):
    path: ClassVar[str] = "lead-sources"
    model: ClassVar[Any] = LeadSourceItem
    what: ClassVar[str] = "lead source"
    lead_field: ClassVar[str] = "source"
    keep: ClassVar[Mapping[str, str]] = _KEEP_SOURCES
    schema_out: ClassVar[Any] = LeadSourceOut
    schema_create: ClassVar[Any] = LeadSourceCreate
    schema_update: ClassVar[Any] = LeadSourceUpdate
    filterable: ClassVar[Mapping[str, type]] = {"code": str, "name": str}
