"""Signed session cookies and CSRF tokens (HMAC-SHA256), and the server secret they derive from.

Cookie value: ``v1.<user id>.<nonce>.<expires unix seconds>.<signature>``, where the signature is the
unpadded base64url HMAC-SHA256 of everything before it. Nothing secret is in the cookie; it only has
to be unforgeable. The CSRF token is an HMAC of the session's random nonce, so it changes on every
login and needs no server-side storage. Session and CSRF keys are derived separately from the secret,
so one can never be replayed as the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

__all__ = ["SECRET_BYTES", "CurrentUser", "SessionCodec", "SessionData", "load_or_create_secret"]

log = structlog.get_logger(__name__)

SECRET_BYTES = 32
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a valid session cookie says."""

    user_id: int
    nonce: str
    expires: int
    "Unix time after which the cookie is refused."


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The logged-in user as the web layer needs it (never the ORM object)."""

    id: int
    login: str
    name: str
    extension: str | None
    role: str
    locale: str | None = None
    "The pages' language the user chose; None: the browser's (see :mod:`web.i18n`)."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionCodec:
    """Issue and verify session cookies and CSRF tokens with keys derived from one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"the secret key must have at least {SECRET_BYTES} bytes")
        self._session_key = hmac.digest(secret, b"cti session cookie v1", hashlib.sha256)
        self._csrf_key = hmac.digest(secret, b"cti csrf token v1", hashlib.sha256)

    def issue(self, user_id: int, *, hours: int, now: float | None = None) -> tuple[str, SessionData]:
        """Return a fresh cookie value (new random nonce) for *user_id*, valid *hours*."""
        now = time.time() if now is None else now
        data = SessionData(user_id=user_id, nonce=secrets.token_urlsafe(16), expires=int(now) + hours * 3600)
        payload = f"{_VERSION}.{data.user_id}.{data.nonce}.{data.expires}"
        return f"{payload}.{self._sign(payload)}", data

    def read(self, value: str | None, *, now: float | None = None) -> SessionData | None:
        """Return the session if *value* is a cookie we signed and it has not expired, else None."""
        if not value or len(value) > 200:
            return None
        parts = value.split(".")
        if len(parts) != 5 or parts[0] != _VERSION:
            return None
        payload, signature = value.rpartition(".")[0], parts[4]
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = SessionData(user_id=int(parts[1]), nonce=parts[2], expires=int(parts[3]))
        except ValueError:
            return None
        if data.expires <= (time.time() if now is None else now):
            return None
        return data

    def csrf_token(self, session: SessionData) -> str:
        """The token every form and unsafe API call of *session* must carry."""
        return _b64(hmac.digest(self._csrf_key, session.nonce.encode("ascii"), hashlib.sha256))

    def check_csrf(self, session: SessionData, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf_token(session), token)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.digest(self._session_key, payload.encode("ascii"), hashlib.sha256))


def load_or_create_secret(path: Path) -> bytes:
    """Read the server secret; create it (32 random bytes, mode 0600) when the file is missing."""
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(SECRET_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_or_create_secret(path)
        with os.fdopen(fd, "wb") as file:
            file.write(secret)
        log.info("secret_key_created", path=str(path))
        return secret
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path}: the secret key must have at least {SECRET_BYTES} bytes")
    if path.stat().st_mode & 0o077:
        log.warning("secret_key_readable_by_others", path=str(path), mode=oct(path.stat().st_mode & 0o777))
    return secret
