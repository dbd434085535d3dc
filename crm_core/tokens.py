"""API tokens: random, shown once, stored only as a SHA-256, revocable, with the time of last use.

A token is 256 random bits, so a plain SHA-256 is enough to store it safely (a slow password hash
protects guessable secrets; this one is not guessable) and lets a request find its token with
one indexed look-up. The token's first characters (``prefix``) are kept in clear so a person can
tell their tokens apart in a list; they reveal nothing usable.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .access import Unauthenticated
from .db import utc_now
from .errors import NotFound
from .models import ApiToken, User

__all__ = [
    "TOKEN_PREFIX",
    "IssuedToken",
    "TokenInfo",
    "authenticate_token",
    "hash_token",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "revoke_user_tokens",
]

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "cti_"  # noqa: S105 - a public marker, not a secret
"Every token starts with this, so a leaked one is easy to recognise (and to grep for)."
_SHOWN = 12
_LAST_USED_EVERY = timedelta(minutes=1)
"``last_used_at`` is written at most this often per token: a busy client must not turn reads into writes."


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``token`` is shown to its owner once and never stored."""

    id: int
    user_id: int
    token: str
    prefix: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as lists show it: no secret, only the prefix."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """The stored form of *token*: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, user_id: int, name: str = "") -> IssuedToken:
    """Create a token for the active user *user_id*; the caller shows ``token`` once, then forgets it."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    if not user.is_active:
        raise Unauthenticated(f"User {user.login!r} is disabled: enable them before issuing a token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, prefix=token[:_SHOWN], token_hash=hash_token(token))
    session.add(row)
    await session.flush()
    log.info("api_token_issued", token_id=row.id, user_id=user_id, prefix=row.prefix)
    return IssuedToken(id=row.id, user_id=user_id, token=token, prefix=row.prefix)


async def authenticate_token(session: AsyncSession, token: str) -> int:
    """Return the user id behind *token*; raise :class:`Unauthenticated` if unknown, revoked or disabled.

    Records the time of use (at most once a minute per token) in the caller's transaction.
    """
    found = await session.execute(
        select(ApiToken, User.is_active)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    )
    row, active = found.first() or (None, False)
    if row is None or row.revoked_at is not None:
        log.info("api_token_refused", reason="unknown" if row is None else "revoked")
        raise Unauthenticated("The API token is unknown or revoked")
    if not active:
        log.info("api_token_refused", reason="user_disabled", token_id=row.id)
        raise Unauthenticated("The API token's user is disabled")
    now = utc_now()
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_EVERY:
        row.last_used_at = now
        await session.flush()
    return row.user_id


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def list_tokens(session: AsyncSession, user_id: int) -> list[TokenInfo]:
    """The user's tokens, newest first, revoked ones included (they show when they were revoked)."""
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    )
    return [_info(row) for row in rows]


async def revoke_token(session: AsyncSession, token_id: int) -> TokenInfo:
    """Revoke one token (revoking twice keeps the first time); raise :class:`NotFound` if unknown."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("API token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utc_now()
        await session.flush()
        log.info("api_token_revoked", token_id=row.id, user_id=row.user_id)
    return _info(row)


async def revoke_user_tokens(session: AsyncSession, user_id: int) -> int:
    """Revoke every active token of *user_id*; return how many were revoked."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utc_now())
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount:
        log.info("api_tokens_revoked", user_id=user_id, count=result.rowcount)
    return result.rowcount
