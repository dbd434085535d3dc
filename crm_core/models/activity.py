"""The call log: one row per call per PBX, bound to CRM cards, with its recordings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from recordings.state import RecordingStatus

from ..db import Base, UtcDateTime, utc_now

__all__ = ["CallActivity", "CrmEntity", "Recording", "RecordingStatus"]


class CrmEntity(StrEnum):
    LEAD = "lead"
    CONTACT = "contact"
    COMPANY = "company"
    NONE = "none"


class CallActivity(Base):
    """A finished call as the CRM keeps it; unique on (``pbx_id``, ``call_id``) so replays never duplicate.

    ``crm_entity``/``crm_entity_id``/``crm_created`` are the outcome of the call -> CRM rules, kept
    so a replay answers exactly what the first pass decided.
    """

    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("pbx_id", "call_id"),
        CheckConstraint("crm_entity IN ('lead', 'contact', 'company', 'none')", name="crm_entity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pbx_id: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(100))
    direction: Mapped[str] = mapped_column(String(10))
    external_number: Mapped[str | None] = mapped_column(String(64), index=True)
    did: Mapped[str | None] = mapped_column(String(64))
    extensions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    talk_seconds: Mapped[int] = mapped_column(default=0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    "pickups, transfers, conference, listeners, caller, dialled, cause, resynced."
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"), index=True)
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    crm_entity: Mapped[str] = mapped_column(String(10), default=CrmEntity.NONE)
    crm_entity_id: Mapped[int | None]
    crm_created: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    "Exempts the call's recordings from retention (``cti recordings hold``/``release``, audited)."
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())

    recordings: Mapped[list[Recording]] = relationship(
        lazy="raise", back_populates="call", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"CallActivity(id={self.id!r}, pbx_id={self.pbx_id!r}, call_id={self.call_id!r})"


class Recording(Base):
    """One recording file of a call: the PBX's file, and what the pipeline made of it.

    ``path`` is the file as the PBX named it (its spool path); (``pbx_id``, ``call_id``, ``path``)
    is its natural key. ``call_pk`` stays empty while the file is ready before the call row is
    written, and is set when the call is logged. Every ``*_key`` is relative to the recordings
    directory and is the only thing a file path is ever built from.
    """

    __tablename__ = "recording"
    __table_args__ = (
        UniqueConstraint("call_pk", "path"),
        UniqueConstraint("pbx_id", "call_id", "path"),
        CheckConstraint("status IN ('pending', 'stored', 'converted', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_pk: Mapped[int | None] = mapped_column(ForeignKey("call.id", ondelete="CASCADE"), index=True)
    pbx_id: Mapped[str | None] = mapped_column(String(40))
    call_id: Mapped[str | None] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(
        String(10), default=RecordingStatus.PENDING.value, server_default=text("'pending'"), index=True
    )
    storage_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    "The file served: the converted copy, else the stored original, else a kept unusable file."
    original_key: Mapped[str | None] = mapped_column(String(300))
    "The stored original WAV while it is kept (until converted, or for good by policy)."
    peaks_key: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64))
    "Of the file at ``storage_key``."
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    format: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(String(500))
    "Why the last attempt failed (shown to supervisors; never a secret)."
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())
    stored_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utc_now, onupdate=utc_now, server_default=func.now()
    )

    call: Mapped[CallActivity | None] = relationship(lazy="raise", back_populates="recordings")

    def __repr__(self) -> str:
        return f"Recording(id={self.id!r}, call_pk={self.call_pk!r}, status={self.status!r})"
