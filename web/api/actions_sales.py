"""The sales actions: the funnel report, a deal's stage history, document numbering.

Quotes and invoices need no action of their own: ``POST /api/v1/quotes`` and ``/api/v1/invoices``
take the deal (``deal_id``) and copy its rows, numbering included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.errors import NotFound
from crm_core.models import DocumentKind, NumberReset, NumberSequence
from crm_core.rights import Action, Entity
from crm_core.sales.deals import stage_history
from crm_core.sales.funnel import funnel_report
from crm_core.sales.numbering import configure_sequence
from crm_core.sales.schemas import FunnelReport, StageHistoryOut

from .actions import ActionCall, ActionRoute, card_id

__all__ = ["SALES_ACTIONS"]

_VARIANTS: dict[str, Literal["passed", "conversion"]] = {
    "passed": "passed",
    "conversion": "conversion",
    "conversions": "conversion",
}
_DOCUMENT_ENTITY = {DocumentKind.QUOTE.value: Entity.QUOTE, DocumentKind.INVOICE.value: Entity.INVOICE}


def _day_or_moment(value: Any) -> Any:
    """``2026-03-01`` stays a day (pydantic would read it as midnight); a date-time stays one."""
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    return value


DayOrMoment = Annotated[datetime | date, BeforeValidator(_day_or_moment)]


def _moment(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A date-time as given (no offset: UTC); a day from its start, or for an end to its end."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=UTC)


class FunnelQuery(BaseModel):
    """The report's scope; ``date_to`` as a day includes that day, as a date-time excludes it."""

    model_config = ConfigDict(extra="forbid")

    pipeline_id: int | None = Field(None, description="Left out: the default pipeline")
    date_from: DayOrMoment | None = Field(
        None, description="Deals created from this day (UTC) or date-time on"
    )
    date_to: DayOrMoment | None = Field(
        None, description="Deals created up to this day included (UTC), or before this date-time"
    )
    responsible_id: list[int] | None = Field(
        None, description="Only these responsibles' deals: repeated or comma-separated ids"
    )
    variant: Literal["passed", "conversion", "conversions"] = Field(
        "passed",
        description="passed: the stages deals really passed; conversions: every intermediate stage counted",
    )


class StageHistory(BaseModel):
    """The stages a deal went through, oldest first."""

    items: list[StageHistoryOut]


class NumberSequenceOut(BaseModel):
    kind: Literal["quote", "invoice"]
    pattern: str
    "``{seq}`` (e.g. ``{seq:05d}``), ``{year}``, ``{month}``, ``{day}``: ``INV-{year}-{seq:05d}``."
    reset: NumberReset


class NumberSequenceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=100)
    reset: NumberReset


async def _funnel(call: ActionCall) -> FunnelReport:
    query: FunnelQuery = call.query
    start, end = _moment(query.date_from, end=False), _moment(query.date_to, end=True)
    return await funnel_report(
        call.session,
        call.principal,
        variant=_VARIANTS[query.variant],
        pipeline_id=query.pipeline_id,
        start=start,
        end=end,
        responsible_ids=query.responsible_id or None,
    )


async def _stage_history(call: ActionCall) -> StageHistory:
    items = await stage_history(call.session, call.principal, card_id(call, "deal"))
    return StageHistory(items=items)


async def _sequence(session: AsyncSession, kind: str) -> NumberSequence:
    sequence = await session.get(NumberSequence, kind) if kind in _DOCUMENT_ENTITY else None
    if sequence is None:
        raise NotFound("number sequence", kind)
    return sequence


def _sequence_out(sequence: NumberSequence) -> NumberSequenceOut:
    return NumberSequenceOut(kind=sequence.code, pattern=sequence.pattern, reset=sequence.reset)


async def _get_sequence(call: ActionCall) -> NumberSequenceOut:
    kind = call.path("kind")
    sequence = await _sequence(call.session, kind)
    call.principal.require_any(_DOCUMENT_ENTITY[kind], Action.READ)
    return _sequence_out(sequence)


async def _put_sequence(call: ActionCall) -> NumberSequenceOut:
    kind = call.path("kind")
    await _sequence(call.session, kind)
    body: NumberSequenceUpdate = call.body
    await configure_sequence(call.session, call.principal, kind, pattern=body.pattern, reset=body.reset.value)
    return _sequence_out(await _sequence(call.session, kind))


_KIND = {"kind": {"type": "string", "enum": list(_DOCUMENT_ENTITY)}}

SALES_ACTIONS: tuple[ActionRoute, ...] = (
    ActionRoute(
        "GET",
        "reports/funnel",
        _funnel,
        operation_id="funnel_report",
        summary=(
            "The sales funnel of one pipeline: by the stages deals really passed (variant=passed) or "
            "with conversions (variant=conversions); counts, amounts per currency, percentages"
        ),
        tag="reports",
        response=FunnelReport,
        query=FunnelQuery,
    ),
    ActionRoute(
        "GET",
        "deals/{id}/stage-history",
        _stage_history,
        operation_id="deal_stage_history",
        summary="The stages the deal went through, oldest first",
        tag="deals",
        response=StageHistory,
        errors=(404,),
        path_params={"id": {"type": "integer"}},
    ),
    ActionRoute(
        "GET",
        "number-sequences/{kind}",
        _get_sequence,
        operation_id="get_number_sequence",
        summary="How quotes or invoices are numbered",
        tag="number-sequences",
        response=NumberSequenceOut,
        errors=(404,),
        path_params=_KIND,
    ),
    ActionRoute(
        "PUT",
        "number-sequences/{kind}",
        _put_sequence,
        operation_id="set_number_sequence",
        summary="Change how quotes or invoices are numbered from now on (admins); the counters continue",
        tag="number-sequences",
        response=NumberSequenceOut,
        body=NumberSequenceUpdate,
        path_params=_KIND,
    ),
)
"The sales actions, in the order they are mounted."
