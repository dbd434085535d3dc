"""``cti recordings retention|hold|release|rescan``: the recordings chores an operator runs by hand.

``retention`` applies the policies now (``--dry-run`` only lists what would go); ``hold`` and
``release`` put a call on legal hold or take it off (audited); ``rescan`` rebuilds the catalog from
the storage and lists orphans, deleting nothing. Exit codes: 0 done, 1 failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from config.logging import configure_logging
from config.settings import Settings, load_settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import NotFound
from crm_core.recording_rescan import rescan
from crm_core.recording_retention import apply_retention, set_legal_hold

from .recordings_service import make_store

__all__ = ["register"]

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None, help="settings file (default: config/cti.yaml)")
    parser = subparsers.add_parser("recordings", help="recordings: retention, legal hold, rescan")
    commands = parser.add_subparsers(dest="recordings_command", required=True)

    retention = commands.add_parser("retention", parents=[common], help="delete recordings past their policy")
    retention.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    retention.set_defaults(handler=_retention)

    for name, hold in (("hold", True), ("release", False)):
        what = "exempt a call's recordings from retention" if hold else "end a call's legal hold"
        sub = commands.add_parser(name, parents=[common], help=what)
        sub.add_argument("call_id", metavar="CALL_ID", help="the PBX's call id (Asterisk's Linkedid)")
        sub.add_argument("--pbx", default=None, help="the PBX id (default: pbx.id from the settings)")
        sub.set_defaults(handler=_hold, hold=hold)

    commands.add_parser(
        "rescan", parents=[common], help="rebuild recording rows from the storage, report orphans"
    ).set_defaults(handler=_rescan)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    configure_logging(level="warning", json=False, file=settings.logging.file)
    return settings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"cli:uid{os.getuid()}"


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(settings.database.url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _retention(args: argparse.Namespace) -> int:
    settings = _settings(args)
    policies = settings.recordings.retention
    if not policies:
        print("no retention policies (recordings.retention): every recording is kept")
        return 0
    store = make_store(settings)
    report = _with_session(
        settings,
        lambda s: apply_retention(
            s, store, policies, now=datetime.now(UTC), actor=_actor(), dry_run=args.dry_run
        ),
    )
    verb = "would delete" if args.dry_run else "deleted"
    for item in report.expired:
        print(
            f"{verb} recording {item.recording_id} (call {item.call_id}, {item.age_days} days old, "
            f"policy {item.policy_days} days): {item.storage_key or 'no file'}"
        )
    print(f"{verb} {len(report.expired)} recording(s); {report.held} kept by a legal hold")
    return 0


def _hold(args: argparse.Namespace) -> int:
    settings = _settings(args)
    pbx_id = args.pbx or settings.pbx.id

    async def work(session: AsyncSession) -> bool:
        changed = await set_legal_hold(
            session, pbx_id=pbx_id, call_id=args.call_id, hold=args.hold, actor=_actor()
        )
        await session.commit()
        return changed

    try:
        changed = _with_session(settings, work)
    except NotFound:
        print(f"no call {args.call_id!r} of PBX {pbx_id!r} in the call log", file=sys.stderr)
        return 1
    state = "on legal hold" if args.hold else "not on legal hold"
    print(f"call {args.call_id} is {state}" + ("" if changed else " (unchanged)"))
    return 0


def _rescan(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = make_store(settings)
    report = _with_session(settings, lambda s: rescan(s, store, pbx_id=settings.pbx.id))
    print(f"scanned {report.files} recording file(s) under {store.root}")
    for key in report.rebuilt:
        print(f"rebuilt row for {key}")
    print(f"rebuilt {len(report.rebuilt)} row(s), linked recordings of {report.relinked} call(s)")
    for key in report.orphan_files:
        print(f"orphan file (no call in the call log): {key}")
    for recording_id, key in report.missing_files:
        print(f"orphan row (file missing): recording {recording_id} -> {key}")
    for key in report.unreadable:
        print(f"unreadable sidecar: {key}")
    return 0
