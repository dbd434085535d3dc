"""Users of the product: agents, supervisors and admins, each with an optional extension."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, String, func, true
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UtcDateTime, utc_now

__all__ = ["Role", "User"]


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class User(Base):
    """A person who logs in; ``extension`` ties them to their desk phone."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'supervisor', 'agent')", name="role"),
        CheckConstraint("locale IN ('en', 'ru')", name="locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    "argon2 hash; None means the user cannot log in (yet)."
    role: Mapped[str] = mapped_column(String(20), default=Role.AGENT)
    locale: Mapped[str | None] = mapped_column(String(2))
    "The pages' language the user chose (en, ru); None: the browser's, else the server's default."
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, login={self.login!r}, role={self.role!r})"
