"""Filter, sort and page any entity list the same way, from a :class:`~crm_core.crud.ListQuery`.

Every service builds its base statement (the rows the principal may see) and hands it here with the
fields it lets clients filter and sort on. The query string's text values are parsed into the
field's Python type first, so a bad value is a clear 422 naming the field, never a database error,
and nothing a client sends reaches SQL except as a bound parameter.

Filters are written ``field__op=value`` (``eq`` when no suffix), see :data:`crm_core.crud.OPERATORS`.
Sorting takes field names, ``-`` first for descending; the primary key breaks ties, so a page never
repeats or skips a row. NULLs sort as the largest value on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, and_, func, inspect, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .crud import MAX_LIMIT, OPERATORS, ListQuery
from .errors import Invalid

__all__ = ["InvalidQuery", "apply_list_query", "fetch_page", "operators_for", "parse_value", "split_key"]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_LIKE_ESCAPE = "\\"


class InvalidQuery(Invalid):
    """A list query names an unknown field or operator, or gives a value of the wrong type.

    Still an :class:`~crm_core.errors.Invalid` (HTTP 422), with a message written for the person
    who typed the query string: ``amount__gt: 'abc' is not a decimal number``.
    """

    error_id = "invalid-query"

    def __init__(self, field: str, value: object, allowed: Sequence[str], message: str) -> None:
        super().__init__(field, value, tuple(allowed))
        self.args = (message,)


def split_key(key: str) -> tuple[str, str]:
    """``"title__contains"`` -> ``("title", "contains")``; a bare field name means ``eq``."""
    field, sep, op = key.rpartition("__")
    if not sep:
        return key, "eq"
    if op not in OPERATORS:
        raise InvalidQuery(
            key, op, OPERATORS, f"{key}: unknown operator {op!r}; use one of {_csv(OPERATORS)}"
        )
    return field, op


def _csv(values: Sequence[str]) -> str:
    return ", ".join(values)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError


def _parse_decimal(text: str) -> Decimal:
    value = Decimal(text.strip())
    if not value.is_finite():
        raise ValueError
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


_PARSERS: dict[type, tuple[Callable[[str], Any], str]] = {
    bool: (_parse_bool, "true or false"),
    int: (lambda text: int(text.strip()), "a whole number"),
    float: (_parse_float, "a number"),
    Decimal: (_parse_decimal, "a decimal number"),
    datetime: (_parse_datetime, "an ISO 8601 date-time such as 2026-11-27T09:00:00Z"),
    date: (lambda text: date.fromisoformat(text.strip()), "an ISO 8601 date such as 2026-11-27"),
    str: (str, "text"),
}


def parse_value(key: str, kind: type, text: str) -> Any:
    """Parse one query-string value into *kind* (bool, int, float, Decimal, datetime, date, str, Enum).

    Raises :class:`InvalidQuery` naming *key* and what was expected.
    """
    if isinstance(kind, type) and issubclass(kind, Enum):
        allowed = tuple(str(member.value) for member in kind)
        for member in kind:
            if str(member.value) == text:
                return member.value
        raise InvalidQuery(key, text, allowed, f"{key}: {text!r} is not one of {_csv(allowed)}")
    try:
        parser, expected = _PARSERS[kind]
    except KeyError:
        raise TypeError(f"filterable type {kind!r} of {key!r} is not supported") from None
    try:
        return parser(text)
    except (ValueError, InvalidOperation):
        raise InvalidQuery(key, text, (expected,), f"{key}: {text!r} is not {expected}") from None


def operators_for(kind: type) -> tuple[str, ...]:
    """The operators that apply to a field whose values are *kind* (what the OpenAPI document lists).

    ``contains`` is for text only; the ordered comparisons are for everything but booleans and
    enumerations.
    """
    if kind is str:
        return ("eq", "ne", "contains", "in", "isnull")
    if kind is bool or (isinstance(kind, type) and issubclass(kind, Enum)):
        return ("eq", "ne", "in", "isnull")
    return ("eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull")


class folded_contains(FunctionElement[bool]):
    """``column`` contains ``text``, ignoring case in every script, on each database its own way.

    Arguments: the column, the LIKE pattern (``%text%`` with ``%``, ``_`` and ``\\`` escaped) and
    the plain text. PostgreSQL folds Cyrillic itself, so it keeps ``ILIKE`` on the pattern (and any
    trigram index on the column). SQLite's ``LIKE`` folds ASCII only, so there it is
    ``instr(cti_fold(column), cti_fold(text)) > 0`` with the ``str.casefold`` function that
    :func:`crm_core.db.make_engine` registers on every SQLite connection. Both values stay bound
    parameters, so a cached statement is reused safely with new values.
    """

    type = Boolean()
    name = "folded_contains"
    inherit_cache = True


@compiles(folded_contains)
def _contains_ilike(element: folded_contains, compiler: Any, **kw: Any) -> str:
    column, pattern, _text = element.clauses
    return compiler.process(column.ilike(pattern, escape=_LIKE_ESCAPE), **kw)


@compiles(folded_contains, "sqlite")
def _contains_sqlite(element: folded_contains, compiler: Any, **kw: Any) -> str:
    column, _pattern, text = element.clauses
    return compiler.process(func.instr(func.cti_fold(column), func.cti_fold(text)) > 0, **kw)


def _condition(column: Any, key: str, op: str, kind: type, text: str) -> ColumnElement[bool]:
    allowed = operators_for(kind)
    if op not in allowed:
        raise InvalidQuery(key, op, allowed, f"{key}: operator {op!r} does not apply to this field")
    if op == "isnull":
        return column.is_(None) if parse_value(key, bool, text) else column.is_not(None)
    if op == "contains":
        escaped = (
            text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
            .replace("%", _LIKE_ESCAPE + "%")
            .replace("_", _LIKE_ESCAPE + "_")
        )
        return folded_contains(column, literal(f"%{escaped}%"), literal(text))
    if op == "in":
        parts = [part for part in text.split(",") if part != ""]
        if not parts:
            raise InvalidQuery(key, text, (), f"{key}: give at least one value, separated by commas")
        return column.in_([parse_value(key, kind, part) for part in parts])
    value = parse_value(key, kind, text)
    match op:
        case "eq":
            return column == value
        case "ne":
            # "Not X" includes the rows where the field is empty, as a person reading it expects.
            return column.is_distinct_from(value)
        case "lt":
            return column < value
        case "lte":
            return column <= value
        case "gt":
            return column > value
        case _:  # "gte"; split_key() admits nothing else
            return column >= value


def _column(model: type, field: str, columns: Mapping[str, Any] | None) -> Any:
    if columns is not None and field in columns:
        return columns[field]
    try:
        return getattr(model, field)
    except AttributeError:
        raise TypeError(
            f"{model.__name__} has no attribute {field!r} (declared filterable or sortable)"
        ) from None


def _nullable(column: Any) -> bool:
    expression = getattr(column, "expression", column)
    return bool(getattr(expression, "nullable", True))


def apply_list_query(
    stmt: Select,
    model: type,
    query: ListQuery,
    *,
    filterable: Mapping[str, type],
    sortable: Sequence[str],
    columns: Mapping[str, Any] | None = None,
) -> tuple[Select, Select]:
    """Return ``(page statement, count statement)`` for *stmt* filtered, sorted and paged by *query*.

    *filterable* maps field names to the Python type of their values; *sortable* lists the fields a
    client may sort on. *columns* optionally maps a field name to another column expression (a
    joined table's column, say); otherwise the field is the attribute of *model* with that name.
    Raises :class:`InvalidQuery` (an ``Invalid``) naming the bad field, operator or value.
    """
    if query.offset < 0:
        raise InvalidQuery("offset", query.offset, ("0 or more",), f"offset: {query.offset} is below 0")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(
            "limit",
            query.limit,
            (f"1..{MAX_LIMIT}",),
            f"limit: {query.limit} is not between 1 and {MAX_LIMIT}",
        )
    conditions = []
    for key, text in query.filters.items():
        field, op = split_key(key)
        if field not in filterable:
            allowed = tuple(filterable)
            raise InvalidQuery(
                key,
                field,
                allowed,
                f"{key}: cannot filter on {field!r}; filterable: {_csv(allowed) or 'none'}",
            )
        conditions.append(_condition(_column(model, field, columns), key, op, filterable[field], text))
    if conditions:
        stmt = stmt.where(and_(*conditions))

    count = select(func.count()).select_from(stmt.order_by(None).subquery())

    primary_key = inspect(model).primary_key[0]
    order: list[Any] = []
    seen: set[str] = set()
    for item in query.sort:
        descending = item.startswith("-")
        field = item[1:] if descending else item
        if field not in sortable:
            allowed = tuple(sortable)
            raise InvalidQuery(
                "sort", item, allowed, f"sort: cannot sort on {field!r}; sortable: {_csv(allowed) or 'none'}"
            )
        if field in seen:
            continue
        seen.add(field)
        column = _column(model, field, columns)
        term = column.desc() if descending else column.asc()
        if _nullable(column):
            term = term.nulls_first() if descending else term.nulls_last()
        order.append(term)
    if primary_key.key not in seen:
        order.append(primary_key.asc())
    page = stmt.order_by(None).order_by(*order).offset(query.offset).limit(query.limit)
    return page, count


async def fetch_page(
    session: AsyncSession,
    stmt: Select,
    model: type,
    query: ListQuery,
    *,
    filterable: Mapping[str, type],
    sortable: Sequence[str],
    columns: Mapping[str, Any] | None = None,
) -> tuple[list[Any], int]:
    """Run :func:`apply_list_query` and return ``(rows of the page, total matching rows)``.

    The rows are ``session.scalars(...)`` of the page statement: ORM objects when *stmt* selects
    one entity.
    """
    page, count = apply_list_query(
        stmt, model, query, filterable=filterable, sortable=sortable, columns=columns
    )
    total = await session.scalar(count)
    rows = list((await session.scalars(page)).unique())
    return rows, int(total or 0)
