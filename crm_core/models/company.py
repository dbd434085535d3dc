"""Companies (clients' organisations); their phones live in :mod:`crm_core.models.phone`."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin

__all__ = ["Company"]


class Company(TimestampMixin, Base):
    """A client organisation."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"Company(id={self.id!r}, title={self.title!r})"
