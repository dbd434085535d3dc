"""What an import is asked to do and what it reports: dedupe modes, match keys, row issues, progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .mapping import ImportKind

__all__ = [
    "ALLOWED_MATCH",
    "CHUNK",
    "DEFAULT_MATCH",
    "DedupeMode",
    "ImportReport",
    "MatchKey",
    "Progress",
    "ProgressCallback",
    "RowIssue",
]

CHUNK = 1000
"Rows per duplicate look-up and per multi-row INSERT (well under every driver's parameter limit)."


class DedupeMode(StrEnum):
    SKIP = "skip"
    MERGE = "merge"
    CREATE = "create"


class MatchKey(StrEnum):
    """What makes two cards the same: a shared phone, e-mail, name, or product external id."""

    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"
    EXTERNAL_ID = "external_id"


DEFAULT_MATCH: dict[ImportKind, tuple[MatchKey, ...]] = {
    # Two people may share a name, so contacts and leads match on how to reach them; companies
    # also on their name (legal form and quotes ignored), products on their 1C code, then name.
    ImportKind.CONTACTS: (MatchKey.PHONE, MatchKey.EMAIL),
    ImportKind.COMPANIES: (MatchKey.PHONE, MatchKey.EMAIL, MatchKey.NAME),
    ImportKind.LEADS: (MatchKey.PHONE, MatchKey.EMAIL),
    ImportKind.PRODUCTS: (MatchKey.EXTERNAL_ID, MatchKey.NAME),
}
ALLOWED_MATCH: dict[ImportKind, frozenset[MatchKey]] = {
    ImportKind.CONTACTS: frozenset({MatchKey.PHONE, MatchKey.EMAIL, MatchKey.NAME}),
    ImportKind.COMPANIES: frozenset({MatchKey.PHONE, MatchKey.EMAIL, MatchKey.NAME}),
    ImportKind.LEADS: frozenset({MatchKey.PHONE, MatchKey.EMAIL, MatchKey.NAME}),
    ImportKind.PRODUCTS: frozenset({MatchKey.EXTERNAL_ID, MatchKey.NAME}),
}


@dataclass(frozen=True, slots=True)
class RowIssue:
    """Why one row failed (``errors``) or was left out (``skipped``)."""

    line: int
    reason: str
    column: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an import is: *phase* ``check`` or ``write``, *done* of *total* rows."""

    phase: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


@dataclass(slots=True)
class ImportReport:
    """What an import did, or would do in a dry run."""

    kind: ImportKind
    file: str
    dedupe: DedupeMode
    match_on: tuple[MatchKey, ...]
    dry_run: bool
    rows: int = 0
    created: int = 0
    merged: int = 0
    skipped: list[RowIssue] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    created_companies: int = 0
    "Contacts' companies (or products' sections) that did not exist and were (would be) created."
    committed: bool = False
    "True when the rows were written into the caller's transaction (it still has to commit)."

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready form; *limit* caps the listed errors and skipped rows (the counts stay whole)."""

        def issues(items: list[RowIssue]) -> list[dict[str, Any]]:
            return [{"line": i.line, "column": i.column, "reason": i.reason} for i in items[:limit]]

        return {
            "kind": self.kind.value,
            "file": self.file,
            "dedupe": self.dedupe.value,
            "match_on": [key.value for key in self.match_on],
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "merged": self.merged,
            "skipped": issues(self.skipped),
            "skipped_count": len(self.skipped),
            "errors": issues(self.errors),
            "error_count": len(self.errors),
            "created_companies": self.created_companies,
            "committed": self.committed,
        }
