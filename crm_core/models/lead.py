"""Leads: prospects not yet qualified, e.g. an unknown number that called."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin

__all__ = ["CLOSED_LEAD_STATUSES", "Lead", "LeadSource", "LeadStatus"]


class LeadStatus(StrEnum):
    NEW = "NEW"
    IN_PROCESS = "IN_PROCESS"
    PROCESSED = "PROCESSED"
    CONVERTED = "CONVERTED"
    JUNK = "JUNK"


class LeadSource(StrEnum):
    CALL = "CALL"
    WEB = "WEB"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


CLOSED_LEAD_STATUSES: tuple[str, ...] = (LeadStatus.CONVERTED, LeadStatus.JUNK)
"A lead in any other status is open: calls bind to it."


class Lead(TimestampMixin, Base):
    """A prospect; ``contact_id``/``company_id`` link a repeat lead to a client we already know."""

    __tablename__ = "lead"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    company_name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20), default=LeadSource.OTHER)
    status: Mapped[str] = mapped_column(String(20), default=LeadStatus.NEW, index=True)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)

    @property
    def is_open(self) -> bool:
        """True unless converted or junk."""
        return self.status not in CLOSED_LEAD_STATUSES

    def __repr__(self) -> str:
        return f"Lead(id={self.id!r}, title={self.title!r}, status={self.status!r})"
