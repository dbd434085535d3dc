"""Deal pipelines (Bitrix24's deal categories) and their ordered stages."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin
from .dictionaries import StatusSemantic

__all__ = ["MAX_STAGES", "Pipeline", "Stage"]

MAX_STAGES = 63
"Stages a pipeline may have: each owns one bit of ``Deal.passed_mask`` (a signed 64-bit integer)."


class Pipeline(TimestampMixin, Base):
    """A sales process with its own stages; exactly one is the default for new deals."""

    __tablename__ = "pipeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(default=500)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"Pipeline(id={self.id!r}, name={self.name!r})"


class Stage(Base):
    """One stage of a pipeline; ``sort`` orders the funnel, ``semantic`` says what reaching it means.

    ``bit`` is the stage's position in ``Deal.passed_mask``: stable for the stage's life, unique in
    its pipeline, never the same as a stage still in use (a stage cannot be deleted while any deal's
    history names it, so no mask still carries a freed bit).
    """

    __tablename__ = "stage"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "code"),
        UniqueConstraint("pipeline_id", "bit"),
        CheckConstraint("semantic IN ('process', 'success', 'failure')", name="semantic"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        CheckConstraint("bit BETWEEN 0 AND 62", name="bit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(default=500)
    semantic: Mapped[str] = mapped_column(String(10), default=StatusSemantic.PROCESS)
    probability: Mapped[int] = mapped_column(default=0)
    "Percent chance to win a deal at this stage (forecasts)."
    bit: Mapped[int]

    def __repr__(self) -> str:
        return f"Stage(id={self.id!r}, code={self.code!r}, semantic={self.semantic!r})"
