"""Document numbers from configurable sequences: ``INV-{year}-{seq:05d}`` gives ``INV-2026-00042``.

A pattern may use ``{seq}`` (required, with an optional format such as ``{seq:05d}``),
``{year}``, ``{month}`` (two digits) and ``{day}``. A sequence restarts from 1 every year or month
(then its pattern must show the year, or the year and the month, or numbers would repeat) or never.

Gap-free under concurrency, on both databases: the counter row is incremented by one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` inside the transaction that creates the document.
PostgreSQL locks the row until that transaction ends, so a concurrent creator waits and then gets
the next value; SQLite has one writer at a time, so the same holds. A document whose transaction
rolls back takes its increment with it, so no number is ever skipped or given twice.
"""

from __future__ import annotations

import string
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import DocumentKind, NumberCounter, NumberReset, NumberSequence
from ..rights import Action, Entity, Principal
from .errors import BadValue

__all__ = [
    "check_pattern",
    "configure_sequence",
    "format_number",
    "next_number",
    "period_of",
    "sequences",
]

log = structlog.get_logger(__name__)

_FIELDS = frozenset({"seq", "year", "month", "day"})
_NEEDS = {NumberReset.YEARLY: {"year"}, NumberReset.MONTHLY: {"year", "month"}, NumberReset.NEVER: set()}


def check_pattern(pattern: str, reset: str) -> None:
    """Raise :class:`BadValue` unless *pattern* is usable with *reset* (see the module doc)."""
    try:
        reset_kind = NumberReset(reset)
    except ValueError:
        raise BadValue("reset", reset, "not a reset rule", tuple(NumberReset)) from None
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        raise BadValue("pattern", pattern, f"not a valid pattern ({exc})") from None
    unknown = fields - _FIELDS
    if unknown:
        raise BadValue("pattern", pattern, f"unknown field {{{sorted(unknown)[0]}}}", tuple(sorted(_FIELDS)))
    if "seq" not in fields:
        raise BadValue("pattern", pattern, "must contain {seq}")
    missing = _NEEDS[reset_kind] - fields
    if missing:
        raise BadValue(
            "pattern",
            pattern,
            f"restarts {reset_kind.value} but does not show {{{sorted(missing)[-1]}}}: numbers would repeat",
        )
    try:
        format_number(pattern, 1, date(2026, 1, 1))
    except (ValueError, TypeError) as exc:
        raise BadValue("pattern", pattern, f"cannot be formatted ({exc})") from None


def format_number(pattern: str, seq: int, day: date) -> str:
    """The number *pattern* gives for value *seq* on *day*."""
    values: dict[str, Any] = {
        "seq": seq,
        "year": day.year,
        "month": f"{day.month:02d}",
        "day": f"{day.day:02d}",
    }
    return pattern.format(**values)


def period_of(reset: str, day: date) -> str:
    """The counter period *day* falls in: ``""``, ``"2026"`` or ``"2026-11"``."""
    match NumberReset(reset):
        case NumberReset.YEARLY:
            return f"{day.year:04d}"
        case NumberReset.MONTHLY:
            return f"{day.year:04d}-{day.month:02d}"
        case _:
            return ""


async def _sequence(session: AsyncSession, code: str) -> NumberSequence:
    sequence = await session.get(NumberSequence, code)
    if sequence is None:
        raise NotFound("number sequence", code)
    return sequence


async def next_number(session: AsyncSession, code: str, day: date) -> str:
    """Take the next number of sequence *code* for a document dated *day*, in the caller's transaction."""
    sequence = await _sequence(session, code)
    period = period_of(sequence.reset, day)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(NumberCounter)
        .values(sequence_code=code, period=period, last_value=1)
        .on_conflict_do_update(
            index_elements=[NumberCounter.sequence_code, NumberCounter.period],
            set_={"last_value": NumberCounter.last_value + 1},
        )
        .returning(NumberCounter.last_value)
    )
    value = (await session.execute(stmt)).scalar_one()
    number = format_number(sequence.pattern, value, day)
    log.info("document_number_taken", sequence=code, period=period, value=value, number=number)
    return number


async def configure_sequence(
    session: AsyncSession, principal: Principal, code: str, *, pattern: str, reset: str
) -> None:
    """Change how documents of *code* are numbered from now on.

    Numbering is global, so it takes the update right on that kind of document at level ``all``
    (administrators). The counters stay: a yearly sequence changed in March continues from its
    last number of the year.
    """
    entity = Entity.QUOTE if code == DocumentKind.QUOTE else Entity.INVOICE
    principal.require(entity, Action.UPDATE, None)
    check_pattern(pattern, reset)
    sequence = await _sequence(session, code)
    sequence.pattern, sequence.reset = pattern, NumberReset(reset).value
    await session.flush()
    log.info("number_sequence_configured", sequence=code, pattern=pattern, reset=reset, by=principal.login)


async def sequences(session: AsyncSession) -> list[NumberSequence]:
    """Every sequence (``quote``, ``invoice``...)."""
    return list(await session.scalars(select(NumberSequence).order_by(NumberSequence.code)))
