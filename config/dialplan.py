"""Load and check ``config/dialplan.yaml``: YAML syntax, then the schema, then the whole plan.

Every problem becomes an :class:`Issue` that prints as ``FILE:LINE:COLUMN: what is wrong (what was
expected)``, placed at the key or list item it is about (positions come from ruamel's round-trip
``CommentedMap.lc``). Errors make :func:`parse_dialplan` raise :class:`DialplanError`; warnings (harmless
but suspicious) are returned beside the spec.

The checks beyond the schema (:func:`check`) and the rules they apply:

* Targets (``ext:``, ``group:``, ``conference:``, ``number:``, ``mobile``, ``hangup``) must exist;
  ``mobile`` only in an extension's forwards, and only when it has a mobile.
* Numbers dialled from an idle phone (extensions, group numbers, rooms, pickup codes, emergency
  numbers, the listen / whisper / barge prefixes) are each used once and *prefix-free*: a phone that
  dials as soon as the digits make a known number (digit maps, overlap dialling) would stop at the
  shorter one. Error when a feature code or an emergency number is involved, warning between plain
  numbers (``10`` and ``101``).
* During a call the DTMF matcher acts on a pickup code as soon as it is complete, so with transfer
  prefix ``*`` and pickup code ``*11``, ``*110#`` (announced transfer to 110) is taken for ``*11``:
  a number that starts with what follows the prefix in a pickup code is an error.
* Outbound routes are tried in order, the first whose pattern matches the whole number (and whose
  permission the caller holds) wins. Two regular expressions are compared on samples: numbers
  generated from every pattern (branches, shortest and longest repetitions, seeded random digits)
  plus the plan's own numbers; a sample that both match is an overlap (an error when the trunks
  differ), a route whose every sample goes to earlier routes its callers may use is shadowed (a
  warning).
* For each DID the first inbound route decides (``to`` while its schedule is open, ``otherwise`` when
  closed), so a second route for one number is never used.
* Forwards, overflows and our own DIDs reached through ``number:`` form a graph; a cycle is a loop.
"""

from __future__ import annotations

import difflib
import itertools
import random
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.dialplan_spec import (
    DAYS,
    AnnouncedTransfer,
    Conference,
    DialplanSpec,
    Extension,
    FeatureCodes,
    Forwarding,
    Group,
    GroupStrategy,
    InboundRoute,
    NoAnswerForward,
    OutboundRoute,
    RecordingPolicy,
    Schedule,
    Target,
    TimeRange,
    Trunk,
)

__all__ = [
    "DEFAULT_PATH",
    "DialplanError",
    "Issue",
    "Positions",
    "check",
    "load_dialplan",
    "parse_dialplan",
]

DEFAULT_PATH = "config/dialplan.yaml"

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, at a place in a file."""

    path: str
    line: int
    "1-based; 0 when the problem is the file itself (it cannot be read)."
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


class DialplanError(Exception):
    """The dialplan cannot be used; :attr:`issues` holds every problem, errors first."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = _ordered(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


def _ordered(issues: Iterable[Issue]) -> list[Issue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: (issue.severity != "error", issue.line, issue.column))


# --------------------------------------------------------------------------------------------------
# Entry points


def load_dialplan(path: Path) -> tuple[DialplanSpec, list[Issue]]:
    """Read *path* (UTF-8) and parse it like :func:`parse_dialplan`."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DialplanError([Issue(name, 0, 0, "no such file (expected a dialplan in YAML)")]) from None
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        message = f"byte 0x{exc.object[exc.start]:02x} is not UTF-8 (expected the file saved as UTF-8)"
        raise DialplanError([Issue(name, line, column, message)]) from None
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or exc} (expected a readable file)"
        raise DialplanError([Issue(name, 0, 0, message)]) from None
    return parse_dialplan(text, path=name)


def parse_dialplan(text: str, *, path: str = DEFAULT_PATH) -> tuple[DialplanSpec, list[Issue]]:
    """YAML syntax, then the schema, then :func:`check`.

    Return the spec and its warnings; raise :class:`DialplanError` (holding the warnings too) if
    there is any error.
    """
    data = _read_yaml(text, path)
    positions = Positions(path, data)
    plain = _plain(data)
    try:
        spec = DialplanSpec.model_validate(plain)
    except ValidationError as exc:
        raise DialplanError(_schema_issues(exc, positions, plain)) from None
    issues = check(spec, positions)
    if any(issue.severity == "error" for issue in issues):
        raise DialplanError(issues)
    return spec, _ordered(issues)


# --------------------------------------------------------------------------------------------------
# Positions


class Positions:
    """Where keys and list items sit in the YAML (1-based line and column), by their path."""

    def __init__(self, path: str, data: Any = None) -> None:
        self.path = path
        self._data = data

    def find(self, loc: Loc) -> tuple[int, int, bool]:
        """Line and column of the deepest part of *loc* the file has, and whether it has all of it."""
        node, found, exact = self._data, (1, 1), True
        for part in loc:
            position: tuple[int, int] | None = None
            if isinstance(node, CommentedMap):
                key = next((key for key in node if str(key) == str(part)), None)
                if key is not None:
                    try:
                        line, column = node.lc.key(key)
                    except KeyError:  # a key merged in with <<: has no place of its own here
                        line, column = found[0] - 1, found[1] - 1
                    position, node = (line + 1, column + 1), node[key]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line, column = node.lc.item(part)
                position, node = (line + 1, column + 1), node[part]
            if position is None:
                exact = False
                break
            found = position
        return found[0], found[1], exact and self._data is not None

    def keys(self, loc: Loc) -> list[str]:
        """The keys of the mapping at *loc*, as the file writes them (none if it is not there)."""
        node = self._data
        for part in loc:
            if isinstance(node, CommentedMap):
                node = next((value for key, value in node.items() if str(key) == str(part)), None)
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return []
        return [str(key) for key in node] if isinstance(node, CommentedMap) else []

    def has(self, loc: Loc) -> bool:
        return self.find(loc)[2]

    def where(self, loc: Loc) -> str:
        """``line 12``, or ``a default`` for what the file does not say."""
        line, _column, exact = self.find(loc)
        if exact:
            return f"line {line}"
        return "a default" if self._data is not None else "in the plan"

    def issue(self, loc: Loc, message: str, severity: Severity = "error") -> Issue:
        line, column, _exact = self.find(loc)
        return Issue(self.path, line, column, message, severity)


# --------------------------------------------------------------------------------------------------
# YAML


_YAML_HINTS = (
    ("undefined alias", 'a value that starts with * in quotes, e.g. "*11"'),
    ("unknown escape character", r"single quotes around text with a backslash, e.g. '^8\d{10}$'"),
    ("'\\t'", "spaces for indentation, not tabs"),
)


def _read_yaml(text: str, path: str) -> Any:
    yaml = YAML(typ="rt")
    try:
        tree = yaml.compose(text)
    except MarkedYAMLError as exc:
        raise DialplanError([_yaml_issue(exc, path)]) from None
    duplicates = list(_duplicate_keys(tree, path))
    if duplicates:
        raise DialplanError(duplicates)
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise DialplanError([_yaml_issue(exc, path)]) from None
    except ValueError as exc:  # ruamel builds dates itself: 2026-13-01 fails without a mark
        raise DialplanError(
            list(_bad_dates(tree, path)) or [Issue(path, 1, 1, f"not valid YAML: {exc}")]
        ) from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        kind = "list" if isinstance(data, list) else type(data).__name__
        message = (
            f"the dialplan is a {kind}, not a mapping (expected sections: extensions:, groups:, trunks:...)"
        )
        raise DialplanError([Issue(path, 1, 1, message)])
    return data


def _yaml_issue(exc: MarkedYAMLError, path: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc.context or exc).strip()
    hint = next((hint for needle, hint in _YAML_HINTS if needle in problem), None)
    hint = hint or "well-formed YAML: check the indentation and the quotes here"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Issue(path, line, column, f"not valid YAML: {problem} (expected {hint})")


def _walk_nodes(node: Node | None, seen: set[int] | None = None) -> Iterator[Node]:
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    yield node
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _walk_nodes(key, seen)
            yield from _walk_nodes(value, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _walk_nodes(item, seen)


def _duplicate_keys(tree: Node | None, path: str) -> Iterator[Issue]:
    """Keys given twice in one mapping; ``101`` and ``"101"`` are the same key here."""
    for node in _walk_nodes(tree):
        if not isinstance(node, MappingNode):
            continue
        first: dict[str, int] = {}
        for key, _value in node.value:
            if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            name = str(key.value)
            if name in first:
                message = f"duplicate key {name!r} (first at line {first[name]}; expected each key once)"
                yield Issue(path, key.start_mark.line + 1, key.start_mark.column + 1, message)
            else:
                first[name] = key.start_mark.line + 1


def _bad_dates(tree: Node | None, path: str) -> Iterator[Issue]:
    for node in _walk_nodes(tree):
        if isinstance(node, ScalarNode) and node.tag.endswith(":timestamp"):
            try:
                date.fromisoformat(str(node.value)[:10])
            except ValueError:
                message = f"{node.value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-01-01)"
                yield Issue(path, node.start_mark.line + 1, node.start_mark.column + 1, message)


def _plain(node: Any) -> Any:
    """ruamel's round-trip values as plain ones, keys as text (``101:`` is the extension "101")."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None or isinstance(node, date):
        return node
    for kind in (str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


# --------------------------------------------------------------------------------------------------
# Schema errors


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


def _schema_issues(exc: ValidationError, positions: Positions, plain: Any) -> list[Issue]:
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
    return _ordered(issues)


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


# --------------------------------------------------------------------------------------------------
# The checks beyond the schema


def check(spec: DialplanSpec, positions: Positions | None = None) -> list[Issue]:
    """Every problem that needs the whole plan, errors and warnings, in file order."""
    checker = _Checker(spec, positions or Positions("<dialplan>"))
    checker.run()
    return _ordered(checker.issues)


_NO_EXTENSIONS = "an extension, and there is none yet"
_NO_GROUPS = "a group under groups:, and there is none yet"
_NO_ROOMS = "a room under conferences:, and there is none yet"
_NO_SCHEDULES = "one under schedules:, and there is none yet"
_NO_HOLIDAYS = "a list under holidays:, and there is none yet"
_NO_TRUNKS = "a trunk under trunks:, and there is none yet"
_FEATURE_KINDS = ("pickup", "listen", "whisper", "barge", "emergency")
_PREFIX_VERBS = {"listen": "listening in on", "whisper": "whispering to", "barge": "barging in on"}
_NUMBER_NOUNS = {"extension": "an extension", "group": "a group number", "room": "a conference room"}


@dataclass(frozen=True, slots=True)
class _Number:
    """Something dialled from an idle phone."""

    number: str
    kind: str
    "extension, group, room, pickup, emergency; listen, whisper, barge are prefixes."
    label: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class _Edge:
    to: str
    loc: Loc


class _Checker:
    def __init__(self, spec: DialplanSpec, positions: Positions) -> None:
        self.spec = spec
        self.pos = positions
        self.issues: list[Issue] = []
        self.group_numbers = {group.number: name for name, group in spec.groups.items() if group.number}
        self.reached_groups: set[str] = set()
        self.edges: dict[str, list[_Edge]] = {}
        self.node_loc: dict[str, Loc] = {}

    def error(self, loc: Loc, message: str) -> None:
        self.issues.append(self.pos.issue(loc, message))

    def warn(self, loc: Loc, message: str) -> None:
        self.issues.append(self.pos.issue(loc, message, "warning"))

    def run(self) -> None:
        for run in (
            self.region,
            self.extensions,
            self.groups,
            self.numbers,
            self.transfer,
            self.trunks,
            self.inbound,
            self.schedules,
            self.outbound,
            self.emergency,
            self.loops,
        ):
            run()

    # ---- targets

    def target(self, target: Target, loc: Loc, *, forward_of: str | None = None) -> str | None:
        """Check *target* at *loc*; return its node in the call graph (None: the call ends there)."""
        spec = self.spec
        if target.kind == "ext":
            if target.ref in self.group_numbers:
                self.reached_groups.add(self.group_numbers[target.ref])
                return f"group:{self.group_numbers[target.ref]}"
            extension = spec.extensions.get(target.ref)
            if extension is None:
                choices = _choices([*spec.extensions, *self.group_numbers], _NO_EXTENSIONS)
                self.error(loc, f"{target} is not an extension or a group number (expected {choices})")
                return None
            if extension.disabled:
                self.warn(
                    loc,
                    f"{target} is disabled, calls sent there ring nowhere (expected an extension in service)",
                )
            return str(target)
        if target.kind == "group":
            if target.ref not in spec.groups:
                self.error(
                    loc,
                    f"{target} is not a group (expected {_choices(spec.groups, _NO_GROUPS)})",
                )
                return None
            self.reached_groups.add(target.ref)
            return str(target)
        if target.kind == "conference" and target.ref not in spec.conferences:
            self.error(
                loc,
                f"{target} is not a conference room (expected {_choices(spec.conferences, _NO_ROOMS)})",
            )
        if target.kind == "number":
            self.phone_number(target.ref, loc)
            return str(target)
        if target.kind == "mobile":
            if forward_of is None:
                self.error(
                    loc,
                    "mobile is only for an extension's forwards "
                    "(expected ext:, group:, conference:, number: or hangup here)",
                )
            elif spec.extensions[forward_of].mobile is None:
                self.error(
                    loc,
                    f"extension {forward_of} has no mobile to forward to "
                    "(expected a mobile: key on the extension, or another target)",
                )
        return None

    def link(self, node: str, target: Target | None, loc: Loc, *, forward_of: str | None = None) -> None:
        if target is None:
            return
        reached = self.target(target, loc, forward_of=forward_of)
        if reached is not None:
            self.edges.setdefault(node, []).append(_Edge(reached, loc))

    def phone_number(self, number: str, loc: Loc, *, what: str = "") -> phonenumbers.PhoneNumber | None:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            self.error(
                loc,
                f"{what}{number} is not a valid phone number "
                "(expected a number in service: country code, then area or mobile code, e.g. +74951234567)",
            )
            return None
        return parsed

    # ---- the plan, part by part

    def region(self) -> None:
        region = self.spec.default_region
        if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            self.error(
                ("default_region",),
                f"{region!r} is not a region (expected a two-letter country code, e.g. RU)",
            )

    def extensions(self) -> None:
        users: dict[str, str] = {}
        for number, extension in self.spec.extensions.items():
            here: Loc = ("extensions", number)
            node = f"ext:{number}"
            self.node_loc[node] = here
            if extension.user is not None:
                if extension.user in users:
                    other = users[extension.user]
                    self.warn(
                        (*here, "user"),
                        f"user {extension.user!r} is also at extension {other} "
                        f"({self.pos.where(('extensions', other, 'user'))}; "
                        "expected one extension per login)",
                    )
                else:
                    users[extension.user] = number
            if extension.mobile is not None:
                parsed = self.phone_number(extension.mobile, (*here, "mobile"), what="mobile ")
                if (
                    parsed is not None
                    and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE
                ):
                    self.warn(
                        (*here, "mobile"),
                        f"mobile {extension.mobile} is a fixed-line number, not a mobile "
                        "(forwards still work; expected e.g. +79161234567)",
                    )
            forward = extension.forward
            floc: Loc = (*here, "forward")
            for key in ("always", "busy", "unavailable"):
                self.link(node, getattr(forward, key), (*floc, key), forward_of=number)
            if forward.no_answer is not None:
                self.link(node, forward.no_answer.to, (*floc, "no_answer", "to"), forward_of=number)
            if forward.always is not None:
                for key in ("busy", "no_answer", "unavailable"):
                    if getattr(forward, key) is not None:
                        self.warn(
                            (*floc, key),
                            f"forward.{key} is never used: forward.always sends every call away first "
                            "(expected always alone, or no always)",
                        )

    def groups(self) -> None:
        extensions = self.spec.extensions
        for name, group in self.spec.groups.items():
            here: Loc = ("groups", name)
            self.node_loc[f"group:{name}"] = here
            seen: set[str] = set()
            for index, member in enumerate(group.members):
                loc = (*here, "members", index)
                if member in seen:
                    self.error(loc, f"member {member} is listed twice (expected each extension once)")
                elif member not in extensions:
                    choices = _choices(extensions, _NO_EXTENSIONS)
                    self.error(loc, f"member {member} is not an extension (expected {choices})")
                elif extensions[member].disabled:
                    self.warn(
                        loc, f"member {member} is disabled and never rings (expected extensions in service)"
                    )
                seen.add(member)
            ordered = group.strategy in (GroupStrategy.SEQUENTIAL, GroupStrategy.HUNT)
            if ordered and len(group.members) == 1:
                self.warn(
                    (*here, "strategy"),
                    f"strategy {group.strategy} with a single member just rings that phone "
                    "(expected two or more members, or strategy ringall)",
                )
            if ordered and group.member_timeout > group.timeout:
                self.warn(
                    (*here, "member_timeout"),
                    f"member_timeout {group.member_timeout} s is longer than timeout {group.timeout} s, "
                    "so only the first member rings (expected member_timeout at most timeout)",
                )
            if not ordered and "member_timeout" in group.model_fields_set:
                self.warn(
                    (*here, "member_timeout"),
                    "member_timeout has no effect with strategy ringall "
                    "(expected it only with sequential or hunt)",
                )
            self.link(f"group:{name}", group.overflow, (*here, "overflow"))

    def numbers(self) -> None:
        """Each dialled number means one thing, and none is the beginning of another."""
        numbers = self.dialled()
        firsts: dict[str, _Number] = {}
        for item in numbers:
            first = firsts.setdefault(item.number, item)
            if first is not item:
                self.duplicate(first, item)
        for short in numbers:
            for long in numbers:
                if long.number != short.number and long.number.startswith(short.number):
                    self.prefix(short, long)

    def dialled(self) -> list[_Number]:
        spec, codes = self.spec, self.spec.feature_codes
        out = [
            _Number(number, "extension", f"extension {number}", ("extensions", number))
            for number in spec.extensions
        ]
        out += [
            _Number(group.number, "group", f"group {name!r}", ("groups", name, "number"))
            for name, group in spec.groups.items()
            if group.number
        ]
        out += [
            _Number(room, "room", f"conference room {room}", ("conferences", room))
            for room in spec.conferences
        ]
        out += [
            _Number(code, "pickup", f"pickup code {code}", ("feature_codes", "pickup", index))
            for index, code in enumerate(codes.pickup)
        ]
        out += [
            _Number(number, "emergency", f"emergency number {number}", ("emergency", index))
            for index, number in enumerate(spec.emergency)
        ]
        for kind in ("listen", "whisper", "barge"):
            code = getattr(codes, kind)
            if code:
                out.append(_Number(code, kind, f"{kind} prefix {code}", ("feature_codes", kind)))
        # file order; what the file does not say (defaults) comes first
        return sorted(out, key=lambda item: (self.pos.has(item.loc), self.pos.find(item.loc)[:2]))

    def duplicate(self, first: _Number, second: _Number) -> None:
        if not self.pos.has(second.loc):
            return
        where = self.pos.where(first.loc)
        if first.kind == second.kind:
            message = f"{second.number} is listed twice (first at {where}; expected each number once)"
            self.error(second.loc, message)
            return
        emergency = next((item for item in (first, second) if item.kind == "emergency"), None)
        if emergency is not None:
            other = second if emergency is first else first
            loc = other.loc if self.pos.has(other.loc) else emergency.loc
            self.error(
                loc,
                f"{other.label} is also emergency number {other.number} "
                f"({self.pos.where(emergency.loc)}): dialling {other.number} must reach the emergency "
                "service (expected a number not listed in emergency)",
            )
            return
        self.error(
            second.loc,
            f"{second.label} has the number of {first.label} "
            f"({where}; expected each number to mean one thing)",
        )

    def prefix(self, short: _Number, long: _Number) -> None:
        features = short.kind in _FEATURE_KINDS or long.kind in _FEATURE_KINDS
        at_long = self.pos.has(long.loc)
        if not at_long and not self.pos.has(short.loc):
            return
        if at_long:
            subject, loc = f"{long.label} begins with {short.label} ({self.pos.where(short.loc)})", long.loc
        else:
            subject, loc = (
                f"{short.label} is the beginning of {long.label} ({self.pos.where(long.loc)})",
                short.loc,
            )
        if short.kind in _PREFIX_VERBS and long.kind in _PREFIX_VERBS:
            message = (
                f"{subject}, so {long.number} followed by an extension is ambiguous "
                "(expected prefixes where none is the beginning of another)"
            )
        elif short.kind in _PREFIX_VERBS:
            rest = long.number[len(short.number) :]
            noun = _NUMBER_NOUNS.get(long.kind, "a number")
            message = (
                f"{subject}: a phone that dials as soon as the digits make a known number stops at "
                f"{long.number}, so {_PREFIX_VERBS[short.kind]} an extension starting with {rest} "
                f"cannot be dialled (expected {noun} that does not begin with {short.number})"
            )
        else:
            message = (
                f"{subject}: a phone that dials as soon as the digits make a known number stops at "
                f"{short.number} (expected numbers where none is the beginning of another)"
            )
        if features:
            self.error(loc, message)
        else:
            self.warn(loc, message)

    def transfer(self) -> None:
        """During a call a pickup code acts as soon as it is complete: ``*11`` cuts ``*110#`` short."""
        codes = self.spec.feature_codes
        prefix, end = codes.announced_transfer.prefix, codes.announced_transfer.terminator
        targets = [item for item in self.dialled() if item.kind in _NUMBER_NOUNS]
        for index, code in enumerate(codes.pickup):
            if not code.startswith(prefix):
                continue
            code_loc: Loc = ("feature_codes", "pickup", index)
            rest = code[len(prefix) :]
            if not rest:
                self.error(
                    code_loc,
                    f"pickup code {code} is the announced-transfer prefix, so no transfer can be dialled "
                    f"(expected a pickup code other than {prefix})",
                )
                continue
            for item in targets:
                if item.number.startswith(rest):
                    self.error(
                        item.loc,
                        f"{item.label}: during a call {prefix}{item.number}{end} (announced transfer) begins "
                        f"with pickup code {code} ({self.pos.where(code_loc)}), which acts as soon as it is "
                        f"dialled (expected numbers that do not start with {rest}, or another "
                        "announced_transfer prefix)",
                    )

    def trunks(self) -> None:
        carried: dict[str, tuple[str, Loc]] = {}
        used = {route.trunk for route in self.spec.outbound} | {
            route.failover for route in self.spec.outbound
        }
        for name, trunk in self.spec.trunks.items():
            here: Loc = ("trunks", name)
            for index, number in enumerate(trunk.numbers):
                loc = (*here, "numbers", index)
                if number in carried:
                    other, other_loc = carried[number]
                    if other == name:
                        self.warn(
                            loc,
                            f"{number} is listed twice "
                            f"(first at {self.pos.where(other_loc)}; expected each number once)",
                        )
                    else:
                        self.error(
                            loc,
                            f"{number} is already carried by trunk {other!r} at {self.pos.where(other_loc)} "
                            "(expected each number on one trunk)",
                        )
                    continue
                carried[number] = (name, loc)
                self.phone_number(number, loc)
            if trunk.caller_id is not None:
                self.caller_id(trunk.caller_id, name, (*here, "caller_id"))
            if not trunk.numbers and name not in used:
                self.warn(
                    here,
                    f"trunk {name!r} carries no numbers and no outbound route uses it "
                    f"(expected numbers: or a route with trunk: {name})",
                )

    def caller_id(self, number: str, trunk: str, loc: Loc) -> None:
        if self.phone_number(number, loc) is None or trunk not in self.spec.trunks:
            return
        numbers = self.spec.trunks[trunk].numbers
        if number not in numbers:
            self.warn(
                loc,
                f"caller_id {number} is not a number of trunk {trunk!r}, "
                "the carrier may reject or replace it "
                f"(expected {_choices(numbers, 'one of its numbers:, and it has none')})",
            )

    def inbound(self) -> None:
        spec = self.spec
        dids = {number for trunk in spec.trunks.values() for number in trunk.numbers}
        firsts: dict[str, int] = {}
        for index, route in enumerate(spec.inbound):
            here: Loc = ("inbound", index)
            node = f"number:{route.number}" if route.number != "any" else "number:any"
            self.node_loc.setdefault(node, here)
            if route.number in firsts:
                where = self.pos.where(("inbound", firsts[route.number]))
                if route.number == "any":
                    message = (
                        f"a second 'any' route: the route at {where} already takes every call no other route "
                        "takes (expected one any route)"
                    )
                else:
                    message = (
                        f"a second route for {route.number}: the route at {where} already takes "
                        "every call to it (expected one route per number; "
                        "a schedule chooses between to and otherwise)"
                    )
                self.error((*here, "number"), message)
            else:
                firsts[route.number] = index
            if (
                route.number != "any"
                and self.phone_number(route.number, (*here, "number")) is not None
                and route.number not in dids
            ):
                self.warn(
                    (*here, "number"),
                    f"no trunk carries {route.number}, so this route never gets a call "
                    f"(expected {route.number} in a trunk's numbers)",
                )
            duplicate = route.number in firsts and firsts[route.number] != index
            for key in ("to", "otherwise", "fallback"):
                target = getattr(route, key)
                if duplicate:
                    if target is not None:
                        self.target(target, (*here, key))
                else:
                    self.link(node, target, (*here, key))
            if route.schedule is not None and route.otherwise is None:
                self.error(
                    (*here, "schedule"),
                    f"schedule {route.schedule!r} but no otherwise: where do calls go when it is closed? "
                    "(expected otherwise: a target, e.g. ext:110 or hangup)",
                )
            if route.schedule is None and route.otherwise is not None:
                self.warn(
                    (*here, "otherwise"),
                    "otherwise is never used: the route has no schedule "
                    "(expected schedule: NAME, or no otherwise)",
                )
            if route.fallback is not None and route.fallback == route.to:
                self.warn(
                    (*here, "fallback"),
                    f"fallback is the same as to ({route.to}), so it adds nothing (expected another target)",
                )
            if "responsible_timeout" in route.model_fields_set and not route.responsible_first:
                self.warn(
                    (*here, "responsible_timeout"),
                    "responsible_timeout has no effect without responsible_first: true "
                    "(expected both, or neither)",
                )
        if "any" not in firsts:
            for name, trunk in spec.trunks.items():
                for index, number in enumerate(trunk.numbers):
                    if number not in firsts:
                        self.warn(
                            ("trunks", name, "numbers", index),
                            f"no inbound route for {number} and no 'any' route, so its calls are refused "
                            f'(expected a route with number: "{number}" or number: any)',
                        )
        for name, group in spec.groups.items():
            if not group.number and name not in self.reached_groups:
                self.warn(
                    ("groups", name),
                    f"group {name!r} has no number and no route, forward or overflow leads to it "
                    f"(expected number: or a target group:{name})",
                )

    def schedules(self) -> None:
        spec = self.spec
        used = {route.schedule for route in spec.inbound if route.schedule is not None}
        for index, route in enumerate(spec.inbound):
            if route.schedule is not None and route.schedule not in spec.schedules:
                self.error(
                    ("inbound", index, "schedule"),
                    f"schedule {route.schedule!r} is not defined "
                    f"(expected {_choices(spec.schedules, _NO_SCHEDULES)})",
                )
        lists_used: set[str] = set()
        for name, schedule in spec.schedules.items():
            here: Loc = ("schedules", name)
            if name not in used:
                self.warn(
                    here,
                    f"schedule {name!r} is not used by any inbound route "
                    f"(expected schedule: {name} on a route, or remove it)",
                )
            if not any(schedule.hours.values()):
                self.error(
                    here,
                    f"schedule {name!r} is never open: no day has hours "
                    '(expected e.g. hours: {mon-fri: "09:00-18:00"})',
                )
            overlaps: dict[tuple[Loc, str], list[str]] = {}
            for day in DAYS:
                ranges = sorted(schedule.hours.get(day, ()), key=lambda span: span.start)
                for before, after in itertools.pairwise(ranges):
                    if after.start < before.end:
                        pair = f"{_span(before)} and {_span(after)}"
                        overlaps.setdefault((self.day_loc(name, day), pair), []).append(day)
            for (loc, pair), days in overlaps.items():
                self.error(
                    loc,
                    f"{pair} overlap on {', '.join(days)} "
                    "(expected ranges that do not overlap, e.g. 09:00-13:00, 14:00-18:00)",
                )
            if isinstance(schedule.holidays, str):
                lists_used.add(schedule.holidays)
                if schedule.holidays not in spec.holidays:
                    self.error(
                        (*here, "holidays"),
                        f"holiday list {schedule.holidays!r} is not defined "
                        f"(expected {_choices(spec.holidays, _NO_HOLIDAYS)})",
                    )
        for name in spec.holidays:
            if name not in lists_used:
                self.warn(
                    ("holidays", name),
                    f"holiday list {name!r} is not used by any schedule "
                    f"(expected holidays: {name} in a schedule, or remove it)",
                )

    def day_loc(self, schedule: str, day: str) -> Loc:
        """The key under ``hours`` that gave *day* its hours (``mon-fri`` for ``wed``)."""
        for key in self.pos.keys(("schedules", schedule, "hours")):
            try:
                days = Schedule(hours={key: "closed"}).hours
            except ValidationError:
                continue
            if day in days:
                return ("schedules", schedule, "hours", key)
        return ("schedules", schedule, "hours")

    def outbound(self) -> None:
        spec = self.spec
        routes = spec.outbound
        compiled = [[re.compile(pattern) for pattern in route.match] for route in routes]

        def matches(index: int, number: str) -> bool:
            return any(pattern.fullmatch(number) for pattern in compiled[index])

        own = [_samples(route.match) for route in routes]
        pool = list(
            dict.fromkeys(
                [*self.plan_numbers(), *sorted({s for samples in own for s in samples}, key=_by_size)]
            )
        )
        held = {kind for extension in spec.extensions.values() for kind in extension.outbound}
        holders: dict[str, set[str]] = {route.permission: set() for route in routes}
        for number, extension in spec.extensions.items():
            for kind in extension.outbound:
                holders.setdefault(kind, set()).add(number)
        needed = {route.permission for route in routes}
        for index, route in enumerate(routes):
            here: Loc = ("outbound", index)
            label = _route_label(route, index)
            if route.trunk not in spec.trunks:
                self.error(
                    (*here, "trunk"),
                    f"trunk {route.trunk!r} is not defined (expected {_choices(spec.trunks, _NO_TRUNKS)})",
                )
            if route.failover is not None:
                if route.failover not in spec.trunks:
                    self.error(
                        (*here, "failover"),
                        f"failover trunk {route.failover!r} is not defined "
                        f"(expected {_choices(spec.trunks, _NO_TRUNKS)})",
                    )
                elif route.failover == route.trunk:
                    self.warn(
                        (*here, "failover"),
                        f"failover {route.failover!r} is the route's own trunk, so it adds nothing "
                        "(expected another trunk)",
                    )
            if route.caller_id is not None:
                self.caller_id(route.caller_id, route.trunk, (*here, "caller_id"))
            if route.permission not in held:
                self.warn(
                    (*here, "permission"),
                    f"no extension holds permission {route.permission!r}, so nobody can use this route "
                    f"(expected {route.permission!r} in some extension's outbound:)",
                )
            self.strip(route, here)
            overlapped = False
            for earlier in range(index):
                other = routes[earlier].trunk
                if (
                    overlapped
                    or other == route.trunk
                    or route.trunk not in spec.trunks
                    or other not in spec.trunks
                ):
                    continue
                common = next((s for s in pool if matches(earlier, s) and matches(index, s)), None)
                if common is not None:
                    overlapped = True
                    self.error(
                        (*here, "match"),
                        f"{label} overlaps {_route_label(routes[earlier], earlier)} at "
                        f"{self.pos.where(('outbound', earlier))}, "
                        f"which uses trunk {routes[earlier].trunk!r} "
                        f"instead of {route.trunk!r}: {common} matches both and the first route wins "
                        "(expected patterns that do not overlap, or the same trunk)",
                    )
            # the first route the caller may use wins: an earlier route only shadows this one for
            # callers that hold its permission too
            covering = [e for e in range(index) if holders[route.permission] <= holders[routes[e].permission]]
            takers = [e for e in covering if any(matches(e, s) for s in own[index])]
            shadowed = bool(own[index]) and all(any(matches(e, s) for e in covering) for s in own[index])
            if shadowed and not overlapped:
                names = " and ".join(
                    f"{_route_label(routes[e], e)} at {self.pos.where(('outbound', e))}" for e in takers
                )
                self.warn(
                    (*here, "match"),
                    f"{label} is never used: every number it matches goes to {names} first "
                    "(expected it above those routes, or removed)",
                )
        if routes:
            for number, extension in spec.extensions.items():
                if "outbound" not in extension.model_fields_set:
                    continue
                for index, kind in enumerate(extension.outbound):
                    if kind not in needed:
                        self.warn(
                            ("extensions", number, "outbound", index),
                            f"extension {number} holds outbound class {kind!r}, which no route needs "
                            f"(a typo? expected {_choices(sorted(needed), 'none')})",
                        )
        for item in self.dialled():
            if item.kind not in _NUMBER_NOUNS:
                continue
            for index, _route in enumerate(routes):
                if matches(index, item.number):
                    self.warn(
                        item.loc,
                        f"{item.label} also matches {_route_label(routes[index], index)} "
                        f"({self.pos.where(('outbound', index))}); the internal number wins "
                        "(expected patterns that no internal number matches)",
                    )
                    break

    def strip(self, route: OutboundRoute, here: Loc) -> None:
        if route.strip:
            shortest = min(sre_parser.parse(pattern).getwidth()[0] for pattern in route.match)
            if route.strip >= shortest:
                self.warn(
                    (*here, "strip"),
                    f"strip {route.strip} removes the whole of the shortest number this route matches "
                    f"({shortest} characters; expected strip below {shortest})",
                )
                return
        if not route.prefix.startswith("+"):
            return  # the carrier gets what was dialled, or a local form we cannot judge
        with_country = route.prefix != "+"
        for sample in sorted(_samples(route.match), key=_by_size):
            rewritten = route.prefix + sample[route.strip :]
            broken = not re.fullmatch(r"\+\d+", rewritten) or (
                # "+7" + what is left: the length decides, so random digits judge it fairly
                with_country and _possible(sample, self.spec.default_region) and not _possible(rewritten)
            )
            if broken:
                self.warn(
                    (*here, "prefix"),
                    f"strip {route.strip} and prefix {route.prefix!r} turn {sample} into {rewritten}, "
                    "which is not a possible phone number "
                    "(expected a rewrite to E.164, e.g. one route per way of dialling)",
                )
                return

    def plan_numbers(self) -> list[str]:
        spec = self.spec
        numbers = [*spec.emergency, *spec.extensions, *(route.number for route in spec.inbound)]
        numbers += [number for trunk in spec.trunks.values() for number in trunk.numbers]
        numbers += [extension.mobile for extension in spec.extensions.values() if extension.mobile]
        for national in [n for n in numbers if n.startswith("+7")]:
            numbers.append("8" + national[2:])
        return [n for n in dict.fromkeys(numbers) if n != "any"]

    def emergency(self) -> None:
        """Emergency numbers always go out; without a route of their own, unchanged on every trunk."""
        spec = self.spec
        if not spec.trunks:
            return  # an internal-only plan calls nobody outside
        for index, number in enumerate(spec.emergency):
            if any(re.fullmatch(pattern, number) for route in spec.outbound for pattern in route.match):
                continue
            loc: Loc = next(
                (loc for loc in (("emergency", index), ("outbound",)) if self.pos.has(loc)), ("trunks",)
            )
            self.warn(
                loc,
                f"emergency number {number} matches no outbound route, so it goes out unchanged on every "
                f"trunk in turn (expected a route for it, e.g. match: '^{number}$')",
            )

    def loops(self) -> None:
        own = {route.number for route in self.spec.inbound}
        dids = {number for trunk in self.spec.trunks.values() for number in trunk.numbers}
        for number in dids - own:  # our own number without a route of its own: the any route takes it
            if "number:any" in self.edges:
                self.edges[f"number:{number}"] = self.edges["number:any"]
        order = {node: self.pos.find(loc)[:2] for node, loc in self.node_loc.items()}
        nodes = sorted(self.edges, key=lambda node: (order.get(node, (1 << 30, 0)), node))
        rank = {node: index for index, node in enumerate(nodes)}
        found: set[tuple[str, ...]] = set()
        for start in nodes:
            for cycle, loc in _cycles(start, self.edges, lambda node, s=start: rank.get(node, -1) > rank[s]):
                if cycle in found or len(found) >= 20:
                    continue
                found.add(cycle)
                path = " -> ".join((*cycle, cycle[0]))
                self.error(
                    loc,
                    f"calls can loop: {path} (expected forwards and overflows that end at a phone, "
                    "a mobile, an outside number or hangup)",
                )


def _cycles(
    start: str, edges: dict[str, list[_Edge]], allowed: Callable[[str], bool]
) -> Iterator[tuple[tuple[str, ...], Loc]]:
    """Elementary cycles through *start* whose other nodes pass *allowed*; with the first edge's place."""
    stack: list[tuple[str, list[str], Loc | None]] = [(start, [start], None)]
    while stack:
        node, path, first = stack.pop()
        for edge in reversed(edges.get(node, [])):
            loc = first if first is not None else edge.loc
            if edge.to == start:
                yield tuple(path), loc
            elif edge.to not in path and allowed(edge.to):
                stack.append((edge.to, [*path, edge.to], loc))


def _choices(names: Iterable[str], empty: str) -> str:
    """``one of: a, b`` or, when there are none, *empty*."""
    listed = list(dict.fromkeys(names))
    if not listed:
        return empty
    shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
    return f"one of: {shown}"


def _route_label(route: OutboundRoute, index: int) -> str:
    return f"outbound route {route.name!r}" if route.name else f"outbound route #{index + 1}"


def _span(span: TimeRange) -> str:
    def hhmm(moment: time) -> str:
        return "24:00" if moment == time.max else moment.strftime("%H:%M")

    return f"{hhmm(span.start)}-{hhmm(span.end)}"


def _possible(number: str, region: str | None = None) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _by_size(number: str) -> tuple[int, str]:
    return len(number), number


# --------------------------------------------------------------------------------------------------
# Numbers a regular expression matches: a small sampler over Python's own regex parser


_DIALLED = "0123456789+*#"
_SAMPLES = 48
_SPARE_REPEATS = 8
"An unbounded repeat (``\\d+``) is sampled up to this many times over its minimum."


def _samples(patterns: Sequence[str]) -> list[str]:
    """Numbers each pattern matches whole: shortest and longest forms, then seeded random ones."""
    out: list[str] = []
    for pattern in patterns:
        compiled = re.compile(pattern)
        parsed = sre_parser.parse(pattern)
        rng = random.Random(pattern)  # noqa: S311 - samples for a check, not secrets; seeded: stable messages
        for mode in ("min", "max", *["random"] * _SAMPLES):
            try:
                text = _generate(parsed, rng, mode, {})
            except _Unsupported:
                break
            if compiled.fullmatch(text):
                out.append(text)
    return list(dict.fromkeys(out))


class _Unsupported(Exception):
    """The pattern uses something the sampler does not generate (look-arounds and the like)."""


def _generate(items: Any, rng: random.Random, mode: str, groups: dict[int, str]) -> str:
    out = []
    for op, arg in items:
        if op is sre_constants.LITERAL:
            out.append(chr(arg))
        elif op is sre_constants.NOT_LITERAL:
            out.append(rng.choice([c for c in _DIALLED if ord(c) != arg]))
        elif op is sre_constants.ANY:
            out.append(rng.choice("0123456789"))
        elif op is sre_constants.IN:
            out.append(_pick(_charset(arg), rng, mode))
        elif op is sre_constants.BRANCH:
            options = arg[1]
            choice = options[0] if mode == "min" else options[-1] if mode == "max" else rng.choice(options)
            out.append(_generate(choice, rng, mode, groups))
        elif op is sre_constants.SUBPATTERN:
            group, _add, _remove, body = arg
            text = _generate(body, rng, mode, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, _POSSESSIVE_REPEAT):
            low, high, body = arg
            top = low + _SPARE_REPEATS if high is sre_constants.MAXREPEAT else high
            count = low if mode == "min" else top if mode == "max" else rng.randint(low, top)
            out.extend(_generate(body, rng, mode, groups) for _ in range(count))
        elif op is sre_constants.AT:
            continue
        elif op is sre_constants.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is _ATOMIC_GROUP:
            out.append(_generate(arg, rng, mode, groups))
        else:
            raise _Unsupported(str(op))
    return "".join(out)


_POSSESSIVE_REPEAT = getattr(sre_constants, "POSSESSIVE_REPEAT", object())
_ATOMIC_GROUP = getattr(sre_constants, "ATOMIC_GROUP", object())


def _charset(items: Any) -> str:
    chars: set[str] = set()
    negate = False
    for op, arg in items:
        if op is sre_constants.NEGATE:
            negate = True
        elif op is sre_constants.LITERAL:
            chars.add(chr(arg))
        elif op is sre_constants.RANGE:
            chars.update(chr(code) for code in range(arg[0], min(arg[1], 0x7F) + 1))
        elif op is sre_constants.CATEGORY:
            if arg in (sre_constants.CATEGORY_DIGIT, sre_constants.CATEGORY_WORD):
                chars.update("0123456789")
            elif arg is sre_constants.CATEGORY_NOT_DIGIT:
                chars.update("+*#")
    if negate:
        chars = set(_DIALLED) - chars
    dialled = "".join(sorted(chars & set(_DIALLED)))
    return dialled or "".join(sorted(chars))[:1] or "x"


def _pick(chars: str, rng: random.Random, mode: str) -> str:
    if mode == "min":
        return chars[0]
    if mode == "max":
        return chars[-1]
    return rng.choice(chars)
