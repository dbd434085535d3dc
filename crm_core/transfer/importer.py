"""Import contacts, companies, leads or products from a read file: dry run, then all-or-nothing commit.

The import runs in three passes, so that a file with one bad row changes nothing:

1. *check*: every row is parsed (names, phones, e-mails, money, yes/no, users, dictionary codes),
   the importing user's right to add each card is checked, and each row is matched against the
   database and against the rows above it (duplicates by phone, e-mail, name...). Every problem is
   kept with its line; nothing is written.
2. if any row failed, or this is a dry run, the report is returned as it stands;
3. *write*: new cards are inserted in chunks (one multi-row ``INSERT ... RETURNING`` per chunk and
   table) and duplicates merged, all in the caller's transaction. The caller commits; the importer
   never does, so an error half-way (a constraint, the database going away) rolls everything back.

Duplicates are looked up in bulk, one indexed query per chunk and key (``phone.e164``,
``email.value_key``, ``contact.name_key``...), which keeps an import at thousands of rows per second
over a million cards. A row is a duplicate when any of its chosen keys matches; then the dedupe mode
decides: ``skip`` it, ``merge`` it into the card it matches (empty fields are filled, new phones and
e-mails added, nothing already on the card is overwritten: what people typed into the CRM wins over
an old file), or ``create`` a new card anyway. Rows whose phone or e-mail is on the exclusion list
or among ``crm.own_numbers`` are skipped, each listed with its line and the value: the CRM never
makes a card for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..errors import Invalid
from ..models.catalog import Product
from ..rights import Action, Principal
from .mapping import ColumnMapping, ImportKind
from .readers import SourceTable
from .report import (
    ALLOWED_MATCH,
    CHUNK,
    DEFAULT_MATCH,
    DedupeMode,
    ImportReport,
    MatchKey,
    Progress,
    ProgressCallback,
    RowIssue,
)
from .rows import SPECS, Lookups, Record, RowFailed, RowParser
from .store import CardStore

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
    "import_table",
]

log = structlog.get_logger(__name__)


async def import_table(
    session: AsyncSession,
    principal: Principal,
    table: SourceTable,
    mapping: ColumnMapping,
    *,
    dedupe: DedupeMode = DedupeMode.SKIP,
    match_on: Sequence[MatchKey] | None = None,
    dry_run: bool = False,
    region: str = "RU",
    own_numbers: Sequence[str] = (),
    default_responsible_id: int | None = None,
    progress: ProgressCallback | None = None,
    chunk: int = CHUNK,
) -> ImportReport:
    """Check every row of *table*, then (unless *dry_run* or a row failed) write them all.

    A row with a phone or e-mail on the exclusion list or among *own_numbers* (``crm.own_numbers``)
    is skipped and reported with its line. Rows without a responsible user get
    *default_responsible_id*, else the importing user (the command line, importing as the system,
    passes a configured login's id). The caller owns the transaction and commits it when the
    report is ``ok`` and ``committed``.
    """
    kind = mapping.kind
    match = tuple(match_on) if match_on is not None else DEFAULT_MATCH[kind]
    for key in match:
        if key not in ALLOWED_MATCH[kind]:
            raise Invalid("match_on", key.value, tuple(sorted(k.value for k in ALLOWED_MATCH[kind])))
    report = ImportReport(
        kind=kind, file=table.name, dedupe=dedupe, match_on=match, dry_run=dry_run, rows=len(table.rows)
    )
    width = len(table.headers)
    for row in table.problems:
        report.errors.append(
            RowIssue(row.line, f"{len(row.cells)} cells, but the header has {width} columns")
        )
    spec = SPECS[kind]
    if default_responsible_id is None:
        default_responsible_id = principal.user_id
    if spec.owner_type is None:
        principal.require(spec.entity, Action.ADD, None)  # products belong to nobody: level "all"
    else:
        principal.require_any(spec.entity, Action.ADD)
    lookups = Lookups()
    await lookups.load(session, kind, own_numbers=own_numbers, region=region)
    parser = RowParser(kind, mapping, table.headers, lookups, region)
    records: list[Record] = []
    for number, row in enumerate(table.rows, start=1):
        if number % chunk == 0:
            await asyncio.sleep(0)  # a big file must not stall the server's other requests
        try:
            record = parser.parse(row.line, row.cells)
        except RowFailed as exc:
            report.errors.append(RowIssue(row.line, exc.reason, exc.column))
            continue
        excluded = _excluded(record, lookups)
        if excluded is not None:
            report.skipped.append(RowIssue(row.line, excluded))
            continue
        record.values.setdefault("responsible_id", default_responsible_id)
        responsible = record.values["responsible_id"] if spec.owner_type is not None else None
        if not principal.can(spec.entity, Action.ADD, responsible):
            whose = "" if responsible is None else " for that responsible user"
            report.errors.append(RowIssue(row.line, f"you may not add {kind}{whose}"))
            continue
        records.append(record)

    writer = CardStore(session, principal, kind, spec, default_responsible_id)
    fresh = await _dedupe(writer, records, match, dedupe, report, progress, chunk)
    merges = [r for r in records if r.target is not None]
    await writer.check_companies([*fresh, *merges], report)
    report.errors.sort(key=lambda issue: issue.line)
    report.skipped.sort(key=lambda issue: issue.line)
    if dry_run or report.errors:
        report.created = len(fresh)
        report.merged = sum(1 for r in records if r.target is not None or r.into is not None)
        log.info(
            "import_checked", kind=kind.value, rows=report.rows, errors=len(report.errors), dry_run=dry_run
        )
        return report

    total = len(fresh) + len(merges)
    await writer.create_companies()
    for start in range(0, len(fresh), chunk):
        await writer.insert(fresh[start : start + chunk])
        if progress is not None:
            progress(Progress("write", min(start + chunk, len(fresh)), total))
    for start in range(0, len(merges), chunk):
        await writer.merge(merges[start : start + chunk])
        if progress is not None:
            progress(Progress("write", len(fresh) + min(start + chunk, len(merges)), total))
    report.created = len(fresh)
    report.merged = len(merges) + sum(1 for r in records if r.into is not None)
    report.committed = True
    await audit.record(
        session,
        action="crm.import",
        actor=principal.login,
        user_id=principal.user_id,
        target=kind.value,
        details={
            "file": table.name,
            "rows": report.rows,
            "created": report.created,
            "merged": report.merged,
            "skipped": len(report.skipped),
            "dedupe": dedupe.value,
        },
    )
    log.info(
        "import_written",
        kind=kind.value,
        rows=report.rows,
        created=report.created,
        merged=report.merged,
        skipped=len(report.skipped),
    )
    return report


def _excluded(record: Record, lookups: Lookups) -> str | None:
    for phone in record.phones:
        if phone[0] in lookups.excluded_numbers:
            return f"{phone[0]} is on the exclusion list (our own or an excluded number)"
    for email in record.emails:
        if email[0] in lookups.excluded_emails:
            return f"{email[0]} is on the exclusion list"
    return None


async def _dedupe(
    writer: CardStore,
    records: list[Record],
    match: tuple[MatchKey, ...],
    dedupe: DedupeMode,
    report: ImportReport,
    progress: ProgressCallback | None,
    chunk: int,
) -> list[Record]:
    """Decide each record's fate; return the records to create (merges are marked on the records).

    A row that repeats an earlier row of the file folds into it (merge) or is skipped; one that
    repeats a card in the database merges into it or is skipped; with ``create`` every row is new.
    """
    kind = writer.kind
    seen: dict[tuple[MatchKey, str], Record] = {}
    targets: dict[int, Record] = {}
    "Existing card id -> the row merging into it (two rows never update one card separately)."
    fresh: list[Record] = []
    for start in range(0, len(records), chunk):
        batch = records[start : start + chunk]
        existing = await writer.find_existing(batch, match) if dedupe is not DedupeMode.CREATE else {}
        for record in batch:
            keys = record.keys(kind, match) if dedupe is not DedupeMode.CREATE else []
            earlier = next((seen[k] for k in keys if k in seen), None)
            hit = next((existing[k] for k in keys if k in existing), None)
            if earlier is None and hit is not None:
                earlier = targets.get(hit[0])
            if earlier is not None:
                while earlier.into is not None:
                    earlier = earlier.into
                if dedupe is DedupeMode.SKIP:
                    report.skipped.append(RowIssue(record.line, f"duplicate of line {earlier.line}"))
                    continue
                record.into = earlier
                earlier.absorb(record)
                for key in keys:
                    seen.setdefault(key, earlier)
                continue
            if hit is None:
                fresh.append(record)
            else:
                target_id, responsible = hit
                described = writer.describe(target_id, responsible)
                if dedupe is DedupeMode.SKIP:
                    report.skipped.append(RowIssue(record.line, f"duplicate of {described}"))
                    continue
                if not writer.may_update(responsible):
                    reason = f"duplicate of {described}, which you may not change (merge)"
                    report.errors.append(RowIssue(record.line, reason))
                    continue
                record.target = target_id
                targets[target_id] = record
            for key in keys:
                seen.setdefault(key, record)
        if progress is not None:
            progress(Progress("check", min(start + chunk, len(records)), len(records)))
    if kind is ImportKind.PRODUCTS:
        fresh = await _unique_external_ids(writer, fresh, report)
    return fresh


async def _unique_external_ids(writer: CardStore, fresh: list[Record], report: ImportReport) -> list[Record]:
    """Products' external ids are unique: a new product may not reuse one, whatever the dedupe mode."""
    codes = [r.values["external_id"] for r in fresh if r.values.get("external_id")]
    if not codes:
        return fresh
    taken: dict[str, int] = {}
    for start in range(0, len(codes), CHUNK):
        part = codes[start : start + CHUNK]
        rows = await writer.session.execute(
            select(Product.external_id, Product.id).where(Product.external_id.in_(part))
        )
        taken.update(rows.all())
    kept: list[Record] = []
    first_line: dict[str, int] = {}
    for record in fresh:
        code = record.values.get("external_id")
        if code:
            if code in taken:
                where = f"product #{taken[code]}"
            elif code in first_line:
                where = f"line {first_line[code]}"
            else:
                first_line[code] = record.line
                kept.append(record)
                continue
            report.errors.append(
                RowIssue(record.line, f"external id {code!r} is already used by {where}", "external_id")
            )
            continue
        kept.append(record)
    return kept
