"""Users: argon2 password hashing, creation with clear conflicts, login, and the first admin."""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Invalid, UserExists
from .models import Role, User

__all__ = [
    "ADMIN_LOGIN",
    "authenticate",
    "create_user",
    "ensure_admin",
    "hash_password",
    "needs_rehash",
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
