"""``cti ami record`` and ``cti ami replay``: AMI traces in the JSON Lines of shared/ami-traces."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from config.logging import configure_logging
from config.settings import CrmSettings, SettingsError, load_settings
from crm_core.errors import CrmError
from pbx_adapters.asterisk.recorder import RecorderError, record
from pbx_adapters.asterisk.trace import TraceError, read_trace

from .replay import ReplayResult, replay_trace

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ami = subparsers.add_parser("ami", help="record and replay AMI traces")
    commands = ami.add_subparsers(dest="ami_command", required=True)

    rec = commands.add_parser("record", help="tap a live Asterisk's AMI into a JSON Lines trace")
    rec.add_argument("--out", type=Path, required=True, help="trace file to write")
    rec.add_argument("--config", type=Path, help="settings file (AMI host, port, user, secret)")
    rec.add_argument("--duration", type=float, help="stop after this many seconds (default: Ctrl-C)")
    rec.set_defaults(handler=_record)

    rep = commands.add_parser("replay", help="run a trace through the real pipeline and print the calls")
    rep.add_argument("trace", type=Path)
    rep.add_argument("--database", help="database URL to write into (default: a throw-away SQLite)")
    rep.add_argument("--seed", type=Path, help="YAML with own_numbers, users, companies, contacts, leads")
    rep.add_argument("--region", default="RU", help="default region for numbers (default RU)")
    rep.add_argument("--json", action="store_true", help="print the call records as JSON")
    rep.add_argument("--verbose", action="store_true", help="log what the pipeline does (to stderr)")
    rep.set_defaults(handler=_replay)


def _record(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(
        level=settings.logging.level, json=settings.logging.json_output, file=settings.logging.file
    )
    ami = settings.ami
    try:
        count = asyncio.run(
            record(
                ami.host,
                ami.port,
                ami.username,
                ami.secret.get_secret_value(),
                args.out,
                duration=args.duration,
            )
        )
    except RecorderError as exc:
        print(f"cti ami record: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"wrote {count} AMI messages to {args.out}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    configure_logging(level="debug" if args.verbose else "warning", json=False)
    try:
        lines = read_trace(args.trace)
        seed = _read_seed(args.seed) if args.seed else None
        crm = CrmSettings(default_region=args.region)
        result = asyncio.run(replay_trace(lines, database_url=args.database, seed=seed, crm=crm))
    except (TraceError, CrmError, ValueError, OSError) as exc:
        print(f"cti ami replay: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_text(result)
    return 0


def _read_seed(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: the seed must be a mapping (own_numbers, users, companies, contacts, leads)"
        )
    return data


def _print_text(result: ReplayResult) -> None:
    if not result.calls:
        print("no calls in this trace")
    for call, outcome in result.calls:
        who = call.external_number or call.caller.number
        line = (
            f"{call.call_id}  {call.direction.value:<8} {who} -> {call.dialled}  "
            f"{call.disposition.value if call.disposition else '?'}"
        )
        if call.answered_by:
            line += f" by {call.answered_by}, {call.talk_seconds} s"
        print(line)
        for pickup in call.pickups:
            print(f"    picked up by {pickup.by} from {pickup.from_} with {pickup.code}")
        for transfer in call.transfers:
            print(f"    {transfer.kind.value} transfer by {transfer.by} to {transfer.to}")
        for path in call.recordings:
            print(f"    recording {path}")
        if outcome is None:
            print("    CRM: not written")
        elif outcome.entity == "none":
            print("    CRM: nothing (internal call, own number or excluded)")
        else:
            verb = "new" if outcome.created else "existing"
            print(f"    CRM: {verb} {outcome.entity} #{outcome.id}")
