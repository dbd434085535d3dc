"""Busy-lamp fields: SUBSCRIBE/NOTIFY ``dialog`` events (RFC 4235) for the phones' BLF keys.

The state of an extension comes from the same cti events the CRM sees (ringing, answered,
ended), so a lamp can never disagree with the supervisor's board. A subscription is a dialog of
its own; each state change sends one NOTIFY with a ``dialog-info`` document to every watcher.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from cti import events as ev
from cti.events import CtiEvent

from .auth import Authenticator
from .dialog import Dialog
from .endpoint import SipEndpoint
from .message import SipMessage
from .transaction import ServerTransaction

if TYPE_CHECKING:
    from .calls import CallManager

__all__ = ["Blf", "dialog_info"]

log = structlog.get_logger(__name__)

MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600
_STATES = {"early": 1, "confirmed": 2}


def dialog_info(entity: str, version: int, state: str) -> bytes:
    """The RFC 4235 document for one extension: ``terminated`` (idle), ``early`` or ``confirmed``."""
    dialog = ""
    if state != "terminated":
        direction = ' direction="recipient"' if state == "early" else ""
        dialog = f'<dialog id="{secrets.token_hex(4)}"{direction}><state>{state}</state></dialog>'
    return (
        '<?xml version="1.0"?>\n'
        f'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="{version}" '
        f'state="full" entity="{entity}">{dialog}</dialog-info>\n'
    ).encode()


@dataclass(slots=True)
class _Watch:
    blf: Blf
    extension: str
    dialog: Dialog
    expires_at: float
    version: int = 0

    def on_request(self, tx: ServerTransaction) -> None:
        assert self.dialog is not None
        if tx.request.method != "SUBSCRIBE":
            tx.reply(200 if tx.request.method in ("NOTIFY", "OPTIONS") else 405, "OK")
            return
        expires = _expires(tx.request)
        tx.reply(
            200,
            "OK",
            headers={"Expires": str(expires), "Contact": self.dialog.local.contact(tx.peer.transport)},
        )
        self.blf.refreshed(self, expires)

    def on_ack(self, ack: SipMessage | None) -> None:
        return None

    def notify(self, state: str, *, terminated: bool = False) -> None:
        self.version += 1
        request = self.dialog.request(
            "NOTIFY",
            body=dialog_info(self.dialog.local.uri(self.extension), self.version, state),
            content_type="application/dialog-info+xml",
        )
        request.add("Event", "dialog")
        remaining = max(0, int(self.expires_at - self.blf.now()))
        request.add(
            "Subscription-State", "terminated;reason=timeout" if terminated else f"active;expires={remaining}"
        )
        self.blf.endpoint.send(request, self.dialog.peer)


def _expires(request: SipMessage) -> int:
    text = request.header("Expires")
    return min(int(text), MAX_EXPIRES) if text.isdigit() else DEFAULT_EXPIRES


@dataclass(slots=True)
class Blf:
    endpoint: SipEndpoint
    auth: Authenticator
    calls: CallManager
    watches: dict[str, list[_Watch]] = field(default_factory=dict)
    _calls: dict[str, dict[str, str]] = field(default_factory=dict)
    _shown: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.endpoint.handlers["SUBSCRIBE"] = self.subscribe

    def now(self) -> float:
        return time.monotonic()

    def state(self, extension: str) -> str:
        best = "terminated"
        for states in self._calls.values():
            state = states.get(extension)
            if state is not None and _STATES[state] > _STATES.get(best, 0):
                best = state
        return best

    def subscribe(self, tx: ServerTransaction) -> None:
        request = tx.request
        if request.header("Event").split(";")[0].strip().lower() != "dialog":
            tx.reply(489, "Bad Event", headers={"Allow-Events": "dialog"})
            return
        if self.auth.authenticate(tx, proxy=True) is None:
            return
        extension = request.uri.split(":", 1)[-1].split("@", 1)[0]
        if extension not in self.calls.plan().extensions:
            tx.reply(404, "Not Found")
            return
        dialog = Dialog.answering(request, tx.peer, tx.to_tag, self.endpoint.local)
        expires = _expires(request)
        watch = _Watch(self, extension, dialog, self.now() + expires)
        tx.reply(
            200,
            "OK",
            headers={"Expires": str(expires), "Contact": self.endpoint.local.contact(tx.peer.transport)},
        )
        if expires == 0:
            watch.notify(self.state(extension), terminated=True)
            return
        self.endpoint.dialogs[(dialog.call_id, dialog.local_tag)] = watch
        self.watches.setdefault(extension, []).append(watch)
        watch.notify(self.state(extension))

    def refreshed(self, watch: _Watch, expires: int) -> None:
        watch.expires_at = self.now() + expires
        if expires == 0:
            watch.notify(self.state(watch.extension), terminated=True)
            self._drop(watch)

    def _drop(self, watch: _Watch) -> None:
        self.endpoint.dialogs.pop((watch.dialog.call_id, watch.dialog.local_tag), None)
        watchers = self.watches.get(watch.extension, [])
        if watch in watchers:
            watchers.remove(watch)

    def observe(self, event: CtiEvent) -> None:
        """Fold a cti event into the lamps; NOTIFY the watchers of every extension that changed."""
        touched: set[str] = set()
        if isinstance(event, ev.CallRinging):
            states = self._calls.setdefault(event.call_id, {})
            for ext in event.extensions:
                states.setdefault(ext, "early")
                touched.add(ext)
        elif isinstance(event, ev.RingingStopped):
            states = self._calls.get(event.call_id, {})
            for ext in event.extensions:
                if states.get(ext) == "early":
                    del states[ext]
                    touched.add(ext)
        elif isinstance(event, ev.CallAnswered | ev.CallPickedUp):
            self._calls.setdefault(event.call_id, {})[event.by] = "confirmed"
            touched.add(event.by)
        elif isinstance(event, ev.CallStarted) and event.caller.extension:
            self._calls.setdefault(event.call_id, {})[event.caller.extension] = "confirmed"
            touched.add(event.caller.extension)
        elif isinstance(event, ev.CallEnded):
            touched.update(self._calls.pop(event.call_id, {}))
        for ext in touched:
            state = self.state(ext)
            if self._shown.get(ext, "terminated") != state:
                self._shown[ext] = state
                now = self.now()
                for watch in list(self.watches.get(ext, [])):
                    if watch.expires_at <= now:
                        self._drop(watch)
                    else:
                        watch.notify(state)
