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

This module is the public face and the loading flow (reading the file, YAML syntax, duplicate keys);
the other stages live beside it: :mod:`config.dialplan_issues` (issues and positions),
:mod:`config.dialplan_schema_errors` (pydantic errors as issues), :mod:`config.dialplan_checks` (the
checks above, by topic in ``dialplan_check_*``) and :mod:`config.regex_samples` (the route sampler).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.dialplan_checks import check
from config.dialplan_issues import DialplanError, Issue, Positions, ordered
from config.dialplan_schema_errors import schema_issues
from config.dialplan_spec import DialplanSpec

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
        raise DialplanError(schema_issues(exc, positions, plain)) from None
    issues = check(spec, positions)
    if any(issue.severity == "error" for issue in issues):
        raise DialplanError(issues)
    return spec, ordered(issues)


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
