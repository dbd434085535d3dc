"""Phone numbers of contacts, companies and leads: the index the screen-pop and call log look up."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

__all__ = ["Phone", "PhoneKind", "PhoneOwner"]


class PhoneOwner(StrEnum):
    CONTACT = "contact"
    COMPANY = "company"
    LEAD = "lead"


class PhoneKind(StrEnum):
    WORK = "work"
    MOBILE = "mobile"
    HOME = "home"
    OTHER = "other"


class Phone(Base):
    """One number of one owner (polymorphic: no foreign key; services delete phones with owners).

    ``raw`` is what a person typed; ``e164`` is None when it does not parse, so such a row never
    matches a call. The extension part (``доб. 12``) is kept aside: calls reach the main number.
    """

    __tablename__ = "phone"
    __table_args__ = (
        CheckConstraint("owner_type IN ('contact', 'company', 'lead')", name="owner_type"),
        Index("ix_phone_owner", "owner_type", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[int]
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str | None] = mapped_column(String(20), index=True)
    extension: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10), default=PhoneKind.WORK)

    def __repr__(self) -> str:
        return f"Phone(id={self.id!r}, owner={self.owner_type}:{self.owner_id}, e164={self.e164!r})"
