"""The sales funnel report, in both variants Bitrix24 users know, per pipeline, period and responsible.

- ``passed`` (by the stages deals really passed): a stage counts every deal that has been in it,
  whenever and however briefly; a stage a deal skipped does not count it.
- ``conversion`` (with conversions): a deal counts at every in-progress stage up to the furthest
  one it reached, skipped or not. A won deal counts at every in-progress stage and at the success
  stage. A lost deal counts up to the furthest in-progress stage it really reached, and at its
  failure stage, never beyond: a deal lost at "preparation" does not inflate "invoice".

Scope: the deals of one pipeline (the default one unless given) created in ``[start, end)``,
optionally only those of some responsibles, and always only the deals the user may read.
Amounts are summed per currency; ``conversion`` is the percentage of the first stage's count,
``step_conversion`` of the previous in-progress stage's (one decimal, half-up).

Speed: one GROUP BY over the deals, never over the history. Each deal carries ``passed_mask`` (a
bit per stage it has been in, kept with its stage history), so the database returns one line per
distinct (current stage, stages passed, currency) path, a few dozen lines for 200,000 deals, and
both variants are computed from those lines here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import Deal, Pipeline, Stage, StatusSemantic
from ..rights import Action, Entity, Principal
from .pipelines import default_pipeline, load_stages
from .schemas import FunnelReport, FunnelStage

__all__ = ["Variant", "funnel_report", "funnel_reports"]

log = structlog.get_logger(__name__)

Variant = Literal["passed", "conversion"]
_TENTH = Decimal("0.1")
_NOTHING = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class _Path:
    """Deals sharing a current stage, a set of stages passed and a currency; ``amount`` is their sum."""

    stage_id: int
    mask: int
    currency: str
    count: int
    amount: Decimal


@dataclass
class _Tally:
    """What one stage of the funnel has counted so far."""

    count: int = 0
    amounts: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: _NOTHING))

    def add(self, path: _Path) -> None:
        self.count += path.count
        self.amounts[path.currency] += path.amount


async def _paths(
    session: AsyncSession,
    principal: Principal,
    pipeline_id: int,
    start: datetime | None,
    end: datetime | None,
    responsible_ids: Sequence[int] | None,
) -> list[_Path]:
    stmt = (
        select(
            Deal.stage_id,
            Deal.passed_mask,
            Deal.currency,
            func.count(),
            func.coalesce(func.sum(Deal.amount), 0),
        )
        .where(
            Deal.pipeline_id == pipeline_id, principal.visible(Entity.DEAL, Action.READ, Deal.responsible_id)
        )
        .group_by(Deal.stage_id, Deal.passed_mask, Deal.currency)
    )
    if start is not None:
        stmt = stmt.where(Deal.created_at >= start)
    if end is not None:
        stmt = stmt.where(Deal.created_at < end)
    if responsible_ids is not None:
        stmt = stmt.where(Deal.responsible_id.in_(list(responsible_ids)))
    return [
        _Path(stage_id, int(mask), currency, int(count), amount)
        for stage_id, mask, currency, count, amount in await session.execute(stmt)
    ]


def _passed(stages: Sequence[Stage], paths: Sequence[_Path]) -> dict[int, _Tally]:
    tallies = {stage.id: _Tally() for stage in stages}
    for path in paths:
        for stage in stages:
            if path.mask >> stage.bit & 1:
                tallies[stage.id].add(path)
    return tallies


def _conversion(stages: Sequence[Stage], paths: Sequence[_Path]) -> dict[int, _Tally]:
    tallies = {stage.id: _Tally() for stage in stages}
    process = [stage for stage in stages if stage.semantic == StatusSemantic.PROCESS]
    by_id = {stage.id: stage for stage in stages}
    for path in paths:
        current = by_id.get(path.stage_id)
        if current is None:  # a stage deleted from under the report: nothing sensible to count
            continue
        if current.semantic == StatusSemantic.SUCCESS:
            reached = len(process)
        else:
            reached = 1 + max(
                (i for i, stage in enumerate(process) if path.mask >> stage.bit & 1), default=-1
            )
        for stage in process[:reached]:
            tallies[stage.id].add(path)
        if current.semantic != StatusSemantic.PROCESS:
            tallies[current.id].add(path)
    return tallies


def _percent(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def _report_stages(stages: Sequence[Stage], tallies: dict[int, _Tally]) -> list[FunnelStage]:
    first = tallies[stages[0].id].count if stages else 0
    previous: int | None = None
    result = []
    for stage in stages:
        tally = tallies[stage.id]
        step = None
        if stage.semantic != StatusSemantic.FAILURE and previous is not None:
            step = _percent(tally.count, previous)
        result.append(
            FunnelStage(
                stage_id=stage.id,
                code=stage.code,
                name=stage.name,
                semantic=StatusSemantic(stage.semantic),
                count=tally.count,
                amounts=dict(sorted(tally.amounts.items())),
                conversion=_percent(tally.count, first),
                step_conversion=step,
            )
        )
        if stage.semantic == StatusSemantic.PROCESS:
            previous = tally.count
    return result


async def funnel_reports(
    session: AsyncSession,
    principal: Principal,
    *,
    pipeline_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    responsible_ids: Sequence[int] | None = None,
) -> dict[Variant, FunnelReport]:
    """Both variants at once (one query): ``{"passed": ..., "conversion": ...}``."""
    if pipeline_id is None:
        pipeline_id = (await default_pipeline(session)).id
    elif await session.get(Pipeline, pipeline_id) is None:
        raise NotFound("pipeline", pipeline_id)
    stages = await load_stages(session, pipeline_id)
    paths = await _paths(session, principal, pipeline_id, start, end, responsible_ids)
    deals = sum(path.count for path in paths)
    scope = {
        "pipeline_id": pipeline_id,
        "start": start,
        "end": end,
        "responsible_ids": list(responsible_ids) if responsible_ids is not None else None,
        "deals": deals,
    }
    log.debug("funnel_computed", pipeline_id=pipeline_id, deals=deals, paths=len(paths))
    return {
        "passed": FunnelReport(
            variant="passed", stages=_report_stages(stages, _passed(stages, paths)), **scope
        ),
        "conversion": FunnelReport(
            variant="conversion", stages=_report_stages(stages, _conversion(stages, paths)), **scope
        ),
    }


async def funnel_report(
    session: AsyncSession,
    principal: Principal,
    *,
    variant: Variant = "passed",
    pipeline_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    responsible_ids: Sequence[int] | None = None,
) -> FunnelReport:
    """One variant of the funnel (see the module doc for what each counts)."""
    if variant not in ("passed", "conversion"):
        raise ValueError(f"unknown funnel variant {variant!r}")
    reports = await funnel_reports(
        session, principal, pipeline_id=pipeline_id, start=start, end=end, responsible_ids=responsible_ids
    )
    return reports[variant]
