"""The product catalogue: items with unit, price, currency, VAT, active flag and an external id.

Rights as for sections (see :mod:`crm_core.sales.sections`): the catalogue is shared, so reading
needs the product read right at level ``all`` and changing it the product right at level ``all``.
Deleting a product leaves the rows made from it intact (they copied what they needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import Conflict, NotFound
from ..models import Product, ProductSection
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from .schemas import ProductCreate, ProductOut, ProductUpdate
from .sections import check_properties

__all__ = ["ExternalIdTaken", "ProductsResource"]

log = structlog.get_logger(__name__)


class ExternalIdTaken(Conflict):
    """Another product already has this external id (the key an accounting system matches on)."""

    error_id = "external-id-taken"

    def __init__(self, external_id: str, product_id: int) -> None:
        super().__init__(f"Product {product_id} already has the external id {external_id!r}")
        self.external_id = external_id
        self.product_id = product_id

    def details(self) -> dict[str, object]:
        return {"external_id": self.external_id, "product_id": self.product_id}


def _out(product: Product) -> ProductOut:
    return ProductOut.model_validate(product, from_attributes=True)


async def _get(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("product", product_id)
    return product


async def _section(session: AsyncSession, section_id: int | None) -> ProductSection | None:
    if section_id is None:
        return None
    section = await session.get(ProductSection, section_id)
    if section is None:
        raise NotFound("product section", section_id)
    return section


async def _check_external_id(session: AsyncSession, external_id: str | None, product_id: int | None) -> None:
    if external_id is None:
        return
    owner = await session.scalar(select(Product.id).where(Product.external_id == external_id))
    if owner is not None and owner != product_id:
        raise ExternalIdTaken(external_id, owner)


class ProductsResource:
    """``/api/v1/products``."""

    entity: ClassVar[Entity] = Entity.PRODUCT
    path: ClassVar[str] = "products"
    schema_out: ClassVar[type[BaseModel]] = ProductOut
    schema_create: ClassVar[type[BaseModel]] = ProductCreate
    schema_update: ClassVar[type[BaseModel]] = ProductUpdate
    filterable: ClassVar[Mapping[str, type]] = {
        "name": str,
        "section_id": int,
        "price": Decimal,
        "currency": str,
        "active": bool,
        "external_id": str,
    }
    sortable: ClassVar[tuple[str, ...]] = ("name", "price", "sort", "created_at", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[ProductOut]:
        principal.require(Entity.PRODUCT, Action.READ, None)
        rows, total = await fetch_page(
            session, select(Product), Product, query, filterable=self.filterable, sortable=self.sortable
        )
        return Page(items=[_out(p) for p in rows], total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> ProductOut:
        principal.require(Entity.PRODUCT, Action.READ, None)
        return _out(await _get(session, id))

    async def create(self, session: AsyncSession, principal: Principal, data: ProductCreate) -> ProductOut:
        principal.require(Entity.PRODUCT, Action.ADD, None)
        section = await _section(session, data.section_id)
        await _check_external_id(session, data.external_id, None)
        product = Product(
            **data.model_dump(exclude={"properties"}),
            properties=check_properties(section, data.properties),
        )
        session.add(product)
        await session.flush()
        log.info("product_created", product_id=product.id, by=principal.login)
        return _out(product)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: ProductUpdate
    ) -> ProductOut:
        principal.require(Entity.PRODUCT, Action.UPDATE, None)
        product = await _get(session, id)
        sent = data.model_fields_set
        nullable = {"section_id", "vat_rate", "external_id"}
        for name in sent - {"properties"}:
            value = getattr(data, name)
            if value is None and name not in nullable:
                continue
            if name == "external_id":
                await _check_external_id(session, value, product.id)
            setattr(product, name, value)
        if "section_id" in sent or "properties" in sent:
            section = await _section(session, product.section_id)
            properties = data.properties if data.properties is not None else product.properties
            product.properties = check_properties(section, properties)
        await session.flush()
        log.info("product_updated", product_id=product.id, by=principal.login, fields=sorted(sent))
        return _out(product)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        principal.require(Entity.PRODUCT, Action.DELETE, None)
        product = await _get(session, id)
        await session.delete(product)
        await session.flush()
        log.info("product_deleted", product_id=id, by=principal.login)
