"""Contacts: the people we talk to, working for any number of companies (:mod:`.links`)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..db import Base, TimestampMixin
from .company import Company
from .keys import person_key

__all__ = ["Contact"]


class Contact(TimestampMixin, Base):
    """A client person; ``company_id`` is the primary company (also a ``contact_company`` row)."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)
    "The duplicate-control key of ``name`` (:func:`~crm_core.models.keys.person_key`)."
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    comments: Mapped[str] = mapped_column(Text, default="", server_default="")

    company: Mapped[Company | None] = relationship(lazy="raise")

    @validates("name")
    def _keep_key(self, _key: str, name: str) -> str:
        self.name_key = person_key(name)
        return name

    def __repr__(self) -> str:
        return f"Contact(id={self.id!r}, name={self.name!r})"
