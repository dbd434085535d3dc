"""Activities: calls, meetings, tasks and notes, each bound to one or several CRM cards.

An activity is written once and shown on the timeline of every card it is bound to (a meeting with
a contact about a deal shows on both). Bindings are polymorphic like phones: ``owner_type`` names
the card kind, so deals (another package's table) bind the same way. Logged phone calls stay in
the ``call`` table; an activity of kind ``call`` is a planned call or a call logged by hand, and may
point at a logged call with ``call_pk``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin, UtcDateTime

__all__ = ["Activity", "ActivityBinding", "ActivityKind", "BindingOwner"]


class ActivityKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    TASK = "task"
    NOTE = "note"


class BindingOwner(StrEnum):
    LEAD = "lead"
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"


class Activity(TimestampMixin, Base):
    """Something done or to do with a client; ``start_at`` places it on the timeline."""

    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'meeting', 'task', 'note')", name="kind"),
        CheckConstraint("direction IS NULL OR direction IN ('inbound', 'outbound')", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[str | None] = mapped_column(String(10))
    "For calls: inbound or outbound."
    start_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    "The end of a meeting or call, or the deadline of a task."
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    call_pk: Mapped[int | None] = mapped_column(ForeignKey("call.id", ondelete="SET NULL"), index=True)

    bindings: Mapped[list[ActivityBinding]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ActivityBinding.owner_type",
    )

    def __repr__(self) -> str:
        return f"Activity(id={self.id!r}, kind={self.kind!r}, subject={self.subject!r})"


class ActivityBinding(Base):
    """The activity shows on this card's timeline."""

    __tablename__ = "activity_binding"
    __table_args__ = (
        CheckConstraint("owner_type IN ('lead', 'contact', 'company', 'deal')", name="owner_type"),
        Index("ix_activity_binding_owner", "owner_type", "owner_id"),
    )

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10), primary_key=True)
    owner_id: Mapped[int] = mapped_column(primary_key=True)

    def __repr__(self) -> str:
        return f"ActivityBinding(activity_id={self.activity_id!r}, owner={self.owner_type}:{self.owner_id})"
