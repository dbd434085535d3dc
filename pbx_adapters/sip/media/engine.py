"""The media engine: RTP port pairs, the 20 ms clock and the recording writer of one PBX.

Ports are handed out round-robin over the configured range, so a port just freed is the last to be
reused: late packets of a finished call never land in the next one. Each leg binds its even RTP port
and the odd RTCP port above it. We do not read RTCP (the relay passes no reports), but holding the
port keeps another program off it and spares phones ICMP errors; its receive buffer is made tiny so
unread reports cost no memory.
"""

from __future__ import annotations

import asyncio
import errno
import socket

import structlog

from .errors import MediaError, MediaNotReady, PortsExhausted
from .leg import MediaLeg
from .recorder import RecordingScheduler
from .ticker import Ticker
from .wavwriter import WavWriter

__all__ = ["MediaEngine"]

log = structlog.get_logger(__name__)

_RTCP_BUFFER = 1024


class MediaEngine:
    """Open RTP legs on *host* within ports *port_min*..*port_max*.

    ``latch_only=True`` never sends to an address taken from SDP, only to where a peer's packets
    came from: for tests and labs on loopback, where phones announce addresses we must not use.
    """

    def __init__(self, host: str, port_min: int, port_max: int, *, latch_only: bool = False) -> None:
        first = port_min + (port_min % 2)
        if not 0 < port_min <= port_max <= 65535 or first + 1 > port_max:
            raise MediaError(
                f"RTP port range {port_min}-{port_max} holds no even/odd port pair; "
                "give at least two ports starting at an even one"
            )
        self.host = host
        self.port_min = port_min
        self.port_max = port_max
        self.latch_only = latch_only
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._ports = range(first, port_max, 2)
        self._cursor = 0
        self._legs: dict[int, MediaLeg] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: Ticker | None = None
        self._recordings: RecordingScheduler | None = None
        self.writer = WavWriter()

    @property
    def active_legs(self) -> int:
        """How many legs are open."""
        return len(self._legs)

    @property
    def capacity(self) -> int:
        """How many legs the port range can hold at once."""
        return len(self._ports)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the engine runs on (set by :meth:`start`)."""
        if self._loop is None:
            raise MediaNotReady("the media engine is not started")
        return self._loop

    @property
    def ticker(self) -> Ticker:
        """The 20 ms clock of players and conference mixers."""
        if self._ticker is None:
            raise MediaNotReady("the media engine is not started")
        return self._ticker

    @property
    def recordings(self) -> RecordingScheduler:
        """Where bridges and conferences start and finish their recordings."""
        if self._recordings is None:
            raise MediaNotReady("the media engine is not started")
        return self._recordings

    async def start(self) -> None:
        """Start the clock and the recording writer thread."""
        self._loop = asyncio.get_running_loop()
        self._ticker = Ticker(self._loop)
        self._recordings = RecordingScheduler(self._loop, self._ticker, self.writer)
        self.writer.start()
        log.info("media_engine_started", host=self.host, ports=f"{self.port_min}-{self.port_max}")

    async def stop(self) -> None:
        """Close every leg and finish every recording, then let the writer drain to disk."""
        for leg in list(self._legs.values()):
            leg.close()
        if self._recordings is not None:
            for path in self._recordings.finish_all():  # a room left recording with nobody in it
                log.info("recording_finished_at_stop", path=str(path))
        if self._ticker is not None:
            self._ticker.stop()
        await asyncio.to_thread(self.writer.stop)
        log.info("media_engine_stopped")

    async def open_leg(self) -> MediaLeg:
        """Bind the next free RTP/RTCP port pair and return its leg."""
        loop = self.loop
        for _ in range(len(self._ports)):
            port = self._ports[self._cursor]
            self._cursor = (self._cursor + 1) % len(self._ports)
            if port in self._legs:
                continue
            sockets = self._bind_pair(port)
            if sockets is None:
                continue
            leg = MediaLeg(self, self.host, port, sockets, latch_only=self.latch_only)
            leg.start_reading(loop)
            self._legs[port] = leg
            log.debug("rtp_leg_opened", port=port)
            return leg
        raise PortsExhausted(
            f"no free RTP port pair in {self.port_min}-{self.port_max} on {self.host} "
            f"({len(self._legs)} legs open, {len(self._ports)} pairs in the range); "
            "widen the RTP port range or lower the number of concurrent calls"
        )

    def release(self, leg: MediaLeg) -> None:
        """Forget a closed leg so its ports can be reused (called by ``MediaLeg.close``)."""
        if self._legs.get(leg.local_port) is leg:
            del self._legs[leg.local_port]

    def _bind_pair(self, port: int) -> tuple[socket.socket, socket.socket] | None:
        """Bind RTP on *port* and RTCP on *port* + 1; None when either is taken by someone else."""
        bound: list[socket.socket] = []
        try:
            for number in (port, port + 1):
                sock = socket.socket(self._family, socket.SOCK_DGRAM)
                bound.append(sock)
                sock.setblocking(False)
                sock.bind((self.host, number))
        except OSError as exc:
            for sock in bound:
                sock.close()
            if exc.errno == errno.EADDRINUSE:
                return None
            raise MediaError(f"cannot bind RTP port {port} on {self.host}: {exc.strerror or exc}") from exc
        bound[1].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RTCP_BUFFER)
        return bound[0], bound[1]
