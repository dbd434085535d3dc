"""E-mail addresses of contacts, companies and leads, typed like phones (work, home, mailing...)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..db import Base
from .keys import email_key

__all__ = ["Email", "EmailKind"]


class EmailKind(StrEnum):
    WORK = "work"
    HOME = "home"
    MAILING = "mailing"
    "The address newsletters go to."
    OTHER = "other"


class Email(Base):
    """One address of one owner (polymorphic like :class:`~crm_core.models.phone.Phone`).

    ``value`` is what a person typed; ``value_key`` is its lower-cased form, the duplicate and
    exclusion key (None when it is not an address, so it matches nothing).
    """

    __tablename__ = "email"
    __table_args__ = (
        CheckConstraint("owner_type IN ('contact', 'company', 'lead')", name="owner_type"),
        CheckConstraint("kind IN ('work', 'home', 'mailing', 'other')", name="kind"),
        Index("ix_email_owner", "owner_type", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[int]
    value: Mapped[str] = mapped_column(String(254))
    value_key: Mapped[str | None] = mapped_column(String(254), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=EmailKind.WORK)

    @validates("value")
    def _keep_key(self, _key: str, value: str) -> str:
        self.value_key = email_key(value)
        return value

    def __repr__(self) -> str:
        return f"Email(id={self.id!r}, owner={self.owner_type}:{self.owner_id}, value_key={self.value_key!r})"
