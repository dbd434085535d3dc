"""Quotes and invoices made from deals, their status lists, and the number sequences they take."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin, UtcDateTime
from .money import Money

__all__ = [
    "DocumentKind",
    "DocumentStatus",
    "Invoice",
    "NumberCounter",
    "NumberReset",
    "NumberSequence",
    "Quote",
]


class DocumentKind(StrEnum):
    QUOTE = "quote"
    INVOICE = "invoice"


class NumberReset(StrEnum):
    """When a sequence starts again from 1 (the pattern must then show the year, or year and month)."""

    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


class DocumentStatus(Base):
    """One entry of the editable status list of quotes or of invoices.

    ``semantic`` as for stages: process (draft, sent...), success (accepted, paid), failure
    (declined, cancelled).
    """

    __tablename__ = "document_status"
    __table_args__ = (
        UniqueConstraint("kind", "code"),
        CheckConstraint("kind IN ('quote', 'invoice')", name="kind"),
        CheckConstraint("semantic IN ('process', 'success', 'failure')", name="semantic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(default=500)
    semantic: Mapped[str] = mapped_column(String(10))

    def __repr__(self) -> str:
        return f"DocumentStatus(kind={self.kind!r}, code={self.code!r})"


class NumberSequence(Base):
    """How documents of one kind are numbered, e.g. ``INV-{year}-{seq:05d}`` restarting every year."""

    __tablename__ = "number_sequence"
    __table_args__ = (CheckConstraint("reset IN ('never', 'yearly', 'monthly')", name="reset"),)

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    pattern: Mapped[str] = mapped_column(String(100))
    reset: Mapped[str] = mapped_column(String(10), default=NumberReset.YEARLY)

    def __repr__(self) -> str:
        return f"NumberSequence(code={self.code!r}, pattern={self.pattern!r})"


class NumberCounter(Base):
    """The last number given in one period of a sequence (period ``""`` when it never resets).

    Incremented in the transaction that creates the document, so a rolled-back document gives its
    number back and the numbers that remain have no gaps.
    """

    __tablename__ = "number_counter"

    sequence_code: Mapped[str] = mapped_column(
        ForeignKey("number_sequence.code", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class _Document(TimestampMixin):
    """What quotes and invoices share: number, customer, money, status, who is responsible."""

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    status_id: Mapped[int] = mapped_column(ForeignKey("document_status.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    issued_on: Mapped[date] = mapped_column(Date)
    discount_total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    net_total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    tax_total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    comments: Mapped[str] = mapped_column(Text, default="")


class Quote(_Document, Base):
    """A commercial offer sent to the customer, made from a deal's rows."""

    __tablename__ = "quote"

    valid_until: Mapped[date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"Quote(id={self.id!r}, number={self.number!r})"


class Invoice(_Document, Base):
    """A bill to the customer, made from a deal's rows (or from a quote's)."""

    __tablename__ = "invoice"

    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quote.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"Invoice(id={self.id!r}, number={self.number!r})"
