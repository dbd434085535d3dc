"""The SIP endpoint: transport + transactions, and which part of the PBX handles which request.

Requests inside a dialog go to the leg that owns the dialog (found by Call-ID and our tag);
new requests go to the handler for their method (REGISTER to the registrar, INVITE to the call
manager, SUBSCRIBE to BLF...). OPTIONS out of a dialog is answered here: it is the keep-alive
phones and carriers send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from .dialog import Local
from .message import SipMessage
from .transaction import ClientTransaction, ServerTransaction, Timers, TransactionLayer
from .transport import Peer, SipTransport

__all__ = ["ALLOW", "DialogOwner", "SipEndpoint"]

log = structlog.get_logger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, NOTIFY, SUBSCRIBE, INFO"


class DialogOwner(Protocol):
    def on_request(self, tx: ServerTransaction) -> None: ...

    def on_ack(self, ack: SipMessage | None) -> None:
        """The ACK of our 2xx arrived, or (None) it never came and the dialog must end."""
        ...


class SipEndpoint:
    """One listening address; ``handlers`` maps a method to the part of the PBX that takes it."""

    def __init__(
        self, host: str, port: int, *, tcp: bool = True, timers: Timers | None = None, advertise: str = ""
    ) -> None:
        self.transport = SipTransport(host, port, self._received, tcp=tcp)
        self.layer = TransactionLayer(
            self.transport,
            self._request,
            self._ack,
            on_ack_timeout=self._ack_timeout,
            timers=timers or Timers(),
        )
        self._advertise = advertise or host
        self.handlers: dict[str, Callable[[ServerTransaction], None]] = {}
        self.dialogs: dict[tuple[str, str], DialogOwner] = {}
        "(Call-ID, our tag) -> the leg owning that dialog."
        self.blocked: Callable[[str], bool] = lambda _host: False
        "Sources whose messages are dropped unread (the auth guard's blocklist)."

    @property
    def local(self) -> Local:
        return Local(self._advertise, self.transport.port)

    async def start(self) -> None:
        await self.transport.start()

    async def stop(self) -> None:
        await self.transport.stop()

    def _received(self, message: SipMessage, peer: Peer) -> None:
        if self.blocked(peer.host):
            return
        self.layer.receive(message, peer)

    def _owner(self, message: SipMessage) -> DialogOwner | None:
        tag = message.to.tag
        return self.dialogs.get((message.call_id, tag)) if tag else None

    def _request(self, tx: ServerTransaction) -> None:
        request = tx.request
        if request.to.tag:
            owner = self._owner(request)
            if owner is None:
                tx.reply(481, "Call/Transaction Does Not Exist")
            else:
                owner.on_request(tx)
            return
        handler = self.handlers.get(request.method)
        if handler is not None:
            handler(tx)
        elif request.method == "OPTIONS":
            tx.reply(200, "OK", headers={"Allow": ALLOW, "Accept": "application/sdp"})
        elif request.method in ("BYE", "INFO", "NOTIFY", "REFER"):
            tx.reply(481, "Call/Transaction Does Not Exist")
        else:
            tx.reply(405, "Method Not Allowed", headers={"Allow": ALLOW})

    def _ack(self, ack: SipMessage, _peer: Peer) -> None:
        owner = self._owner(ack)
        if owner is not None:
            owner.on_ack(ack)

    def _ack_timeout(self, tx: ServerTransaction) -> None:
        owner = self.dialogs.get((tx.request.call_id, tx.to_tag))
        if owner is not None:
            owner.on_ack(None)

    def send(
        self, request: SipMessage, peer: Peer, on_provisional: Callable[[SipMessage], None] | None = None
    ) -> ClientTransaction:
        return self.layer.request(request, peer, on_provisional)
