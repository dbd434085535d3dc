"""SIP over UDP and TCP on asyncio: bytes in and out, one parsed message at a time.

The transport knows nothing of transactions: it parses what arrives, answers the malformed
requests it can answer with 400 (and drops the rest), and hands every good message with the
:class:`Peer` it came from to one callback. Sending to a TCP peer reuses the connection the peer
opened (a phone behind NAT can only be reached that way) or opens one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from .message import BadMessage, SipMessage, frame_length, parse_message, response_to, strip_keepalives

__all__ = ["Peer", "SipTransport"]

log = structlog.get_logger(__name__)

TCP_IDLE_TIMEOUT = 600.0
"A TCP connection with no message for this long is closed (phones re-register well before)."
MAX_TCP_CONNECTIONS = 1024
BIND_ATTEMPTS = 5
"With port 0: how many ephemeral UDP ports to try before one is also free for TCP."


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from or goes to: the transport and the real (post-NAT) address."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


MessageHandler = Callable[[SipMessage, Peer], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        if data.strip() == b"":  # a CRLF keep-alive
            return
        self.owner.received(data, Peer("udp", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.debug("sip_udp_error", error=repr(exc))


class _TcpConnection:
    """One TCP connection: frame messages by Content-Length, write answers back on it."""

    def __init__(
        self, owner: SipTransport, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.owner = owner
        self.reader = reader
        self.writer = writer
        host, port = writer.get_extra_info("peername")[:2]
        self.peer = Peer("tcp", host, port)

    async def run(self) -> None:
        buffer = bytearray()
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    chunk = await self.reader.read(65536)
                if not chunk:
                    return
                buffer += chunk
                while True:
                    strip_keepalives(buffer)
                    length = frame_length(buffer)
                    if length is None:
                        break
                    data = bytes(buffer[:length])
                    del buffer[:length]
                    self.owner.received(data, self.peer)
        except BadMessage as exc:
            log.warning("sip_tcp_stream_unreadable", peer=str(self.peer), reason=exc.reason)
        except (TimeoutError, ConnectionError) as exc:
            log.debug("sip_tcp_stream_closed", peer=str(self.peer), reason=type(exc).__name__)
        finally:
            self.close()

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        self.owner.forget(self)
        self.writer.close()


class SipTransport:
    """UDP (always) and TCP (optional) on one host and port; ``port=0`` picks a free port."""

    def __init__(self, host: str, port: int, on_message: MessageHandler, *, tcp: bool = True) -> None:
        self.host = host
        self.port = port
        self._on_message = on_message
        self._tcp_enabled = tcp
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[tuple[str, int], _TcpConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        "Messages dropped as unparseable (counted for the benchmark and health)."

    async def start(self) -> None:
        """Bind UDP, then TCP on the same port; with port 0, a port free for both (a few tries)."""
        loop = asyncio.get_running_loop()
        wanted = self.port
        for attempt in range(1, BIND_ATTEMPTS + 1):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, wanted)
            )
            port = transport.get_extra_info("sockname")[1]
            if not self._tcp_enabled:
                break
            try:
                self._server = await asyncio.start_server(self._accepted, self.host, port)
                break
            except OSError:
                transport.close()  # never leave the UDP side bound when the whole start fails
                await asyncio.sleep(0)  # the close completes on the loop's next turn: let it
                if wanted != 0 or attempt == BIND_ATTEMPTS:
                    raise
                log.debug("sip_port_taken_for_tcp", port=port, attempt=attempt)
        self._udp = transport
        self.port = port
        log.info("sip_listening", host=self.host, port=self.port, tcp=self._tcp_enabled)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        connection = _TcpConnection(self, reader, writer)
        self._connections[(connection.peer.host, connection.peer.port)] = connection
        await connection.run()

    def forget(self, connection: _TcpConnection) -> None:
        key = (connection.peer.host, connection.peer.port)
        if self._connections.get(key) is connection:
            del self._connections[key]

    def received(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse_message(data)
        except BadMessage as exc:
            self.dropped += 1
            if exc.answerable and exc.partial is not None:
                self.send(response_to(exc.partial, 400, f"Bad Request ({exc.reason[:60]})"), peer)
            log.info("sip_bad_message", peer=str(peer), reason=exc.reason, answered=exc.answerable)
            return
        try:
            self._on_message(message, peer)
        except Exception:  # one bad message or one bug must never stop the PBX
            log.exception("sip_message_failed", peer=str(peer), message=str(message))

    def send(self, message: SipMessage, peer: Peer) -> None:
        data = message.encode()
        if peer.transport == "udp":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, (peer.host, peer.port))
            return
        connection = self._connections.get((peer.host, peer.port))
        if connection is not None:
            connection.send(data)
        else:
            self._spawn(self._connect_and_send(peer, data))

    async def _connect_and_send(self, peer: Peer, data: bytes) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(peer.host, peer.port), 5.0)
        except (OSError, TimeoutError) as exc:
            log.warning("sip_tcp_connect_failed", peer=str(peer), error=repr(exc))
            return
        connection = _TcpConnection(self, reader, writer)
        self._connections[(peer.host, peer.port)] = connection
        connection.send(data)
        await connection.run()

    @property
    def local_tag(self) -> str:
        return f"{self.host}:{self.port}"
