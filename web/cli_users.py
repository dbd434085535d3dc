"""``cti users list|update|disable|enable|token``: the admin's user tools on the command line.

``cti users add`` and ``cti users ensure-admin`` live in :mod:`web.cli`, which registers these
beside them; ``add`` takes the same ``--department``/``--roles`` as ``update``
(:func:`access_arguments`, :func:`apply_access`). Each command runs in one transaction and prints
one line per fact; errors go to stderr with exit status 1, and a token is printed once, never
logged.
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
from crm_core.errors import BadValue, CrmError, NotFound
from crm_core.models import Department, User
from crm_core.org import set_user_department, set_user_roles
from crm_core.rights import SYSTEM
from crm_core.tokens import TokenInfo, issue_token, list_tokens, revoke_token, revoke_user_tokens
from crm_core.users import find_user, list_users, set_active

__all__ = ["access_arguments", "apply_access", "register"]

_ALL = "all"
"``--revoke`` without a token id: every active token of the user (the flag's older meaning)."

T = TypeVar("T")


def register(
    users: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the subcommands to ``cti users``; *common* carries ``--config``."""
    listing = users.add_parser("list", parents=[common], help="list users with department and roles")
    listing.add_argument("--active", action="store_true", help="only users who may log in")
    listing.set_defaults(handler=_list)

    update = users.add_parser(
        "update", parents=[common], help="change a user's department and extra access roles"
    )
    update.add_argument("login")
    access_arguments(update)
    update.set_defaults(handler=_update)

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
    what.add_argument(
        "--revoke",
        nargs="?",
        const=_ALL,
        metavar="ID",
        help="revoke the token ID (see --list); without an ID every active token of the user",
    )
    what.add_argument("--list", action="store_true", help="list the user's tokens (never the secrets)")
    token.add_argument("--name", default="", help="what the token is for (shown in lists)")
    token.set_defaults(handler=_token)


def access_arguments(parser: argparse.ArgumentParser) -> None:
    """``--department NAME`` and ``--roles NAME,NAME`` (each "" to clear) on *parser*."""
    parser.add_argument(
        "--department", metavar="NAME", default=None, help="the user's department by name ('' for none)"
    )
    parser.add_argument(
        "--roles",
        metavar="NAME,NAME",
        default=None,
        help="the user's extra access roles, replacing the current ones ('' for none)",
    )


async def apply_access(session: AsyncSession, user: User, args: argparse.Namespace) -> list[str]:
    """Set what ``--department``/``--roles`` ask for, through the org services; the facts done."""
    done: list[str] = []
    if args.department is not None:
        department_id = await _department_id(session, args.department.strip())
        await set_user_department(session, SYSTEM, user.id, department_id)
        done.append(f"department {args.department.strip() or '-'}")
    if args.roles is not None:
        names = [name.strip() for name in args.roles.split(",") if name.strip()]
        roles = await set_user_roles(session, SYSTEM, user.id, names)
        done.append(f"extra roles {','.join(roles) or '-'}")
    return done


async def _department_id(session: AsyncSession, name: str) -> int | None:
    if not name:
        return None
    found = await session.scalar(select(Department.id).where(Department.name == name))
    if found is None:
        names = tuple(sorted(await session.scalars(select(Department.name))))
        raise BadValue("department", name, f"no department named {name!r}", names)
    return found


async def _revoke_one(session: AsyncSession, user: User, token_id: str) -> str:
    if not token_id.isdigit():
        raise BadValue("revoke", token_id, f"{token_id!r} is not a token id (see --list)")
    mine = {token.id for token in await list_tokens(session, user.id)}
    if int(token_id) not in mine:  # another user's token is not this user's to revoke
        raise NotFound(f"API token of {user.login}", int(token_id))
    token = await revoke_token(session, int(token_id))
    return f"revoked API token {token.id} ({token.prefix}…) of {user.login}"


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


def _update(args: argparse.Namespace) -> int:
    if args.department is None and args.roles is None:
        print("cti users update: say what to change (--department, --roles)", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> list[str]:
        return await apply_access(session, await find_user(session, args.login), args)

    try:
        done = _run(args, work)
    except CrmError as exc:
        return _failed(f"cannot update user {args.login}", exc)
    print(f"updated {args.login}: {'; '.join(done)}")
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
        if args.revoke == _ALL:
            count = await revoke_user_tokens(session, user.id)
            return f"revoked {count} API token{'' if count == 1 else 's'} of {args.login}"
        if args.revoke is not None:
            return await _revoke_one(session, user, args.revoke)
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
