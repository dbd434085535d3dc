"""The shape every CRM entity service offers, so the REST API and the pages are built once for all.

A :class:`Resource` is one entity's service: list with filter, sort and paging; get; create; update;
delete; each taking the caller's :class:`~crm_core.rights.Principal` and enforcing rights itself.
Services work inside the caller's session and never commit: the caller (one API request, one import)
owns the transaction, so a failure anywhere changes nothing.

Inputs and outputs are pydantic models: they validate what clients send and give the OpenAPI
document its schemas for free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from .rights import Entity, Principal

__all__ = ["MAX_LIMIT", "OPERATORS", "ListQuery", "Page", "Resource"]

MAX_LIMIT = 500
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "isnull")
"""Filter operators, written ``field__op=value`` (``eq`` when no suffix); ``in`` takes a comma list,
``isnull`` takes true/false, ``contains`` is case-insensitive."""

OutT = TypeVar("OutT", bound=BaseModel, covariant=True)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a list asks for; services reject unknown fields and operators with ``Invalid``."""

    filters: Mapping[str, str] = field(default_factory=dict)
    """``{"title__contains": "рога", "stage_id__in": "3,4"}`` as the query string gave them."""
    sort: Sequence[str] = ()
    "Field names, ``-`` first for descending; the id breaks ties so paging is stable."
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page(Generic[OutT]):
    items: list[OutT]
    total: int
    offset: int
    limit: int


class Resource(Protocol[OutT]):
    """One entity's service as the API sees it."""

    entity: ClassVar[Entity]
    path: ClassVar[str]
    "The plural path segment under ``/api/v1/`` (``contacts``, ``deals``...)."
    schema_out: ClassVar[type[BaseModel]]
    schema_create: ClassVar[type[BaseModel]]
    schema_update: ClassVar[type[BaseModel]]
    "Every field optional; only the fields a client sent are changed (``model_fields_set``)."
    filterable: ClassVar[Mapping[str, type]]
    "Field name -> Python type of its values (used to parse filter values and to document them)."
    sortable: ClassVar[Sequence[str]]

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[OutT]: ...

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> OutT: ...

    async def create(self, session: AsyncSession, principal: Principal, data: BaseModel) -> OutT: ...

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: BaseModel) -> OutT: ...

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None: ...
