"""Turn pydantic's validation errors for the dialplan into :class:`~config.dialplan_issues.Issue` values.

Each error's ``loc`` is resolved against the schema models (aliases, unions, dict keys) to the keys
as the file writes them, so the issue lands on the right line; the message says what is wrong and
what was expected, with an example of the key (``e.g. to: group:sales``), never echoing a secret.
A value that fits no branch of a union gets one message, a missing key that is a typo of an unknown
one is not reported twice, and an error in a schedule's ``hours`` is placed at the day key it is about.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from config.dialplan_issues import Issue, Loc, Positions, ordered
from config.dialplan_spec import (
    AnnouncedTransfer,
    Conference,
    DialplanSpec,
    Extension,
    FeatureCodes,
    Forwarding,
    Group,
    InboundRoute,
    NoAnswerForward,
    OutboundRoute,
    RecordingPolicy,
    Schedule,
    Trunk,
)

__all__ = ["schema_issues"]


_NOUNS: dict[type[BaseModel], tuple[str, str]] = {
    DialplanSpec: ("the dialplan", "extensions:, groups:, trunks:, inbound:, outbound:"),
    Extension: ("an extension", "{name: Ivan Petrov}"),
    Forwarding: ("forward", "{busy: ext:102}"),
    NoAnswerForward: ("forward.no_answer", "{to: mobile, after: 20s}"),
    Group: ("a group", '{members: ["101", "102"]}'),
    FeatureCodes: ("feature_codes", '{pickup: ["*11", "40"]}'),
    Conference: ("a conference room", "{name: Morning briefing}"),
    Trunk: ("a trunk", "{host: sip.example.net}"),
    InboundRoute: ("an inbound route", '{number: "+74951234567", to: group:sales}'),
    OutboundRoute: ("an outbound route", "{match: '^8\\d{10}$', trunk: main}"),
    Schedule: ("a schedule", '{hours: {mon-fri: "09:00-18:00"}}'),
    RecordingPolicy: ("recording", "{inbound: always, outbound: always, internal: never}"),
    AnnouncedTransfer: ("announced_transfer", '{prefix: "*", terminator: "#"}'),
}

_EXAMPLES: dict[str, str] = {
    "name": "Ivan Petrov",
    "members": '["101", "102"]',
    "host": "sip.example.net",
    "number": '"+74951234567"',
    "numbers": '["+74951234567"]',
    "to": "group:sales",
    "match": "'^8\\d{10}$'",
    "trunk": "main",
    "extensions": '{"101": {name: Ivan Petrov}}',
    "groups": '{sales: {members: ["101", "102"]}}',
    "conferences": '{"800": {name: Morning briefing}}',
    "trunks": "{main: {host: sip.example.net}}",
    "schedules": '{business_hours: {hours: {mon-fri: "09:00-18:00"}}}',
    "holidays": "[2026-01-01, 2026-01-02]",
    "hours": '{mon-fri: "09:00-18:00"}',
    "pickup": '["*11", "40"]',
    "emergency": '["112"]',
    "allow_from": '["203.0.113.10"]',
    "inbound": '[{number: "+74951234567", to: group:sales}]',
    "port": "5060",
    "strip": "1",
    "after": "20s",
    "timeout": "30s",
    "member_timeout": "15s",
    "responsible_timeout": "15s",
}
_EXAMPLES_IN: dict[tuple[type[BaseModel], str], str] = {
    (DialplanSpec, "outbound"): "[{match: '^8\\d{10}$', trunk: main}]",
    (DialplanSpec, "holidays"): "{ru_2026: [2026-01-01, 2026-01-02]}",
    (Extension, "outbound"): "[national, international]",
    (Group, "number"): '"200"',
    (Schedule, "holidays"): "[2026-01-01] or the name of a list under holidays:",
}
_PATTERNS: dict[str, str] = {
    r"^\d{3,10}$": "3 to 10 digits",
    r"^[*#0-9]{1,3}$": "1 to 3 of the keys 0-9, * and #",
    r"^[*#]$": "* or #",
    r"^[+0-9*#]*$": "digits, +, * and #",
}
_SECRET_FIELDS = {"secret", "pin"}
_AT_LEAST = {"members": "one extension", "match": "one pattern"}


@dataclass(frozen=True, slots=True)
class _Place:
    """A pydantic error's loc, resolved against the models: the keys as the file writes them."""

    loc: Loc
    model: type[BaseModel] | None
    "The model the last key belongs to (or should: an unknown key)."
    union: Loc | None
    "Where a union was entered: errors of its branches are about one value."
    depth_in_union: int
    expected: Any = None
    "What the schema wants at the place (a model class, ``dict[...]``...)."


def _place(loc: Sequence[str | int]) -> _Place:
    annotation: Any = DialplanSpec
    keys: list[str | int] = []
    model: type[BaseModel] | None = None
    union: Loc | None = None
    union_at = 0
    for part in loc:
        annotation = _unwrap(annotation)
        if part == "[key]":
            continue
        if _is_union(annotation):
            union, union_at = tuple(keys), len(keys)
            annotation = _branch(annotation, str(part))
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            name, field = _field(annotation, str(part))
            keys.append(name)
            annotation = field.annotation if field is not None else Any
            continue
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        keys.append(part)
        if origin is dict and len(args) == 2:
            annotation = args[1]
        elif origin in (tuple, list) and args:
            annotation = args[0]
        else:
            annotation = Any
    return _Place(tuple(keys), model, union, len(keys) - union_at, _unwrap(annotation))


def _unwrap(annotation: Any) -> Any:
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif _is_union(annotation):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _branch(annotation: Any, tag: str) -> Any:
    name = tag.split("[", 1)[0]
    for option in typing.get_args(annotation):
        option_name = getattr(typing.get_origin(option) or option, "__name__", "")
        if option_name == name:
            return option
    return Any


def _field(model: type[BaseModel], part: str) -> tuple[str, Any]:
    for name, field in model.model_fields.items():
        if part in (name, field.alias):
            return field.alias or name, field
    return part, None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def schema_issues(exc: ValidationError, positions: Positions, plain: Any) -> list[Issue]:
    errors = [(error, _place(error["loc"])) for error in exc.errors(include_url=False)]
    errors = [(error, _day_key(place, plain)) for error, place in errors]
    errors = _one_branch_per_union(errors)
    unknown = {
        (place.loc[:-1], str(place.loc[-1])) for error, place in errors if error["type"] == "extra_forbidden"
    }
    issues = []
    for error, place in errors:
        if error["type"] == "missing" and _typo_of(place, unknown):
            continue  # "nmae" reported as unknown already says it
        issues.append(positions.issue(place.loc, _schema_message(error, place)))
    return ordered(issues)


def _day_key(place: _Place, plain: Any) -> _Place:
    """An error in a schedule's ``hours`` is about one of its keys (``mon-fri``): find which."""
    if place.model is not Schedule or not place.loc or place.loc[-1] != "hours":
        return place
    hours = plain
    for part in place.loc:
        hours = hours.get(str(part)) if isinstance(hours, dict) else None
    if not isinstance(hours, dict):
        return place
    so_far: dict[str, Any] = {}
    for key, value in hours.items():
        so_far[key] = value
        try:
            Schedule(hours=so_far)
        except ValidationError:
            return _Place((*place.loc, key), place.model, place.union, place.depth_in_union, place.expected)
    return place


def _one_branch_per_union(errors: list[tuple[Any, _Place]]) -> list[tuple[Any, _Place]]:
    """A value that fits no branch of a union gets one message: from the branch it came closest to."""
    kept: list[tuple[Any, _Place]] = []
    by_union: dict[Loc, list[tuple[Any, _Place]]] = {}
    for error, place in errors:
        if place.union is None:
            kept.append((error, place))
        else:
            by_union.setdefault(place.union, []).append((error, place))
    for union, group in by_union.items():
        deepest = max(place.depth_in_union for _error, place in group)
        if deepest > 0:
            kept.extend((error, place) for error, place in group if place.depth_in_union == deepest)
        else:
            error, place = group[0]
            kept.append(({**error, "type": "union"}, _Place(union, place.model, None, 0)))
    return kept


def _typo_of(place: _Place, unknown: set[tuple[Loc, str]]) -> bool:
    siblings = [key for parent, key in unknown if parent == place.loc[:-1]]
    return bool(difflib.get_close_matches(str(place.loc[-1]), siblings, n=1, cutoff=0.6))


def _schema_message(error: Any, place: _Place) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    key = str(place.loc[-1]) if place.loc else ""
    model = place.model
    example = _example(model, key)
    shown = f"the {key}" if key in _SECRET_FIELDS else _show(value)
    expected = f"e.g. {key}: {example}" if example else "another value"
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(model)) if model else ""
        return f"unknown key {key!r} (a typo? expected one of: {allowed})"
    if kind == "missing":
        return f"missing key {key!r} (expected e.g. {key}: {example})" if example else f"missing key {key!r}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or error["msg"])
    if kind == "union":
        return f"{shown} is not allowed here (expected {example or 'another value'})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        target = place.expected
        if isinstance(target, type) and issubclass(target, BaseModel) and target in _NOUNS:
            noun, sample = _NOUNS[target]
            if value is None:
                return f"{noun} with nothing in it (expected e.g. {sample})"
            return f"{shown} is not a mapping (expected {noun}, e.g. {sample})"
        if value is None:
            return f"nothing given (expected {expected})"
        return f"{shown} is not a mapping (expected {expected})"
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return f"{shown} is not a list (expected {expected})"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        what = _AT_LEAST.get(key) or f"{count} item{'s' if count != 1 else ''}"
        return f"the list is empty (expected at least {what})"
    if kind == "too_long":
        return f"the list is too long (expected at most {ctx.get('max_length')} items)"
    if kind == "string_type":
        quoted = (
            f', in quotes: "{value}"' if isinstance(value, int | float) and key not in _SECRET_FIELDS else ""
        )
        return f"{shown} is not text (expected text{quoted})"
    if kind == "string_too_short":
        count = ctx.get("min_length", 1)
        what = f"the {key}" if key else "the text"
        return f"{what} is too short (expected at least {count} character{'s' if count != 1 else ''})"
    if kind == "string_too_long":
        return f"the {key or 'text'} is too long (expected at most {ctx.get('max_length')} characters)"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return f"{shown} is not valid here (expected {_PATTERNS.get(pattern, f'text matching {pattern}')})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{shown} is not a whole number (expected {expected})"
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false (expected true or false)"
    if kind in ("enum", "literal_error"):
        return f"{shown} is not one of the choices (expected {ctx.get('expected')})"
    if kind.startswith(("date_", "datetime_")):
        return f"{shown} is not a date (expected YYYY-MM-DD, e.g. 2026-01-01)"
    limits = {"greater_than_equal": "at least", "less_than_equal": "at most", "greater_than": "more than"}
    if kind in limits or kind == "less_than":
        bound = next(iter(ctx.values()), "")
        return f"{shown} is out of range (expected {limits.get(kind, 'less than')} {bound})"
    return f"{error['msg']} (got {shown})"


def _example(model: type[BaseModel] | None, key: str) -> str:
    if model is not None and (model, key) in _EXAMPLES_IN:
        return _EXAMPLES_IN[(model, key)]
    return _EXAMPLES.get(key, "")


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return repr(str(value))
