"""Deals, their contacts, and the history of the stages they went through."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin, UtcDateTime, utc_now
from .money import Money

__all__ = ["Deal", "DealContact", "DealStageHistory"]


class Deal(TimestampMixin, Base):
    """A sale in progress (or won, or lost) in one pipeline.

    ``amount`` follows the product rows' total unless ``amount_manual`` (someone typed it).
    ``passed_mask`` summarises the stage history: bit ``Stage.bit`` is set once the deal has been in
    that stage of its current pipeline. It is written only together with a history row, and lets the
    funnel report answer from one GROUP BY over deals however long the histories grow.
    """

    __tablename__ = "deal"
    __table_args__ = (
        # The funnel's one query reads only this index (SQLite and PostgreSQL index-only scans), in
        # GROUP BY order, so 200,000 deals need no table access and no sort.
        Index(
            "ix_deal_funnel",
            "pipeline_id",
            "stage_id",
            "passed_mask",
            "currency",
            "created_at",
            "responsible_id",
            "amount",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"), index=True)
    "Indexed alone too: deleting a stage checks no deal is in it, whatever the pipeline."
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    amount_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    source_lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"), index=True)
    loss_reason: Mapped[str | None] = mapped_column(Text)
    "Why it was lost; required while the deal is in a failure stage."
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    close_date: Mapped[date | None] = mapped_column(Date)
    "When the deal is expected to close (a plan, not a fact)."
    comments: Mapped[str] = mapped_column(Text, default="")
    passed_mask: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return f"Deal(id={self.id!r}, title={self.title!r}, stage_id={self.stage_id!r})"


class DealContact(Base):
    """A contact taking part in a deal; the lowest ``sort`` is the main contact."""

    __tablename__ = "deal_contact"

    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    sort: Mapped[int] = mapped_column(default=0)


class DealStageHistory(Base):
    """One stay of a deal in a stage: entered, left (None while it is still there), by whom, why."""

    __tablename__ = "deal_stage_history"
    __table_args__ = (Index("ix_deal_stage_history_deal", "deal_id", "entered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deal.id", ondelete="CASCADE"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"), index=True)
    "Indexed alone too: deleting a stage checks no deal is in it, whatever the pipeline."
    semantic: Mapped[str] = mapped_column(String(10))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    "The deal's responsible at the time (reports by person stay true after a hand-over)."
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    loss_reason: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"DealStageHistory(deal_id={self.deal_id!r}, stage_id={self.stage_id!r})"
