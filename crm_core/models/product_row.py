"""Product rows: one table for the rows of leads, deals, quotes and invoices."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from .money import Money, Price, Quantity, Rate

__all__ = ["DiscountType", "ProductRow", "RowOwner"]


class RowOwner(StrEnum):
    LEAD = "lead"
    DEAL = "deal"
    QUOTE = "quote"
    INVOICE = "invoice"


class DiscountType(StrEnum):
    NONE = "none"
    PERCENT = "percent"
    "``discount_value`` is a percentage of the unit price."
    SUM = "sum"
    "``discount_value`` is an amount off each unit, in the owner's currency."


class ProductRow(Base):
    """One line of a lead, deal, quote or invoice, in the owner's currency.

    The inputs are ``quantity``, ``price`` (per unit, VAT included when ``tax_included``), the
    discount and the tax rate; ``discount_amount``, ``net_amount``, ``tax_amount`` and ``total`` are
    computed by :func:`crm_core.sales.rows.compute` and stored, so an owner's totals and any report
    are exact sums in SQL. The owner is polymorphic (``owner_type``, ``owner_id``): services delete
    an owner's rows with it.
    """

    __tablename__ = "product_row"
    __table_args__ = (
        CheckConstraint("owner_type IN ('lead', 'deal', 'quote', 'invoice')", name="owner_type"),
        CheckConstraint("discount_type IN ('none', 'percent', 'sum')", name="discount_type"),
        Index("ix_product_row_owner", "owner_type", "owner_id", "sort"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[int]
    sort: Mapped[int] = mapped_column(default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(20), default="pcs")
    quantity: Mapped[Decimal] = mapped_column(Quantity())
    price: Mapped[Decimal] = mapped_column(Price())
    discount_type: Mapped[str] = mapped_column(String(10), default=DiscountType.NONE)
    discount_value: Mapped[Decimal] = mapped_column(Price(), default=Decimal(0))
    tax_rate: Mapped[Decimal | None] = mapped_column(Rate())
    tax_included: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    discount_amount: Mapped[Decimal] = mapped_column(Money())
    net_amount: Mapped[Decimal] = mapped_column(Money())
    tax_amount: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())

    def __repr__(self) -> str:
        return f"ProductRow(id={self.id!r}, owner={self.owner_type}:{self.owner_id}, name={self.name!r})"
