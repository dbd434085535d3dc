"""Who is this request from? Digest checks against stored HA1s, and a guard against guessing.

REGISTER is challenged with 401/WWW-Authenticate, calls with 407/Proxy-Authenticate (what desk
phones expect from a PBX). A wrong answer counts against the source address; after
``max_failures`` within ``failure_window`` seconds the address is blocked for ``block_seconds``:
its requests are dropped without an answer (a scanner learns nothing), and that is logged once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from .digest import DigestServer, parse_auth
from .message import SipMessage
from .transaction import ServerTransaction

__all__ = ["AuthGuard", "Authenticator", "GuardLimits"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class GuardLimits:
    max_failures: int = 5
    failure_window: float = 60.0
    block_seconds: float = 300.0


class AuthGuard:
    """Count failed authentications per source address and block the persistent ones."""

    def __init__(self, limits: GuardLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def blocked(self, host: str) -> bool:
        until = self._blocked.get(host)
        if until is None:
            return False
        if self._clock() >= until:
            del self._blocked[host]
            log.info("sip_address_unblocked", host=host)
            return False
        return True

    def failed(self, host: str, user: str) -> None:
        now = self._clock()
        times = self._failures.setdefault(host, deque())
        times.append(now)
        while times and now - times[0] > self.limits.failure_window:
            times.popleft()
        log.warning("sip_auth_failed", host=host, user=user, failures=len(times))
        if len(times) >= self.limits.max_failures:
            self._blocked[host] = now + self.limits.block_seconds
            del self._failures[host]
            log.warning(
                "sip_address_blocked",
                host=host,
                user=user,
                failures=self.limits.max_failures,
                seconds=self.limits.block_seconds,
            )

    def succeeded(self, host: str) -> None:
        self._failures.pop(host, None)


class Authenticator:
    """Check a request's credentials against the HA1 of the extension it claims to be."""

    def __init__(self, digest: DigestServer, guard: AuthGuard) -> None:
        self.digest = digest
        self.guard = guard
        self.ha1s: dict[str, str] = {}
        "Extension -> HA1, from the running plan; an extension without a secret cannot authenticate."

    def authenticate(self, tx: ServerTransaction, *, proxy: bool) -> str | None:
        """The authenticated extension; None when *tx* was answered (challenge or refusal)."""
        request: SipMessage = tx.request
        header = request.header("Proxy-Authorization" if proxy else "Authorization")
        fields = parse_auth(header) if header else {}
        user = fields.get("username", "")
        stored = self.ha1s.get(user)
        if not fields:
            self._challenge(tx, proxy=proxy, stale=False)
            return None
        if stored is None or fields.get("uri", "") == "":
            self.guard.failed(tx.peer.host, user)
            self._challenge(tx, proxy=proxy, stale=False)
            return None
        verdict = self.digest.check(request.method, fields, stored)
        if verdict == "ok":
            self.guard.succeeded(tx.peer.host)
            return user
        if verdict == "stale":
            self._challenge(tx, proxy=proxy, stale=True)
            return None
        self.guard.failed(tx.peer.host, user)
        if self.guard.blocked(tx.peer.host):
            tx.reply(403, "Forbidden")
        else:
            self._challenge(tx, proxy=proxy, stale=False)
        return None

    def _challenge(self, tx: ServerTransaction, *, proxy: bool, stale: bool) -> None:
        challenge = self.digest.challenge(stale=stale).header
        if proxy:
            tx.reply(407, "Proxy Authentication Required", headers={"Proxy-Authenticate": challenge})
        else:
            tx.reply(401, "Unauthorized", headers={"WWW-Authenticate": challenge})
