"""RFC 3261 §17 transactions: the retransmission timers that make UDP reliable enough for calls.

Server side: a retransmitted request gets the last response again and never reaches the core
twice; a final non-2xx INVITE response is repeated (Timer G) until the ACK, a 2xx until its ACK
arrives (matched by Call-ID and CSeq, since that ACK is a transaction of its own). Client side:
requests are repeated with Timer A/E and given up after Timer B/F with a synthesized 408, so the
core always gets exactly one final response per request. Over TCP nothing is repeated, but the
give-up timers still run.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from .message import SipMessage, Via, response_to
from .transport import Peer, SipTransport

__all__ = ["ClientTransaction", "ServerTransaction", "Timers", "TransactionLayer", "new_branch"]

log = structlog.get_logger(__name__)

MAGIC = "z9hG4bK"


def new_branch() -> str:
    return MAGIC + secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Timers:
    t1: float = 0.5
    "Round-trip estimate; retransmissions start at T1 and double."
    t2: float = 4.0
    "The cap on the retransmission interval of non-INVITE requests and INVITE responses."
    t4: float = 5.0
    "How long the network may hold a message: how long completed transactions absorb repeats."


def response_peer(request: SipMessage, source: Peer) -> Peer:
    """Where a response to *request* goes (§18.2.2 with RFC 3581 rport)."""
    if source.transport != "udp":
        return source
    via = request.via
    if "rport" in via.params or via.host != source.host:
        # rport asked for, or the phone is behind NAT: answer where the request came from
        return source
    return Peer("udp", source.host, via.port or 5060)


class ServerTransaction:
    """One request received; the core answers it with :meth:`respond`."""

    def __init__(
        self, layer: TransactionLayer, request: SipMessage, peer: Peer, key: tuple[str, ...]
    ) -> None:
        self.layer = layer
        self.request = request
        self.peer = peer
        self.key = key
        self.reply_to = response_peer(request, peer)
        self.last: SipMessage | None = None
        self.final: SipMessage | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._interval = layer.timers.t1
        self.to_tag = secrets.token_hex(6)
        "Our tag in every response of this transaction (the dialog's local tag on an INVITE)."
        self.cancelled = False
        self.on_cancel: Callable[[], None] | None = None
        "Set by the core on INVITEs: called when a CANCEL for this INVITE arrives."

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def reliable(self) -> bool:
        return self.peer.transport != "udp"

    def respond(self, response: SipMessage) -> None:
        if self.final is not None:
            return  # a second final answer (e.g. a race with CANCEL) is dropped
        self.last = response
        self.layer.transport.send(response, self.reply_to)
        if response.status < 200:
            return
        self.final = response
        t = self.layer.timers
        if self.method == "INVITE":
            if 200 <= response.status < 300:
                self.layer.await_ack(self)
                self._finish(64 * t.t1)  # 2xx repeats are the layer's (until the ACK)
            else:
                self._retransmit_until_ack()
                self._finish(64 * t.t1)
        else:
            self._finish(0 if self.reliable else 64 * t.t1)

    def reply(
        self, status: int, reason: str, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> None:
        response = response_to(self.request, status, reason, to_tag=self.to_tag if status > 100 else "")
        response.body = body
        for name, value in (headers or {}).items():
            response.add(name, value)
        self.respond(response)

    def _retransmit_until_ack(self) -> None:
        if self.reliable:
            return

        def again() -> None:
            if self.final is None or self.key not in self.layer.servers:
                return
            self.layer.transport.send(self.final, self.reply_to)
            self._interval = min(2 * self._interval, self.layer.timers.t2)
            self._timer = self.layer.loop.call_later(self._interval, again)

        self._timer = self.layer.loop.call_later(self._interval, again)

    def acked(self) -> None:
        """The ACK for a non-2xx final response arrived: stop repeating (Timer I absorbs the rest)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._finish(0 if self.reliable else self.layer.timers.t4)

    def retransmitted(self) -> None:
        if self.last is not None:
            self.layer.transport.send(self.last, self.reply_to)

    def _finish(self, after: float) -> None:
        self.layer.loop.call_later(after, self._terminate)

    def _terminate(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.layer.servers.get(self.key) is self:
            del self.layer.servers[self.key]


@dataclass(slots=True)
class _AwaitedAck:
    transaction: ServerTransaction
    handle: asyncio.TimerHandle | None = None
    interval: float = 0.5
    deadline: float = 0.0


class ClientTransaction:
    """One request we sent; :attr:`final` resolves with exactly one final response (408 on timeout)."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: SipMessage,
        peer: Peer,
        on_provisional: Callable[[SipMessage], None] | None,
    ) -> None:
        self.layer = layer
        self.request = request
        self.peer = peer
        self.on_provisional = on_provisional
        self.final: asyncio.Future[SipMessage] = layer.loop.create_future()
        self.provisional = False
        self.branch = request.via.branch
        self.key = (self.branch, request.cseq[1])
        self._interval = layer.timers.t1
        self._retransmit: asyncio.TimerHandle | None = None
        self._give_up: asyncio.TimerHandle | None = None
        self._ack: SipMessage | None = None

    @property
    def reliable(self) -> bool:
        return self.peer.transport != "udp"

    def start(self) -> None:
        t = self.layer.timers
        self.layer.transport.send(self.request, self.peer)
        if not self.reliable:
            self._retransmit = self.layer.loop.call_later(self._interval, self._again)
        self._give_up = self.layer.loop.call_later(64 * t.t1, self._timeout)

    def _again(self) -> None:
        if self.final.done():
            return
        self.layer.transport.send(self.request, self.peer)
        self.layer.retransmissions += 1
        if self.request.method == "INVITE":
            self._interval *= 2
        else:
            self._interval = min(2 * self._interval, self.layer.timers.t2)
        self._retransmit = self.layer.loop.call_later(self._interval, self._again)

    def _timeout(self) -> None:
        if not self.final.done():
            log.info("sip_request_timed_out", request=str(self.request), peer=str(self.peer))
            self.final.set_result(response_to(self.request, 408, "Request Timeout"))
        self._terminate()

    def received(self, response: SipMessage) -> None:
        if response.status < 200:
            if self.request.method == "INVITE" and self._retransmit is not None:
                self._retransmit.cancel()  # Proceeding: an INVITE is no longer repeated
                self._retransmit = None
            self.provisional = True
            if self.on_provisional is not None and not self.final.done():
                self.on_provisional(response)
            return
        if self.final.done():
            if self._ack is not None:  # our ACK got lost: the final response comes again
                self.layer.transport.send(self._ack, self.peer)
            return
        if self.request.method == "INVITE" and response.status >= 300:
            self._ack = self._ack_for(response)
            self.layer.transport.send(self._ack, self.peer)
        self.final.set_result(response)
        if self._retransmit is not None:
            self._retransmit.cancel()
        if self._give_up is not None:
            self._give_up.cancel()
        linger = 0 if self.reliable else (32.0 if self.request.method == "INVITE" else self.layer.timers.t4)
        self.layer.loop.call_later(linger, self._terminate)

    def _ack_for(self, response: SipMessage) -> SipMessage:
        """§17.1.1.3: the ACK of a non-2xx final response belongs to the INVITE's transaction."""
        ack = SipMessage(method="ACK", uri=self.request.uri)
        ack.add("Via", self.request.header_values("Via")[0])
        for name in ("From", "Call-ID", "Route"):
            if self.request.header(name):
                ack.add(name, self.request.header(name))
        ack.add("To", response.header("To"))
        ack.add("CSeq", f"{self.request.cseq[0]} ACK")
        ack.add("Max-Forwards", "70")
        return ack

    def _terminate(self) -> None:
        if self._retransmit is not None:
            self._retransmit.cancel()
        if self._give_up is not None:
            self._give_up.cancel()
        if self.layer.clients.get(self.key) is self:
            del self.layer.clients[self.key]


RequestHandler = Callable[[ServerTransaction], None]
AckHandler = Callable[[SipMessage, Peer], None]


@dataclass(slots=True)
class TransactionLayer:
    """Match messages to transactions; new requests go to ``on_request``, 2xx ACKs to ``on_ack``."""

    transport: SipTransport
    on_request: RequestHandler
    on_ack: AckHandler
    on_ack_timeout: Callable[[ServerTransaction], None] | None = None
    "The 2xx of an INVITE was never acknowledged: the core hangs that dialog up."
    timers: Timers = field(default_factory=Timers)
    servers: dict[tuple[str, ...], ServerTransaction] = field(default_factory=dict)
    clients: dict[tuple[str, str], ClientTransaction] = field(default_factory=dict)
    _acks: dict[tuple[str, int], _AwaitedAck] = field(default_factory=dict)
    _sent_acks: dict[tuple[str, int], tuple[SipMessage, Peer]] = field(default_factory=dict)
    retransmissions: int = 0
    "Requests we had to repeat (a figure of packet loss for the benchmark)."

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    # -- incoming ----------------------------------------------------------------------------

    def receive(self, message: SipMessage, peer: Peer) -> None:
        if message.is_request:
            self._request(message, peer)
        else:
            self._response(message, peer)

    def _request(self, request: SipMessage, peer: Peer) -> None:
        via = request.via
        method = "INVITE" if request.method == "ACK" else request.method
        key = (via.branch, via.host, str(via.port), method)
        known = self.servers.get(key)
        if request.method == "ACK":
            if known is not None and known.final is not None and known.final.status >= 300:
                known.acked()
                return
            self._ack_for_2xx(request, peer)
            return
        if known is not None:
            known.retransmitted()
            return
        transaction = ServerTransaction(self, request, peer, key)
        self.servers[key] = transaction
        if request.method == "INVITE":
            transaction.respond(response_to(request, 100, "Trying"))
        if request.method == "CANCEL":
            self._cancel(transaction, via)
            return
        self.on_request(transaction)

    def _cancel(self, transaction: ServerTransaction, via: Via) -> None:
        invite = self.servers.get((via.branch, via.host, str(via.port), "INVITE"))
        if invite is None:
            transaction.reply(481, "Call/Transaction Does Not Exist")
            return
        transaction.reply(200, "OK")
        invite.cancelled = True
        if invite.final is None and invite.on_cancel is not None:
            invite.on_cancel()

    def _response(self, response: SipMessage, peer: Peer) -> None:
        try:
            key = (response.via.branch, response.cseq[1])
        except (ValueError, IndexError):
            return
        transaction = self.clients.get(key)
        if transaction is not None:
            transaction.received(response)
            return
        if 200 <= response.status < 300 and key[1] == "INVITE":
            sent = self._sent_acks.get((response.call_id, response.cseq[0]))
            if sent is not None:  # a 2xx repeated because our ACK was lost
                self.transport.send(*sent)

    # -- 2xx and its ACK (the TU's job in RFC 3261, done here once for every dialog) -------------

    def await_ack(self, transaction: ServerTransaction) -> None:
        key = (transaction.request.call_id, transaction.request.cseq[0])
        awaited = _AwaitedAck(
            transaction, interval=self.timers.t1, deadline=self.loop.time() + 64 * self.timers.t1
        )
        self._acks[key] = awaited
        if not transaction.reliable:
            awaited.handle = self.loop.call_later(awaited.interval, self._repeat_2xx, key)
        else:
            awaited.handle = self.loop.call_later(64 * self.timers.t1, self._repeat_2xx, key)

    def _repeat_2xx(self, key: tuple[str, int]) -> None:
        awaited = self._acks.get(key)
        if awaited is None:
            return
        if self.loop.time() >= awaited.deadline or awaited.transaction.reliable:
            del self._acks[key]
            log.info("sip_no_ack", call_id=key[0])
            if self.on_ack_timeout is not None:
                self.on_ack_timeout(awaited.transaction)
            return
        final = awaited.transaction.final
        if final is not None:
            self.transport.send(final, awaited.transaction.reply_to)
        awaited.interval = min(2 * awaited.interval, self.timers.t2)
        awaited.handle = self.loop.call_later(awaited.interval, self._repeat_2xx, key)

    def _ack_for_2xx(self, ack: SipMessage, peer: Peer) -> None:
        key = (ack.call_id, ack.cseq[0])
        awaited = self._acks.pop(key, None)
        if awaited is None:
            return  # a repeated ACK, or one for a dialog we no longer hold
        if awaited.handle is not None:
            awaited.handle.cancel()
        self.on_ack(ack, peer)

    def stop_awaiting(self, call_id: str) -> None:
        """Forget pending 2xx repeats of a dialog being torn down."""
        for key in [k for k in self._acks if k[0] == call_id]:
            handle = self._acks.pop(key).handle
            if handle is not None:
                handle.cancel()

    # -- outgoing ----------------------------------------------------------------------------

    def request(
        self,
        request: SipMessage,
        peer: Peer,
        on_provisional: Callable[[SipMessage], None] | None = None,
    ) -> ClientTransaction:
        """Send *request* (its top Via carries a fresh branch) and track it."""
        transaction = ClientTransaction(self, request, peer, on_provisional)
        self.clients[transaction.key] = transaction
        transaction.start()
        return transaction

    def send_ack(self, ack: SipMessage, peer: Peer) -> None:
        """Send the ACK of a 2xx and repeat it whenever that 2xx comes again."""
        key = (ack.call_id, ack.cseq[0])
        self._sent_acks[key] = (ack, peer)
        self.loop.call_later(64 * self.timers.t1, self._sent_acks.pop, key, None)
        self.transport.send(ack, peer)
