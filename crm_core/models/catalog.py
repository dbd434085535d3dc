"""The product catalogue: sections (a tree, each with its own custom fields) and products."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin
from .money import Price, Rate

__all__ = ["Product", "ProductSection"]


class ProductSection(TimestampMixin, Base):
    """A catalogue folder; ``fields`` defines the custom fields its products carry.

    ``fields`` is a list of ``{"code", "name", "type", "required"}`` (type: string, number, boolean,
    date), checked by :mod:`crm_core.sales.sections`. A product takes the fields of its own section
    only: sections differ too much (a service has no weight, a cable has no duration) to inherit.
    """

    __tablename__ = "product_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_section.id", ondelete="RESTRICT"), index=True
    )
    sort: Mapped[int] = mapped_column(default=500)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"ProductSection(id={self.id!r}, name={self.name!r})"


class Product(TimestampMixin, Base):
    """A catalogue item; rows copy its name, unit, price and VAT, so later edits never change a deal.

    ``vat_rate`` None means "no VAT" (not the same as a 0 % rate on an invoice). ``vat_included``
    says whether ``price`` already contains the VAT. ``external_id`` is the key of the same item in
    an accounting system (1C), unique when set.
    """

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_section.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(20), default="pcs")
    price: Mapped[Decimal] = mapped_column(Price(), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    vat_rate: Mapped[Decimal | None] = mapped_column(Rate())
    vat_included: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    sort: Mapped[int] = mapped_column(default=500)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    "Values of the section's custom fields, by field code."

    def __repr__(self) -> str:
        return f"Product(id={self.id!r}, name={self.name!r})"
