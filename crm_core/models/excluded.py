"""Numbers that never match a card nor create a lead: our own DIDs and an exclusion list."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

__all__ = ["ExcludedNumber", "ExclusionReason"]


class ExclusionReason(StrEnum):
    OWN_NUMBER = "own number"
    EXCLUDED = "excluded"


class ExcludedNumber(Base):
    """One E.164 number the call -> CRM rules ignore."""

    __tablename__ = "excluded_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    reason: Mapped[str] = mapped_column(String(40), default=ExclusionReason.EXCLUDED)

    def __repr__(self) -> str:
        return f"ExcludedNumber(e164={self.e164!r}, reason={self.reason!r})"
