"""Companies (clients' organisations); their phones live in :mod:`crm_core.models.phone`."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..db import Base, TimestampMixin
from .keys import company_key

__all__ = ["Company"]


class Company(TimestampMixin, Base):
    """A client organisation."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    title_key: Mapped[str | None] = mapped_column(String(200), index=True)
    "The duplicate-control key of ``title`` (:func:`~crm_core.models.keys.company_key`)."
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    comments: Mapped[str] = mapped_column(Text, default="", server_default="")

    @validates("title")
    def _keep_key(self, _key: str, title: str) -> str:
        self.title_key = company_key(title)
        return title

    def __repr__(self) -> str:
        return f"Company(id={self.id!r}, title={self.title!r})"
