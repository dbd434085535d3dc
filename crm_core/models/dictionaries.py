"""Editable dictionaries of leads: their statuses (with a meaning) and their sources.

``lead.status`` and ``lead.source`` hold a dictionary ``code``. Codes never change once created
(imports, reports and API clients keep them); names and order are free to edit. A status's
*semantic* is what the software acts on: ``process`` statuses are open (calls bind to such a lead),
the one ``success`` status is where conversion puts a lead, ``failure`` statuses close it as junk.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

__all__ = ["LeadSourceItem", "LeadStatusItem", "StatusSemantic"]


class StatusSemantic(StrEnum):
    PROCESS = "process"
    SUCCESS = "success"
    FAILURE = "failure"


class LeadStatusItem(Base):
    """One lead status: ``NEW``, ``IN_PROCESS``, ``PROCESSED``, ``CONVERTED`` (success), ``JUNK``..."""

    __tablename__ = "lead_status"
    __table_args__ = (CheckConstraint("semantic IN ('process', 'success', 'failure')", name="semantic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sort: Mapped[int] = mapped_column(default=100)
    semantic: Mapped[str] = mapped_column(String(10), default=StatusSemantic.PROCESS)

    def __repr__(self) -> str:
        return f"LeadStatusItem(code={self.code!r}, semantic={self.semantic!r})"


class LeadSourceItem(Base):
    """One lead source: ``CALL``, ``WEB``, ``EMAIL``, ``OTHER``..."""

    __tablename__ = "lead_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sort: Mapped[int] = mapped_column(default=100)

    def __repr__(self) -> str:
        return f"LeadSourceItem(code={self.code!r})"
