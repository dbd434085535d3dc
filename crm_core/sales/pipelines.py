"""Pipelines and their ordered stages: the configuration deals move through.

A pipeline's stages are listed in funnel order: the in-progress stages, then exactly one success
stage, then the failure stages (Bitrix24's layout; the funnel report relies on it). Reading
pipelines needs any deal read right; changing them needs the deal update right at level ``all``
(they shape every deal, so this is an administrator's job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import structlog
from pydantic import BaseModel
from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import MAX_STAGES, Deal, DealStageHistory, Pipeline, Stage, StatusSemantic
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from .errors import BadValue, InUse
from .schemas import PipelineCreate, PipelineOut, PipelineUpdate, StageIn, StageOut

__all__ = [
    "STANDARD_STAGES",
    "PipelinesResource",
    "default_pipeline",
    "get_stage",
    "load_stages",
]

log = structlog.get_logger(__name__)

STANDARD_STAGES: tuple[StageIn, ...] = (
    StageIn(code="NEW", name="New", probability=10),
    StageIn(code="PREPARATION", name="Preparing documents", probability=20),
    StageIn(code="PREPAYMENT_INVOICE", name="Prepayment invoice", probability=40),
    StageIn(code="EXECUTING", name="In progress", probability=60),
    StageIn(code="FINAL_INVOICE", name="Final invoice", probability=80),
    StageIn(code="WON", name="Deal won", semantic=StatusSemantic.SUCCESS, probability=100),
    StageIn(code="LOSE", name="Deal lost", semantic=StatusSemantic.FAILURE, probability=0),
)
"What a new pipeline gets when no stages are given (the same as the seeded default pipeline)."

_ORDER = {StatusSemantic.PROCESS: 0, StatusSemantic.SUCCESS: 1, StatusSemantic.FAILURE: 2}


async def default_pipeline(session: AsyncSession) -> Pipeline:
    """The pipeline new deals go to when none is chosen."""
    pipeline = await session.scalar(
        select(Pipeline).where(Pipeline.is_default.is_(True)).order_by(Pipeline.id).limit(1)
    )
    if pipeline is None:
        raise NotFound("pipeline", "default")
    return pipeline


async def load_stages(session: AsyncSession, pipeline_id: int) -> list[Stage]:
    """The pipeline's stages in funnel order."""
    stmt = select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.sort, Stage.id)
    return list(await session.scalars(stmt))


async def get_stage(session: AsyncSession, stage_id: int) -> Stage:
    stage = await session.get(Stage, stage_id)
    if stage is None:
        raise NotFound("stage", stage_id)
    return stage


def _check_layout(stages: Sequence[StageIn]) -> None:
    """In-progress stages first, then one success stage, then failure stages; codes unique."""
    if not stages:
        raise BadValue("stages", [], "a pipeline needs stages")
    if len(stages) > MAX_STAGES:
        raise BadValue("stages", len(stages), f"a pipeline has at most {MAX_STAGES} stages")
    codes: set[str] = set()
    for index, stage in enumerate(stages):
        if stage.code in codes:
            raise BadValue(f"stages[{index}].code", stage.code, "used twice in this pipeline")
        codes.add(stage.code)
        if index and _ORDER[stage.semantic] < _ORDER[stages[index - 1].semantic]:
            raise BadValue(
                f"stages[{index}].semantic",
                stage.semantic.value,
                "list the in-progress stages first, then the success stage, then the failure stages",
            )
    semantics = [stage.semantic for stage in stages]
    for semantic, wanted in (
        (StatusSemantic.PROCESS, "at least one in-progress stage"),
        (StatusSemantic.FAILURE, "at least one failure stage"),
    ):
        if semantic not in semantics:
            raise BadValue("stages", [s.code for s in stages], f"a pipeline needs {wanted}")
    if semantics.count(StatusSemantic.SUCCESS) != 1:
        raise BadValue("stages", [s.code for s in stages], "a pipeline needs exactly one success stage")


async def _out(session: AsyncSession, pipeline: Pipeline) -> PipelineOut:
    stages = [
        StageOut.model_validate(s, from_attributes=True) for s in await load_stages(session, pipeline.id)
    ]
    return PipelineOut(
        id=pipeline.id, name=pipeline.name, sort=pipeline.sort, is_default=pipeline.is_default, stages=stages
    )


async def _get(session: AsyncSession, pipeline_id: int) -> Pipeline:
    pipeline = await session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFound("pipeline", pipeline_id)
    return pipeline


async def _make_default(session: AsyncSession, pipeline: Pipeline) -> None:
    await session.execute(update(Pipeline).where(Pipeline.id != pipeline.id).values(is_default=False))
    pipeline.is_default = True


async def _set_stages(session: AsyncSession, pipeline: Pipeline, wanted: Sequence[StageIn]) -> None:
    """Make the pipeline's stages *wanted*: edit those named by id, add the new, delete the rest."""
    _check_layout(wanted)
    existing = {stage.id: stage for stage in await load_stages(session, pipeline.id)}
    kept_ids = {stage.id for stage in wanted if stage.id is not None}
    for index, stage in enumerate(wanted):
        if stage.id is not None and stage.id not in existing:
            raise BadValue(f"stages[{index}].id", stage.id, f"not a stage of pipeline {pipeline.name!r}")
    for stage_id in existing.keys() - kept_ids:
        stage = existing[stage_id]
        if await session.scalar(select(exists().where(DealStageHistory.stage_id == stage_id))):
            raise InUse(f"stage {stage.code}", "deals that have been in it")
        await session.delete(stage)
    # Codes moving between stages (a rename into a deleted or another renamed stage's code) must
    # not meet the unique constraint half-way: park the renamed ones under their id first.
    renamed = [
        existing[item.id] for item in wanted if item.id is not None and existing[item.id].code != item.code
    ]
    for stage in renamed:
        stage.code = f"~{stage.id}"
    await session.flush()  # deleted codes and bits are free again before the new ones are written
    used_bits = {existing[i].bit for i in kept_ids}
    free_bits = (bit for bit in range(MAX_STAGES) if bit not in used_bits)
    for index, item in enumerate(wanted):
        sort = (index + 1) * 10
        if item.id is None:
            session.add(
                Stage(
                    pipeline_id=pipeline.id,
                    code=item.code,
                    name=item.name,
                    sort=sort,
                    semantic=item.semantic.value,
                    probability=item.probability,
                    bit=next(free_bits),
                )
            )
            continue
        stage = existing[item.id]
        if item.semantic.value != stage.semantic and await session.scalar(
            select(exists().where(Deal.stage_id == stage.id))
        ):
            raise InUse(f"the meaning of stage {stage.code}", "deals now in it")
        stage.code, stage.name, stage.sort = item.code, item.name, sort
        stage.semantic, stage.probability = item.semantic.value, item.probability
    await session.flush()


class PipelinesResource:
    """``/api/v1/pipelines``: pipelines with their stages."""

    entity: ClassVar[Entity] = Entity.DEAL
    path: ClassVar[str] = "pipelines"
    schema_out: ClassVar[type[BaseModel]] = PipelineOut
    schema_create: ClassVar[type[BaseModel]] = PipelineCreate
    schema_update: ClassVar[type[BaseModel]] = PipelineUpdate
    filterable: ClassVar[Mapping[str, type]] = {"name": str, "is_default": bool}
    sortable: ClassVar[tuple[str, ...]] = ("name", "sort", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[PipelineOut]:
        principal.require_any(Entity.DEAL, Action.READ)
        rows, total = await fetch_page(
            session, select(Pipeline), Pipeline, query, filterable=self.filterable, sortable=self.sortable
        )
        items = [await _out(session, pipeline) for pipeline in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> PipelineOut:
        principal.require_any(Entity.DEAL, Action.READ)
        return await _out(session, await _get(session, id))

    async def create(self, session: AsyncSession, principal: Principal, data: PipelineCreate) -> PipelineOut:
        principal.require(Entity.DEAL, Action.UPDATE, None)
        stages = data.stages if data.stages is not None else STANDARD_STAGES
        _check_layout(stages)
        if any(stage.id is not None for stage in stages):
            raise BadValue("stages", [s.id for s in stages], "a new pipeline's stages are new: leave out id")
        first = await session.scalar(select(func.count()).select_from(Pipeline)) == 0
        pipeline = Pipeline(name=data.name, sort=data.sort, is_default=False)
        session.add(pipeline)
        await session.flush()
        if data.is_default or first:
            await _make_default(session, pipeline)
        await _set_stages(session, pipeline, stages)
        log.info("pipeline_created", pipeline_id=pipeline.id, stages=len(stages), by=principal.login)
        return await _out(session, pipeline)

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: PipelineUpdate
    ) -> PipelineOut:
        principal.require(Entity.DEAL, Action.UPDATE, None)
        pipeline = await _get(session, id)
        sent = data.model_fields_set
        if data.name is not None:
            pipeline.name = data.name
        if data.sort is not None:
            pipeline.sort = data.sort
        if data.is_default:
            await _make_default(session, pipeline)
        elif "is_default" in sent and pipeline.is_default:
            raise BadValue("is_default", False, "make another pipeline the default instead")
        if data.stages is not None:
            await _set_stages(session, pipeline, data.stages)
        await session.flush()
        log.info("pipeline_updated", pipeline_id=pipeline.id, fields=sorted(sent), by=principal.login)
        return await _out(session, pipeline)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        principal.require(Entity.DEAL, Action.DELETE, None)
        pipeline = await _get(session, id)
        if pipeline.is_default:
            raise InUse(f"pipeline {pipeline.name!r}", "new deals (it is the default)")
        if await session.scalar(select(exists().where(DealStageHistory.pipeline_id == id))):
            raise InUse(f"pipeline {pipeline.name!r}", "deals")
        await session.delete(pipeline)  # its stages go with it (ON DELETE CASCADE)
        await session.flush()
        log.info("pipeline_deleted", pipeline_id=id, by=principal.login)
