"""The registrar (RFC 3261 §10): where each extension's phones can be reached right now.

A binding remembers the address the REGISTER really came from (rport, RFC 3581): a phone behind
NAT announces a private Contact that nobody can reach, so calls go to the source address and
transport instead, which the phone keeps open by re-registering. An extension may have several
phones (a desk phone and a softphone); all of them ring. Device events go to the CTI when an
extension gets its first binding and when it loses its last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from cti import events as ev
from cti.events import CtiEvent

from .auth import Authenticator
from .message import BadMessage, NameAddr
from .transaction import ServerTransaction
from .transport import Peer

__all__ = ["Binding", "Registrar", "RegistrarLimits"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RegistrarLimits:
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 300
    max_contacts: int = 5
    "Phones per extension; a further REGISTER replaces the binding that expires first."


@dataclass(frozen=True, slots=True)
class Binding:
    extension: str
    contact: str
    "The Contact URI as the phone gave it (the Request-URI of requests to it)."
    peer: Peer
    "Where requests for this phone go: the address its REGISTER came from."
    expires_at: float
    call_id: str
    cseq: int


class Registrar:
    """Accept REGISTER for extensions that have a secret; answer who is reachable where."""

    def __init__(
        self,
        auth: Authenticator,
        publish: Callable[[CtiEvent], object],
        limits: RegistrarLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth = auth
        self._publish = publish
        self.limits = limits or RegistrarLimits()
        self._clock = clock
        self._bindings: dict[str, dict[str, Binding]] = {}

    def contacts(self, extension: str) -> list[Binding]:
        """The live bindings of *extension* (expired ones are dropped on the way)."""
        now = self._clock()
        bindings = self._bindings.get(extension, {})
        for key in [k for k, b in bindings.items() if b.expires_at <= now]:
            del bindings[key]
        if not bindings and extension in self._bindings:
            self._forget(extension)
        return list(bindings.values())

    def registered(self) -> frozenset[str]:
        """Extensions with a binding; asked for every new call, so no per-binding work here.

        A binding that expired less than ``EXPIRE_EVERY`` seconds ago may still count: ringing it
        then fails like ringing a phone that is off, which is what it is.
        """
        return frozenset(self._bindings)

    def expire(self) -> None:
        """Drop expired bindings now (the PBX calls this every few seconds)."""
        for extension in list(self._bindings):
            self.contacts(extension)

    def drop(self, extension: str) -> None:
        """Forget every binding of *extension* (removed from the plan, or lost its secret)."""
        if extension in self._bindings:
            self._forget(extension)

    def _forget(self, extension: str) -> None:
        del self._bindings[extension]
        log.info("sip_unregistered", extension=extension)
        self._publish(ev.DeviceUnregistered(extension=extension, at=datetime.now(UTC)))

    def handle(self, tx: ServerTransaction) -> None:
        request = tx.request
        try:
            to = request.to
        except BadMessage:
            tx.reply(400, "Bad Request")
            return
        user = self.auth.authenticate(tx, proxy=False)
        if user is None:
            return
        if user != to.uri.user:
            tx.reply(403, "Forbidden (credentials of another extension)")
            return
        contacts = request.header_values("Contact")
        if not contacts:  # a query: list the bindings
            self._ok(tx, user)
            return
        default = request.header("Expires")
        if contacts == ["*"]:
            if default.strip() != "0":
                tx.reply(400, "Bad Request (* needs Expires: 0)")
                return
            if user in self._bindings:
                self._forget(user)
            self._ok(tx, user)
            return
        try:
            parsed = [NameAddr.parse(c) for c in contacts]
        except BadMessage as exc:
            tx.reply(400, f"Bad Request ({exc.reason[:60]})")
            return
        for contact in parsed:
            seconds = self._expires(contact.params.get("expires", default))
            if seconds is None:
                tx.reply(400, "Bad Request (Expires)")
                return
            if 0 < seconds < self.limits.min_expires:
                tx.reply(423, "Interval Too Brief", headers={"Min-Expires": str(self.limits.min_expires)})
                return
        for contact in parsed:
            seconds = min(self._expires(contact.params.get("expires", default)) or 0, self.limits.max_expires)
            self._bind(user, contact, seconds, tx)
        self._ok(tx, user)

    def _expires(self, text: str) -> int | None:
        if text == "":
            return self.limits.default_expires
        text = text.strip()
        if not text.isdigit() or len(text) > 10:
            return None
        return int(text)

    def _bind(self, user: str, contact: NameAddr, seconds: int, tx: ServerTransaction) -> None:
        key = str(contact.uri)
        bindings = self._bindings.get(user, {})
        if seconds == 0:
            if bindings.pop(key, None) is not None and not bindings:
                self._forget(user)
            return
        first = not bindings
        if key not in bindings and len(bindings) >= self.limits.max_contacts:
            oldest = min(bindings.values(), key=lambda b: b.expires_at)
            del bindings[str(oldest.contact)]
        request = tx.request
        bindings[key] = Binding(
            extension=user,
            contact=key,
            peer=tx.peer,
            expires_at=self._clock() + seconds,
            call_id=request.call_id,
            cseq=request.cseq[0],
        )
        self._bindings[user] = bindings
        if first:
            log.info("sip_registered", extension=user, peer=str(tx.peer), expires=seconds)
            self._publish(ev.DeviceRegistered(extension=user, at=datetime.now(UTC), contact=str(tx.peer)))

    def _ok(self, tx: ServerTransaction, user: str) -> None:
        now = self._clock()
        response_contacts = [
            f"<{b.contact}>;expires={max(0, round(b.expires_at - now))}" for b in self.contacts(user)
        ]
        headers = {"Contact": ", ".join(response_contacts)} if response_contacts else {}
        tx.reply(200, "OK", headers=headers)
