"""Product sections: the catalogue's folders, each defining the custom fields of its products.

The catalogue is shared by everyone, so its records have no responsible: reading needs the
product read right at level ``all`` (every built-in role has it), changing it the matching
product right at level ``all`` (administrators). Changing a section's fields applies to products
as they are next saved; stored values are not rewritten behind their owners' backs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import Product, ProductSection
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from .errors import BadValue, InUse
from .schemas import SectionCreate, SectionField, SectionOut, SectionUpdate

__all__ = ["SectionsResource", "check_properties"]

log = structlog.get_logger(__name__)

_MAX_DEPTH = 20


def _out(section: ProductSection) -> SectionOut:
    return SectionOut.model_validate(section, from_attributes=True)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except ArithmeticError:
            return False
    return False


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


_CHECKS: dict[str, Any] = {
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "number": _is_number,
    "date": _is_date,
}


def _bad(where: str, value: Any, field: SectionField) -> None:
    expected = {
        "string": "text",
        "boolean": "true or false",
        "number": "a number",
        "date": "a date (YYYY-MM-DD)",
    }
    raise BadValue(where, value, f"{field.name} must be {expected[field.type]}")


def check_properties(
    section: ProductSection | None, properties: Mapping[str, Any], *, where: str = "properties"
) -> dict[str, Any]:
    """Validate a product's custom field values against its section's fields; return what to store."""
    fields = {f["code"]: SectionField.model_validate(f) for f in (section.fields if section else [])}
    for code in properties:
        if code not in fields:
            owner = f"section {section.name!r}" if section else "a product outside any section"
            raise BadValue(
                f"{where}.{code}", properties[code], f"not a custom field of {owner}", tuple(fields)
            )
    result: dict[str, Any] = {}
    for code, field in fields.items():
        value = properties.get(code)
        if value is None:
            if field.required:
                raise BadValue(f"{where}.{code}", None, f"{field.name} is required in this section")
            continue
        if not _CHECKS[field.type](value):
            _bad(f"{where}.{code}", value, field)
        result[code] = value
    return result


async def _get(session: AsyncSession, section_id: int) -> ProductSection:
    section = await session.get(ProductSection, section_id)
    if section is None:
        raise NotFound("product section", section_id)
    return section


async def _check_parent(session: AsyncSession, section_id: int | None, parent_id: int | None) -> None:
    """The parent must exist and must not be the section itself or one of its descendants."""
    current = parent_id
    for _ in range(_MAX_DEPTH):
        if current is None:
            return
        if current == section_id:
            raise BadValue("parent_id", parent_id, "a section cannot be inside itself")
        current = (await _get(session, current)).parent_id
    raise BadValue("parent_id", parent_id, f"sections nest at most {_MAX_DEPTH} deep")


class SectionsResource:
    """``/api/v1/product-sections``."""

    entity: ClassVar[Entity] = Entity.PRODUCT
    path: ClassVar[str] = "product-sections"
    schema_out: ClassVar[type[BaseModel]] = SectionOut
    schema_create: ClassVar[type[BaseModel]] = SectionCreate
    schema_update: ClassVar[type[BaseModel]] = SectionUpdate
    filterable: ClassVar[Mapping[str, type]] = {"name": str, "parent_id": int}
    sortable: ClassVar[tuple[str, ...]] = ("name", "sort", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[SectionOut]:
        principal.require(Entity.PRODUCT, Action.READ, None)
        rows, total = await fetch_page(
            session,
            select(ProductSection),
            ProductSection,
            query,
            filterable=self.filterable,
            sortable=self.sortable,
        )
        return Page(items=[_out(s) for s in rows], total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> SectionOut:
        principal.require(Entity.PRODUCT, Action.READ, None)
        return _out(await _get(session, id))

    async def create(self, session: AsyncSession, principal: Principal, data: SectionCreate) -> SectionOut:
        principal.require(Entity.PRODUCT, Action.ADD, None)
        await _check_parent(session, None, data.parent_id)
        _check_unique_codes(data.fields)
        section = ProductSection(
            name=data.name,
            parent_id=data.parent_id,
            sort=data.sort,
            fields=[f.model_dump() for f in data.fields],
        )
        session.add(section)
        await session.flush()
        log.info("product_section_created", section_id=section.id, by=principal.login)
        return _out(section)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: SectionUpdate
    ) -> SectionOut:
        principal.require(Entity.PRODUCT, Action.UPDATE, None)
        section = await _get(session, id)
        sent = data.model_fields_set
        if "name" in sent and data.name is not None:
            section.name = data.name
        if "sort" in sent and data.sort is not None:
            section.sort = data.sort
        if "parent_id" in sent:
            await _check_parent(session, section.id, data.parent_id)
            section.parent_id = data.parent_id
        if "fields" in sent and data.fields is not None:
            _check_unique_codes(data.fields)
            section.fields = [f.model_dump() for f in data.fields]
        await session.flush()
        log.info("product_section_updated", section_id=section.id, by=principal.login, fields=sorted(sent))
        return _out(section)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        principal.require(Entity.PRODUCT, Action.DELETE, None)
        section = await _get(session, id)
        if await session.scalar(select(exists().where(ProductSection.parent_id == id))):
            raise InUse(f"product section {section.name!r}", "its sub-sections")
        if await session.scalar(select(exists().where(Product.section_id == id))):
            raise InUse(f"product section {section.name!r}", "its products (move them first)")
        await session.delete(section)
        await session.flush()
        log.info("product_section_deleted", section_id=id, by=principal.login)


def _check_unique_codes(fields: list[SectionField]) -> None:
    seen: set[str] = set()
    for index, field in enumerate(fields):
        if field.code in seen:
            raise BadValue(f"fields[{index}].code", field.code, "used twice in this section")
        seen.add(field.code)
