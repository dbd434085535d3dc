"""The ``cti`` console command: serve, migrations, users (``cti ami|dialplan|recordings`` beside).

Each subcommand is a function taking the parsed arguments and returning the exit code:
0 done, 1 failed, 2 bad usage or unusable settings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import make_url

from config.logging import configure_logging
from config.settings import Settings, SettingsError, load_settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import CrmError
from crm_core.migrate import upgrade
from crm_core.models import User
from crm_core.users import create_user, ensure_admin

from . import cli_ami, cli_crm, cli_dialplan, cli_recordings, cli_users, i18n
from .app import create_app

__all__ = ["build_parser", "main"]

log = structlog.get_logger(__name__)

ADMIN_PASSWORD_ENV = "CTI_ADMIN_PASSWORD"  # noqa: S105 (the variable's name, not a password)
ROLES = ("admin", "supervisor", "agent")

Command = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    level = settings.logging
    configure_logging(level=level.level, json=level.json_output, file=level.file)
    return settings


def _public_url(url: str) -> str:
    """The database URL without its password, fit to print."""
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)


def serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host, port = settings.web.host, settings.web.port
    log.info("server_starting", host=host, port=port, pbx_mode=settings.pbx.mode.value)
    # `cti dialplan apply` finds us through the pid file and sends SIGHUP.
    with cli_dialplan.daemon_pid_file(settings):
        # Our request_context middleware logs one line per request, so aiohttp's access log is off.
        web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    asyncio.run(upgrade(settings.database.url))
    print(f"database at {_public_url(settings.database.url)} is up to date")
    return 0


async def _ensure_admin(settings: Settings, password: str | None) -> tuple[bool, str | None]:
    engine = make_engine(settings.database.url)
    try:
        async with make_sessionmaker(engine)() as session:
            existed = await session.scalar(select(User.id).where(User.login == "admin")) is not None
            generated = await ensure_admin(session, password)
            await session.commit()
    finally:
        await engine.dispose()
    return existed, generated


def users_ensure_admin(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = os.environ.get(ADMIN_PASSWORD_ENV) or None
    existed, generated = asyncio.run(_ensure_admin(settings, password))
    if generated is not None:
        print(f"Created user admin with password: {generated}")
        print("It is shown only this once: keep it somewhere safe, or change it after logging in.")
    elif existed:
        print("admin exists")
    else:
        print(f"created admin with the password from {ADMIN_PASSWORD_ENV}")
    return 0


async def _add_user(settings: Settings, args: argparse.Namespace, password: str) -> None:
    engine = make_engine(settings.database.url)
    try:
        async with make_sessionmaker(engine)() as session:
            user = await create_user(
                session,
                login=args.login,
                name=args.name,
                password=password,
                role=args.role,
                extension=args.extension,
            )
            user.locale = args.locale
            await cli_users.apply_access(session, user, args)
            await session.commit()
    finally:
        await engine.dispose()


def _password(args: argparse.Namespace) -> str:
    """The new user's password, from --password-env or typed twice; "" when missing or mistyped."""
    if args.password_env:
        password = os.environ.get(args.password_env, "")
        if not password:
            print(f"the environment variable {args.password_env} is empty or not set", file=sys.stderr)
        return password
    first = getpass.getpass(f"Password for {args.login}: ")
    if not first:
        print("an empty password is not allowed", file=sys.stderr)
    elif first != getpass.getpass("Repeat the password: "):
        print("the passwords differ", file=sys.stderr)
        return ""
    return first


def users_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = _password(args)
    if not password:
        return 2
    try:
        asyncio.run(_add_user(settings, args, password))
    except CrmError as exc:
        print(f"cannot add user {args.login}: {exc}", file=sys.stderr)
        return 1
    extension = f", extension {args.extension}" if args.extension else ""
    print(f"created user {args.login} ({args.role}{extension})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, default=None, help="settings file (default: $CTI_CONFIG or config/cti.yaml)"
    )
    parser = argparse.ArgumentParser(prog="cti", description="CTI server: telephony with a CRM attached.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("serve", parents=[common], help="run the server").set_defaults(handler=serve)

    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", parents=[common], help="apply the migrations").set_defaults(handler=db_upgrade)

    users = commands.add_parser("users", help="users").add_subparsers(dest="users_command", required=True)
    users.add_parser(
        "ensure-admin", parents=[common], help=f"create the admin user (password from ${ADMIN_PASSWORD_ENV})"
    ).set_defaults(handler=users_ensure_admin)
    add = users.add_parser("add", parents=[common], help="add a user (the password is prompted for)")
    add.add_argument("login")
    add.add_argument("--name", required=True)
    add.add_argument("--extension", default=None)
    add.add_argument("--role", choices=ROLES, default="agent")
    add.add_argument(
        "--locale", choices=i18n.LOCALES, default=None, help="the pages' language (default: the browser's)"
    )
    add.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    cli_users.access_arguments(add)  # --department, --roles
    add.set_defaults(handler=users_add)
    cli_users.register(users, common)  # list, disable, enable, token

    cli_ami.register(commands)
    cli_dialplan.register(commands)
    cli_crm.register(commands)
    cli_recordings.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cti`` console script."""
    args = build_parser().parse_args(argv)
    command: Command = args.handler
    try:
        return command(args)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
