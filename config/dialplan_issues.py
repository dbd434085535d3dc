"""What a dialplan problem is and where it sits: :class:`Issue`, :class:`DialplanError`, :class:`Positions`.

Every stage of :mod:`config.dialplan` (YAML, schema, the plan-wide checks) reports problems as
:class:`Issue` values placed by :class:`Positions`, which maps a path of keys and list indexes to the
line and column ruamel's round-trip loader recorded; :func:`ordered` puts errors first, then file
order. The public names are re-exported by :mod:`config.dialplan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = [
    "DialplanError",
    "Issue",
    "Loc",
    "Positions",
    "Severity",
    "ordered",
]

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
        self.issues = ordered(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


def ordered(issues: Iterable[Issue]) -> list[Issue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: (issue.severity != "error", issue.line, issue.column))


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
