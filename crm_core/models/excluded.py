"""Numbers and e-mails that never match a card nor create one: our own DIDs and an exclusion list."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

__all__ = ["ExcludedEmail", "ExcludedNumber", "ExclusionReason"]


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


class ExcludedEmail(Base):
    """One e-mail address (lower-cased, see :func:`~crm_core.models.keys.email_key`) the CRM ignores.

    Like :class:`ExcludedNumber`: e.g. the company's own mailboxes, so that mail or an import
    never makes a card for them.
    """

    __tablename__ = "excluded_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(String(40), default=ExclusionReason.EXCLUDED)

    def __repr__(self) -> str:
        return f"ExcludedEmail(email={self.email!r}, reason={self.reason!r})"
