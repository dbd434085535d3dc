"""The audit trail: who did what to which thing, and when. Any feature may write to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UtcDateTime, utc_now

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One audited action, e.g. ``dialplan.apply`` of ``dialplan_version:7`` by ``admin``."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utc_now, server_default=func.now(), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    "The logged-in user, when a person in the web UI acted."
    actor: Mapped[str] = mapped_column(String(200))
    "Who, as text (kept when the user is deleted): a login, ``cli:<unix user>``, ``sighup``..."
    action: Mapped[str] = mapped_column(String(64), index=True)
    "``<area>.<verb>``: ``dialplan.apply``, ``dialplan.rollback``..."
    target: Mapped[str] = mapped_column(String(200), default="")
    "What was acted on, e.g. ``dialplan_version:7``."
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id!r}, action={self.action!r}, actor={self.actor!r})"
