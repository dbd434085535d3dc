"""Contacts: the people we talk to, optionally working for one company."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin
from .company import Company

__all__ = ["Contact"]


class Contact(TimestampMixin, Base):
    """A client person; first slice: at most one company."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    company: Mapped[Company | None] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"Contact(id={self.id!r}, name={self.name!r})"
