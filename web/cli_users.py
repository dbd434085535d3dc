"""``cti users list|disable|enable|token``: the admin's user tools on the command line.

``cti users add`` and ``cti users ensure-admin`` live in :mod:`web.cli`, which registers these
beside them. Each command runs in one transaction and prints one line per fact; errors go to
stderr with exit status 1, and a token is printed once, never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.logging import configure_logging
from config.settings import Settings, load_settings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.errors import CrmError
from crm_core.models import Department
from crm_core.tokens import TokenInfo, issue_token, list_tokens, revoke_user_tokens
from crm_core.users import find_user, list_users, set_active

__all__ = ["register"]

T = TypeVar("T")


def register(
    users: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the subcommands to ``cti users``; *common* carries ``--config``."""
    listing = users.add_parser("list", parents=[common], help="list users with department and roles")
    listing.add_argument("--active", action="store_true", help="only users who may log in")
    listing.set_defaults(handler=_list)

    disable = users.add_parser(
        "disable", parents=[common], help="stop a user logging in and revoke their API tokens"
    )
    disable.add_argument("login")
    disable.set_defaults(handler=_set_active, active=False)
    enable = users.add_parser("enable", parents=[common], help="let a disabled user log in again")
    enable.add_argument("login")
    enable.set_defaults(handler=_set_active, active=True)

    token = users.add_parser(
        "token", parents=[common], help="issue an API token for a user (printed once), list or revoke them"
    )
    token.add_argument("login")
    what = token.add_mutually_exclusive_group()
    what.add_argument("--revoke", action="store_true", help="revoke every active token of the user")
    what.add_argument("--list", action="store_true", help="list the user's tokens (never the secrets)")
    token.add_argument("--name", default="", help="what the token is for (shown in lists)")
    token.set_defaults(handler=_token)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    configure_logging(level="warning", json=False, file=settings.logging.file)
    return settings


def _run(args: argparse.Namespace, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run *work* in one session of the configured database and commit it."""
    settings = _settings(args)

    async def run() -> T:
        engine = make_engine(settings.database.url)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _failed(what: str, exc: CrmError) -> int:
    print(f"{what}: {exc}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> tuple[list, dict[int, str]]:
        users = await list_users(session, include_disabled=not args.active)
        names = {id: name for id, name in await session.execute(select(Department.id, Department.name))}
        return users, names

    users, departments = _run(args, work)
    rows = [("LOGIN", "NAME", "ROLE", "EXT", "ACTIVE", "DEPARTMENT", "EXTRA ROLES")]
    for user in users:
        rows.append(
            (
                user.login,
                user.name,
                user.role,
                user.extension or "-",
                "yes" if user.is_active else "no",
                departments.get(user.department_id, "-") if user.department_id else "-",
                ",".join(user.extra_roles) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _set_active(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> int:
        _, revoked = await set_active(session, args.login, args.active)
        return revoked

    try:
        revoked = _run(args, work)
    except CrmError as exc:
        return _failed(f"cannot {'enable' if args.active else 'disable'} {args.login}", exc)
    if args.active:
        print(f"enabled {args.login}")
    else:
        print(f"disabled {args.login} ({revoked} API token{'' if revoked == 1 else 's'} revoked)")
    return 0


def _describe(token: TokenInfo) -> str:
    used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never used"
    state = f"revoked {token.revoked_at.isoformat(timespec='seconds')}" if token.revoked_at else "active"
    name = f" {token.name!r}" if token.name else ""
    created = token.created_at.isoformat(timespec="seconds")
    return f"{token.id}  {token.prefix}…{name}  created {created}  {used}  {state}"


def _token(args: argparse.Namespace) -> int:
    async def work(session: AsyncSession) -> str:
        user = await find_user(session, args.login)
        if args.list:
            return "\n".join(_describe(token) for token in await list_tokens(session, user.id)) or "no tokens"
        if args.revoke:
            count = await revoke_user_tokens(session, user.id)
            return f"revoked {count} API token{'' if count == 1 else 's'} of {args.login}"
        issued = await issue_token(session, user.id, args.name)
        return (
            f"{issued.token}\n"
            f"API token {issued.id} for {args.login}: send it as 'Authorization: Bearer <token>'. "
            "It is shown only this once."
        )

    try:
        print(_run(args, work))
    except CrmError as exc:
        return _failed(f"cannot manage tokens of {args.login}", exc)
    return 0
