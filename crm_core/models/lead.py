"""Leads: prospects not yet qualified, e.g. an unknown number that called."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..db import Base, TimestampMixin, UtcDateTime
from .keys import company_key, person_key
from .money import Money

__all__ = ["CLOSED_LEAD_STATUSES", "Lead", "LeadSource", "LeadStatus"]


class LeadStatus(StrEnum):
    """The built-in status codes (the ``lead_status`` dictionary may add more)."""

    NEW = "NEW"
    IN_PROCESS = "IN_PROCESS"
    PROCESSED = "PROCESSED"
    CONVERTED = "CONVERTED"
    JUNK = "JUNK"


class LeadSource(StrEnum):
    """The built-in source codes (the ``lead_source`` dictionary may add more)."""

    CALL = "CALL"
    WEB = "WEB"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


CLOSED_LEAD_STATUSES: tuple[str, ...] = (LeadStatus.CONVERTED, LeadStatus.JUNK)
"""The built-in closed statuses. Whether a lead is open is decided by its status's semantic in the
``lead_status`` dictionary (:func:`crm_core.lookup.closed_statuses`); this tuple names the defaults."""


class Lead(TimestampMixin, Base):
    """A prospect.

    ``contact_id``/``company_id`` link the lead to a client we already know (a repeat lead), or to
    what it was converted to (then ``converted_at`` is set; a deal points back with its
    ``source_lead_id``).
    """

    __tablename__ = "lead"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)
    company_name: Mapped[str | None] = mapped_column(String(200))
    company_key: Mapped[str | None] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(20), default=LeadSource.OTHER)
    status: Mapped[str] = mapped_column(String(20), default=LeadStatus.NEW, index=True)
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0.00"), server_default="0")
    """Exact to the kopeck on both databases (:mod:`crm_core.models.money`); the product rows' total
    unless ``amount_manual``."""
    amount_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    "Someone typed the amount: the rows no longer change it (as for a deal)."
    currency: Mapped[str] = mapped_column(String(3), default="RUB", server_default="RUB")
    comments: Mapped[str] = mapped_column(Text, default="", server_default="")
    converted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    @validates("name")
    def _keep_name_key(self, _key: str, name: str | None) -> str | None:
        self.name_key = person_key(name)
        return name

    @validates("company_name")
    def _keep_company_key(self, _key: str, company_name: str | None) -> str | None:
        self.company_key = company_key(company_name)
        return company_name

    def __repr__(self) -> str:
        return f"Lead(id={self.id!r}, title={self.title!r}, status={self.status!r})"
