"""Every dialplan version ever applied, with who applied it, when, how and why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UtcDateTime, utc_now

__all__ = ["DialplanSource", "DialplanVersion"]


class DialplanSource(StrEnum):
    """How a version came to be applied."""

    CLI = "cli"
    WEB = "web"
    SIGHUP = "sighup"
    STARTUP = "startup"
    "The daemon started with a file that was not the latest version (edited by hand)."
    ROLLBACK = "rollback"


class DialplanVersion(Base):
    """One applied dialplan: the YAML exactly as written to the file. Rows are never changed."""

    __tablename__ = "dialplan_version"
    __table_args__ = (
        CheckConstraint("source IN ('cli', 'web', 'sighup', 'startup', 'rollback')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    "Hex SHA-256 of the UTF-8 text: what tells an unchanged plan from a new one."
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    "The web user who applied it; None from the command line, SIGHUP and start-up."
    applied_by_name: Mapped[str] = mapped_column(String(200))
    "Who, as text: a login, ``cli:<unix user>``, ``sighup`` or ``startup`` (kept if the user goes)."
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))
    rolled_back_from: Mapped[int | None] = mapped_column(
        ForeignKey("dialplan_version.id", ondelete="SET NULL")
    )
    "For a rollback: the earlier version whose text this one restores."

    def __repr__(self) -> str:
        return f"DialplanVersion(id={self.id!r}, source={self.source!r}, sha256={self.sha256[:12]!r})"
