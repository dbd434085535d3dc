"""``cti crm import`` and ``cti crm export``: CRM data in from CSV/.xlsx and out to CSV.

Import reads the file, proposes a mapping from its column names (``--map`` adds to or corrects
it; ``--map 'Notes='`` leaves a column out), checks every row and writes them all in one
transaction, or nothing when any row is bad. ``--dry-run`` only reports. Exit status: 0 done (or
a clean dry run), 1 some rows are bad (each printed with its line and reason), 2 the file or the
mapping cannot be used.

The command line acts as the system (every right) unless ``--as LOGIN`` names a user whose rights
it should have; new cards belong to ``--responsible`` (default: ``crm.default_responsible``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.logging import configure_logging
from config.settings import Settings, load_settings
from crm_core.access import load_principal
from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import CrmError
from crm_core.models import User
from crm_core.rights import SYSTEM, Principal
from crm_core.transfer.exporter import ExportKind, export_csv
from crm_core.transfer.importer import (
    ALLOWED_MATCH,
    DedupeMode,
    ImportReport,
    MatchKey,
    Progress,
    import_table,
)
from crm_core.transfer.mapping import ImportKind, build_mapping, guess_mapping, parse_pairs
from crm_core.transfer.readers import DELIMITERS, read_file

__all__ = ["ProgressBar", "register"]

T = TypeVar("T")
EXPORT_ENCODINGS = ("utf-8", "utf-8-sig", "cp1251")


class ProgressBar:
    """A one-line ``[#####.....]  45% check 4,500/10,000`` bar on a terminal.

    On anything else (a log file, a CI job) it prints one line per finished phase, so a log is not
    flooded with carriage returns.
    """

    WIDTH = 30

    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval
        self._last = 0.0
        self._open = False

    def __call__(self, progress: Progress) -> None:
        finished = progress.done >= progress.total
        now = time.monotonic()
        if self._tty and (finished or now - self._last >= self._interval):
            self._last = now
            share = progress.done / progress.total if progress.total else 1.0
            filled = round(share * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self._stream.write(
                f"\r[{bar}] {share:4.0%} {progress.phase} {progress.done:,}/{progress.total:,}"
            )
            self._open = not finished
            if finished:
                self._stream.write("\n")
            self._stream.flush()
        elif not self._tty and finished:
            self._stream.write(f"{progress.phase}: {progress.done:,}/{progress.total:,} rows\n")
            self._stream.flush()

    def close(self) -> None:
        """End an unfinished bar's line (the import stopped early)."""
        if self._open:
            self._stream.write("\n")
            self._open = False


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cti crm import|export`` to the ``cti`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=None, help="settings file (default: $CTI_CONFIG or config/cti.yaml)"
    )
    common.add_argument("--as", dest="as_user", metavar="LOGIN", help="act with this user's rights")
    kinds = [kind.value for kind in ImportKind]
    crm = subparsers.add_parser("crm", help="import and export CRM data")
    commands = crm.add_subparsers(dest="crm_command", required=True)

    imp = commands.add_parser(
        "import", parents=[common], help="import a CSV or .xlsx file (all rows or none)"
    )
    imp.add_argument("kind", choices=kinds)
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--map",
        dest="pairs",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="feed FIELD from COLUMN (repeatable); 'COLUMN=' skips a column",
    )
    imp.add_argument("--no-guess", action="store_true", help="use only --map, guess nothing")
    imp.add_argument("--dedupe", choices=[m.value for m in DedupeMode], default=DedupeMode.SKIP.value)
    imp.add_argument(
        "--match",
        metavar="KEYS",
        help="what makes a duplicate, comma-separated: phone, email, name, external_id "
        "(default: phone,email; companies also name; products external_id,name)",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    imp.add_argument("--responsible", metavar="LOGIN", help="owner of rows without one")
    imp.add_argument("--encoding", help="CSV encoding (default: detected; UTF-8, UTF-16 or cp1251)")
    imp.add_argument(
        "--delimiter", type=_delimiter, metavar="{,|;|tab|pipe}", help="CSV delimiter (default: detected)"
    )
    imp.add_argument("--sheet", help=".xlsx sheet (default: the first)")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(handler=_import)

    exp = commands.add_parser("export", parents=[common], help="write CSV to standard output")
    exp.add_argument("kind", choices=[kind.value for kind in ExportKind])
    exp.add_argument(
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="FIELD[__OP]=VALUE",
        help="as the REST API's list filters, e.g. name__contains=Ivan (repeatable)",
    )
    exp.add_argument("--encoding", choices=EXPORT_ENCODINGS, default="utf-8")
    exp.add_argument("--delimiter", type=_delimiter, default=",", metavar="{,|;|tab|pipe}")
    exp.add_argument("--out", type=Path, help="write to this file instead of standard output")
    exp.set_defaults(handler=_export)


_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}


def _delimiter(text: str) -> str:
    """A delimiter as typed on a command line: the character itself, or its name (tab, pipe...)."""
    value = _DELIMITER_NAMES.get(text.lower(), text)
    if value not in DELIMITERS:
        raise argparse.ArgumentTypeError(f"{text!r}: use , ; tab or pipe")
    return value


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    configure_logging(level="error", json=False, file=settings.logging.file)
    return settings


async def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database.url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _user_id(session: AsyncSession, login: str) -> int:
    user_id = await session.scalar(select(User.id).where(User.login == login))
    if user_id is None:
        raise _Usage(f"no user with login {login!r}")
    return user_id


async def _principal(session: AsyncSession, login: str | None) -> Principal:
    if login is None:
        return SYSTEM
    return await load_principal(session, await _user_id(session, login))


class _Usage(Exception):
    """Bad arguments found once the database is open (an unknown login): exit 2."""


def _match(kind: ImportKind, text: str | None) -> tuple[MatchKey, ...] | None:
    if text is None:
        return None
    allowed = sorted(key.value for key in ALLOWED_MATCH[kind])
    keys = []
    for part in text.split(","):
        if part.strip() not in allowed:
            raise _Usage(f"--match: {kind} match on {', '.join(allowed)}, not {part.strip()!r}")
        keys.append(MatchKey(part.strip()))
    return tuple(keys)


def _import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    kind = ImportKind(args.kind)
    try:
        table = read_file(args.file, encoding=args.encoding, delimiter=args.delimiter, sheet=args.sheet)
        pairs = {} if args.no_guess else guess_mapping(kind, table.headers)
        pairs.update(parse_pairs(args.pairs))
        mapping = build_mapping(kind, table.headers, pairs)
        match = _match(kind, args.match)
    except (CrmError, _Usage) as exc:
        print(f"cti crm import: {exc}", file=sys.stderr)
        return 2
    used = ", ".join(f"{column} -> {field}" for column, field in mapping.pairs(table.headers).items())
    print(f"{table.name}: {len(table.rows):,} rows; columns: {used}", file=sys.stderr)
    unmapped = [h for h in table.headers if h not in mapping.pairs(table.headers)]
    if unmapped:
        print(f"not imported: {', '.join(unmapped)}", file=sys.stderr)
    bar = ProgressBar(sys.stderr)

    async def work(session: AsyncSession) -> ImportReport:
        principal = await _principal(session, args.as_user)
        login = args.responsible or (None if args.as_user else settings.crm.default_responsible)
        default_id = None
        if login:
            default_id = await session.scalar(select(User.id).where(User.login == login))
            if default_id is None and args.responsible:
                raise _Usage(f"--responsible: no user with login {login!r}")
        report = await import_table(
            session,
            principal,
            table,
            mapping,
            dedupe=DedupeMode(args.dedupe),
            match_on=match,
            dry_run=args.dry_run,
            region=settings.crm.default_region,
            own_numbers=settings.crm.own_numbers,
            default_responsible_id=default_id,
            progress=bar,
        )
        if report.committed:
            await session.commit()
        return report

    try:
        report = asyncio.run(_with_session(settings, work))
    except _Usage as exc:
        print(f"cti crm import: {exc}", file=sys.stderr)
        return 2
    except CrmError as exc:
        print(f"cti crm import: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    return 0 if report.ok else 1


def _print_report(report: ImportReport) -> None:
    if report.committed:
        head = f"imported {report.kind}: {report.created:,} created, {report.merged:,} merged"
    elif report.dry_run and report.ok:
        head = f"dry run, nothing written: {report.created:,} to create, {report.merged:,} to merge"
    else:
        head = f"nothing was imported: {len(report.errors):,} bad rows (fix them and run again)"
    extra = f", {report.created_companies:,} new companies/sections" if report.created_companies else ""
    print(f"{head}, {len(report.skipped):,} skipped{extra}")
    for issue in report.errors:
        where = f"line {issue.line}" + (f" ({issue.column})" if issue.column else "")
        print(f"error: {where}: {issue.reason}")
    for issue in report.skipped:
        print(f"skipped: line {issue.line}: {issue.reason}")


def _export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    kind = ExportKind(args.kind)
    filters: dict[str, Any] = {}
    for item in args.filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"cti crm export: --filter {item!r}: write FIELD[__OP]=VALUE", file=sys.stderr)
            return 2
        filters[key] = value

    async def work(session: AsyncSession) -> None:
        principal = await _principal(session, args.as_user)
        out = args.out.open("wb") if args.out else sys.stdout.buffer
        try:
            if args.encoding == "utf-8-sig":
                out.write("\ufeff".encode())
            async for piece in export_csv(session, principal, kind, filters, delimiter=args.delimiter):
                # cp1251 cannot hold every character a card may have: those become "?".
                out.write(piece.encode(args.encoding.removesuffix("-sig"), errors="replace"))
            out.flush()
        finally:
            if args.out:
                out.close()
        await session.commit()  # the audit entry

    try:
        asyncio.run(_with_session(settings, work))
    except _Usage as exc:
        print(f"cti crm export: {exc}", file=sys.stderr)
        return 2
    except CrmError as exc:
        print(f"cti crm export: {exc}", file=sys.stderr)
        return 1
    return 0
