"""Users: argon2 password hashing, creation with clear conflicts, login, the first admin, and the
admin's tools: list, disable and enable (with the user's department and extra access roles).

Department membership and access roles are changed through :mod:`crm_core.org`; this module reads
them so one listing shows a user whole.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Conflict, Invalid, NotFound, UserExists
from .models import AccessRole, DepartmentMember, Role, User, user_access_role
from .tokens import revoke_user_tokens

__all__ = [
    "ADMIN_LOGIN",
    "LastAdmin",
    "UserInfo",
    "authenticate",
    "create_user",
    "ensure_admin",
    "find_user",
    "hash_password",
    "list_users",
    "needs_rehash",
    "set_active",
    "verify_password",
]

log = structlog.get_logger(__name__)

ADMIN_LOGIN = "admin"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of *password* (salted; never the same twice)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True when *password* matches *password_hash*; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Return True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    # Verified against when the login is unknown, so both paths cost one argon2 verification.
    return _hasher.hash(secrets.token_urlsafe(16))


async def create_user(
    session: AsyncSession,
    *,
    login: str,
    name: str,
    password: str | None,
    role: str = Role.AGENT,
    extension: str | None = None,
) -> User:
    """Add a user; raise :class:`UserExists` naming the taken login or extension.

    A None *password* creates a user who cannot log in until one is set.
    """
    if role not in tuple(Role):
        raise Invalid("role", role, tuple(Role))
    extension = extension or None
    if await session.scalar(select(User.id).where(User.login == login)) is not None:
        raise UserExists("login", login)
    if extension is not None and (
        await session.scalar(select(User.id).where(User.extension == extension)) is not None
    ):
        raise UserExists("extension", extension)
    user = User(
        login=login,
        name=name,
        extension=extension,
        role=Role(role).value,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    await session.flush()
    log.info("user_created", user_id=user.id, login=login, role=user.role, extension=extension)
    return user


async def authenticate(session: AsyncSession, login: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (in about the same time)."""
    user = await session.scalar(select(User).where(User.login == login, User.is_active.is_(True)))
    # argon2 costs tens of milliseconds by design: off the event loop, or every call event waits.
    if user is None or user.password_hash is None:
        await asyncio.to_thread(verify_password, _dummy_hash(), password)
        log.info("login_failed", login=login, reason="unknown_user")
        return None
    if not await asyncio.to_thread(verify_password, user.password_hash, password):
        log.info("login_failed", login=login, reason="wrong_password")
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
        await session.flush()
        log.info("password_rehashed", user_id=user.id)
    return user


async def ensure_admin(session: AsyncSession, password: str | None = None) -> str | None:
    """Create the ``admin`` user unless it exists; return the password if we generated one.

    The generated password is returned once, for the CLI to print; it is never logged.
    """
    if await session.scalar(select(User.id).where(User.login == ADMIN_LOGIN)) is not None:
        return None
    generated = secrets.token_urlsafe(12) if password is None else None
    await create_user(
        session,
        login=ADMIN_LOGIN,
        name="Administrator",
        password=password if password is not None else generated,
        role=Role.ADMIN,
    )
    log.info("admin_created", generated_password=generated is not None)
    return generated


class LastAdmin(Conflict):
    """Disabling this user would leave nobody able to administer the server."""

    error_id = "last-admin"

    def __init__(self, login: str) -> None:
        super().__init__(f"{login!r} is the last active admin: make someone else admin first")
        self.login = login

    def details(self) -> dict[str, object]:
        return {"login": self.login}


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the admin's list shows them (never the password hash)."""

    id: int
    login: str
    name: str
    extension: str | None
    role: str
    is_active: bool
    created_at: datetime
    department_id: int | None
    extra_roles: tuple[str, ...]
    "Access roles held on top of the built-in one named by ``role``."


async def find_user(session: AsyncSession, login: str) -> User:
    """The user with this login; :class:`NotFound` naming it otherwise."""
    user = await session.scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFound("user", login)
    return user


async def list_users(session: AsyncSession, *, include_disabled: bool = True) -> list[UserInfo]:
    """Every user by login, with department and extra roles (three queries, whatever the count)."""
    stmt = select(User).order_by(User.login)
    if not include_disabled:
        stmt = stmt.where(User.is_active.is_(True))
    users = list(await session.scalars(stmt))
    membership = await session.execute(select(DepartmentMember.user_id, DepartmentMember.department_id))
    departments: dict[int, int] = {user_id: department_id for user_id, department_id in membership}
    roles: dict[int, list[str]] = {}
    rows = await session.execute(
        select(user_access_role.c.user_id, AccessRole.name)
        .join(AccessRole, AccessRole.id == user_access_role.c.role_id)
        .order_by(AccessRole.name)
    )
    for user_id, name in rows:
        roles.setdefault(user_id, []).append(name)
    return [
        UserInfo(
            id=user.id,
            login=user.login,
            name=user.name,
            extension=user.extension,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            department_id=departments.get(user.id),
            extra_roles=tuple(roles.get(user.id, ())),
        )
        for user in users
    ]


async def set_active(session: AsyncSession, login: str, active: bool) -> tuple[User, int]:
    """Enable or disable *login*; return the user and how many API tokens a disable revoked.

    A disabled user cannot log in, their open sessions end at their next request, and their API
    tokens are revoked for good (enabling them again does not bring old tokens back). The last
    active admin cannot be disabled.
    """
    user = await find_user(session, login)
    revoked = 0
    if not active and user.is_active and user.role == Role.ADMIN:
        others = await session.scalar(
            select(User.id)
            .where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != user.id)
            .limit(1)
        )
        if others is None:
            raise LastAdmin(login)
    if user.is_active != active:
        user.is_active = active
        await session.flush()
        log.info("user_enabled" if active else "user_disabled", user_id=user.id, login=login)
    if not active:
        revoked = await revoke_user_tokens(session, user.id)
    return user, revoked
