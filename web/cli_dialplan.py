"""``cti dialplan``: check, explain, apply, history, show and rollback; and the daemon's pid file.

``apply`` and ``rollback`` go through :class:`web.dialplan.DialplanService`, the same path as the web
editor: they record the version, write the dialplan file, then send SIGHUP to the running daemon
(found through its pid file). The daemon re-applies the file, sees the version is already the
latest and runs it without recording it twice.

``render-asterisk`` writes Asterisk's configuration for the plan (see
:mod:`pbx_adapters.asterisk.render`); it changes nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from config.dialplan import DialplanError, load_dialplan
from config.logging import configure_logging
from config.settings import Settings, load_settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import NotFound
from cti.plan import RunningPlan
from cti.routing import explain
from pbx_adapters.asterisk.render import RenderError, render_asterisk, write_config

from .dialplan import ApplyResult, DialplanBusy, DialplanInvalid, DialplanService, is_warning, sample_call

__all__ = ["daemon_pid_file", "notify_daemon", "pid_file", "register"]

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cti dialplan ...`` to the ``cti`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=None, help="settings file (default: $CTI_CONFIG or config/cti.yaml)"
    )
    dialplan = subparsers.add_parser("dialplan", help="check, apply and roll back the dialplan")
    commands = dialplan.add_subparsers(dest="dialplan_command", required=True)

    check = commands.add_parser("check", parents=[common], help="validate a dialplan file (changes nothing)")
    check.add_argument("file", type=Path, nargs="?", help="default: the configured dialplan")
    check.set_defaults(handler=_check)

    why = commands.add_parser("explain", parents=[common], help="show how the dialplan routes a call")
    why.add_argument("--from", dest="caller", required=True, help="the caller's number or extension")
    why.add_argument("--to", dest="dialled", required=True, help="the number or extension dialled")
    why.add_argument("--at", help="ISO date and time (default: now; without a zone: the plan's)")
    why.add_argument("--trunk", help="the trunk the call came in on (default: the one carrying --to)")
    why.add_argument(
        "--responsible",
        metavar="EXT",
        help="the caller's responsible manager as the CRM knows it (responsible_first)",
    )
    why.add_argument("--file", type=Path, help="dialplan file (default: the configured one)")
    why.set_defaults(handler=_explain)

    apply = commands.add_parser(
        "apply", parents=[common], help="validate FILE, make it the dialplan, record it, tell the daemon"
    )
    apply.add_argument("file", type=Path, nargs="?", help="default: apply the configured dialplan file as is")
    apply.add_argument("--comment", default="", help="why (kept in the history)")
    apply.set_defaults(handler=_apply)

    history = commands.add_parser("history", parents=[common], help="list the applied versions")
    history.add_argument("--limit", type=int, default=20)
    history.set_defaults(handler=_history)

    show = commands.add_parser("show", parents=[common], help="print the text of an applied version")
    show.add_argument("version", type=int)
    show.set_defaults(handler=_show)

    rollback = commands.add_parser(
        "rollback", parents=[common], help="apply an earlier version again (as a new version)"
    )
    rollback.add_argument("version", type=int)
    rollback.add_argument("--comment", default="")
    rollback.set_defaults(handler=_rollback)

    asterisk = commands.add_parser(
        "render-asterisk",
        parents=[common],
        help="write pjsip.conf, extensions.conf, features.conf and confbridge.conf for Asterisk",
    )
    asterisk.add_argument("--file", type=Path, help="dialplan file (default: the configured one)")
    asterisk.add_argument(
        "--out", type=Path, required=True, help="directory to write into (created if missing)"
    )
    asterisk.set_defaults(handler=_render_asterisk)


# The daemon's pid file -----------------------------------------------------------------------


def pid_file(settings: Settings) -> Path:
    """Where ``cti serve`` keeps its pid: beside the secret key (``var/cti.pid`` by default)."""
    return settings.web.secret_key_file.parent / "cti.pid"


@contextlib.contextmanager
def daemon_pid_file(settings: Settings) -> Iterator[Path]:
    """Write our pid for the lifetime of ``cti serve``; remove it after, if it is still ours."""
    path = pid_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = f"{os.getpid()}\n"
    path.write_text(mine, encoding="ascii")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            if path.read_text(encoding="ascii") == mine:
                path.unlink()


def notify_daemon(settings: Settings) -> str:
    """Send SIGHUP to the running ``cti serve``, if there is one; say what happened."""
    path = pid_file(settings)
    try:
        pid = int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        return f"no daemon running (no {path}): it runs this plan when it starts"
    except (OSError, ValueError):
        return f"{path} is not a pid file: no daemon was told; send it SIGHUP yourself"
    if not _is_cti_serve(pid):
        # A stale pid file may name an unrelated process now, which SIGHUP would kill.
        return f"no daemon running (stale {path}): it runs this plan when it starts"
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return f"no daemon running (stale {path}): it runs this plan when it starts"
    except PermissionError:
        return f"not allowed to signal the daemon (pid {pid}): run `kill -HUP {pid}` as its user"
    return f"told the daemon (pid {pid}) to reload"


def _is_cti_serve(pid: int) -> bool:
    if pid <= 0:
        return False
    if not Path("/proc/self").exists():  # no procfs: trust the pid file
        return True
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in args


# Commands ------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    """The settings (a SettingsError reaches ``web.cli.main``: printed, exit 2); quiet logging."""
    settings = load_settings(args.config)
    # What matters is printed; the log only adds what went wrong beyond that (a failed restore).
    configure_logging(level="error", json=False, file=settings.logging.file)
    return settings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"cli:uid{os.getuid()}"


def _print_issues(issues: list[object]) -> None:
    for issue in issues:
        print(issue, file=sys.stderr)


async def _with_service(settings: Settings, work: Callable[[DialplanService], Awaitable[T]]) -> T:
    engine = make_engine(settings.database.url)
    try:
        return await work(DialplanService(make_sessionmaker(engine), RunningPlan(), settings))
    finally:
        await engine.dispose()


def _run_change(settings: Settings, work: Callable[[DialplanService], Awaitable[ApplyResult]]) -> int:
    try:
        result = asyncio.run(_with_service(settings, work))
    except DialplanInvalid as exc:
        _print_issues(list(exc.issues))
        print("nothing was applied", file=sys.stderr)
        return 1
    except NotFound as exc:
        print(f"cti dialplan: {exc}", file=sys.stderr)
        return 1
    except (DialplanBusy, OSError, UnicodeDecodeError) as exc:
        print(f"cti dialplan: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(
            f"cti dialplan: database error ({type(exc).__name__}); is it migrated (cti db upgrade)?",
            file=sys.stderr,
        )
        return 1
    _print_issues(list(result.warnings))
    if result.outcome == "applied":
        print(result.message)
    elif result.outcome == "reloaded":
        print(f"version {result.version} is already the latest: nothing new to record")
    else:
        print(result.message)
    print(notify_daemon(settings))
    return 0


def _apply(args: argparse.Namespace) -> int:
    settings = _settings(args)
    actor = _actor()
    if args.file is None:
        return _run_change(
            settings, lambda service: service.apply_file(actor=actor, source="cli", comment=args.comment)
        )
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cti dialplan apply: {args.file}: {exc}", file=sys.stderr)
        return 1
    return _run_change(
        settings,
        lambda service: service.apply(
            text, actor=actor, source="cli", comment=args.comment, path=str(args.file)
        ),
    )


def _rollback(args: argparse.Namespace) -> int:
    settings = _settings(args)
    actor = _actor()
    return _run_change(
        settings, lambda service: service.rollback(args.version, actor=actor, comment=args.comment)
    )


def _history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        versions = asyncio.run(_with_service(settings, lambda service: service.history(args.limit)))
    except SQLAlchemyError as exc:
        print(f"cti dialplan: database error ({type(exc).__name__}); is it migrated?", file=sys.stderr)
        return 1
    if not versions:
        print("no dialplan applied yet")
    for version in versions:
        restores = f" (restores {version.rolled_back_from})" if version.rolled_back_from else ""
        print(
            f"{version.id:>5}  {version.applied_at:%Y-%m-%d %H:%M:%S}Z  {version.source:<8} "
            f"{version.applied_by_name:<16} {version.comment}{restores}".rstrip()
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        version = asyncio.run(_with_service(settings, lambda service: service.version(args.version)))
    except NotFound as exc:
        print(f"cti dialplan: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"cti dialplan: database error ({type(exc).__name__}); is it migrated?", file=sys.stderr)
        return 1
    sys.stdout.write(version.text)
    return 0


def _dialplan_path(args: argparse.Namespace, given: Path | None) -> Path:
    if given is not None:
        return given
    return _settings(args).dialplan


def _check(args: argparse.Namespace) -> int:
    path = _dialplan_path(args, args.file)
    try:
        _spec, warnings = load_dialplan(path)
    except DialplanError as exc:
        _print_issues(list(exc.issues))
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    _print_issues(list(warnings))
    if not warnings:
        print(f"{path}: ok")
    return 0


def _explain(args: argparse.Namespace) -> int:
    path = _dialplan_path(args, args.file)
    try:
        spec, _warnings = load_dialplan(path)
    except DialplanError as exc:
        _print_issues([issue for issue in exc.issues if not is_warning(issue)])
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    try:
        at = datetime.fromisoformat(args.at) if args.at else None
    except ValueError:
        print(f"--at: {args.at!r} is not an ISO date and time (e.g. 2026-11-27T10:30)", file=sys.stderr)
        return 2
    facts = sample_call(spec, args.caller, args.dialled, at=at, trunk=args.trunk)
    if args.responsible:
        facts = dataclasses.replace(facts, responsible=args.responsible)
    for line in explain(spec, facts):
        print(line)
    return 0


def _render_asterisk(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = args.file if args.file is not None else settings.dialplan
    try:
        spec, warnings = load_dialplan(path)
    except DialplanError as exc:
        _print_issues(list(exc.issues))
        print("nothing was written", file=sys.stderr)
        return 1
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    _print_issues(list(warnings))
    try:
        files = render_asterisk(spec, settings=settings, source=str(path))
        written = write_config(files, args.out)
    except RenderError as exc:
        print(f"{path}: {exc}; nothing was written", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cti dialplan render-asterisk: {exc}", file=sys.stderr)
        return 1
    for target in written:
        print(f"wrote {target}")
    unregistered = [number for number, ext in spec.extensions.items() if not ext.secret and not ext.disabled]
    if unregistered:
        print(
            f"note: {', '.join(unregistered)} have no secret: no phone may register as them "
            "(add `secret:` to the plan and render again)",
            file=sys.stderr,
        )
    return 0
