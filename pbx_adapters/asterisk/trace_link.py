"""The trace server's side of one TCP link: writes in pieces, to split messages and characters.

Real links deliver AMI in arbitrary TCP reads; `TraceLink` reproduces that on purpose: the byte
stream is cut at every ``chunk_size`` boundary and wherever a cutter asks (inside a UTF-8
character, say), with a yield to the event loop between pieces so the client reads them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable

import structlog

__all__ = ["Cutter", "TraceLink", "cuts_inside_utf8"]

log = structlog.get_logger(__name__)

HIGH_WATER = 64 * 1024
"Queued bytes above which the event stream waits for the socket (its pacing at speed=None)."

Cutter = Callable[[bytes], Iterable[int]]
"Given one encoded message, the offsets inside it where a TCP write must end."


def cuts_inside_utf8(data: bytes) -> list[int]:
    # Cut right after the lead byte of every multi-byte character: each one straddles two writes.
    return [index + 1 for index, byte in enumerate(data) if byte >= 0xC0]


class TraceLink:
    """One client's outgoing byte stream, written by a pump task in pieces when asked to.

    Messages are appended whole and synchronously, so a reply is never interleaved with an event;
    the pump cuts the stream at every ``chunk_size`` boundary (across message boundaries) and at
    every offset the cutter asks for, and yields to the event loop between pieces so the client
    sees them in separate TCP reads.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        chunk_size: int | None,
        cutter: Cutter | None,
        chunk_delay: float,
    ) -> None:
        self.writer = writer
        # drain() then waits until the transport buffer is empty: "flushed" means in the kernel,
        # so an abort() after it loses nothing already sent.
        writer.transport.set_write_buffer_limits(high=0)
        self._chunk_size = chunk_size
        self._cutter = cutter
        self._chunk_delay = chunk_delay
        self._splitting = chunk_size is not None or cutter is not None
        self._buffer = bytearray()
        self._cuts: deque[int] = deque()
        self._queued = 0  # absolute stream offsets
        self._written = 0
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._flushed.set()
        self.broken = False
        self._pump = asyncio.create_task(self._run(), name="ami-trace-link")

    def send(self, data: bytes) -> None:
        if self.broken:
            return
        if self._cutter is not None:
            self._cuts.extend(
                self._queued + cut for cut in sorted(set(self._cutter(data))) if 0 < cut < len(data)
            )
        self._buffer += data
        self._queued += len(data)
        self._flushed.clear()
        self._wake.set()

    async def flushed(self) -> None:
        """Wait until everything sent so far is in the kernel's socket buffer."""
        await self._flushed.wait()

    async def backpressure(self) -> None:
        """Wait while more than a socket's worth is queued (the event stream's pacing at speed=None)."""
        if len(self._buffer) > HIGH_WATER:
            await self._flushed.wait()

    def _next_piece(self) -> bytes:
        end = self._queued
        if self._chunk_size is not None:
            end = min(end, (self._written // self._chunk_size + 1) * self._chunk_size)
        while self._cuts and self._cuts[0] <= self._written:
            self._cuts.popleft()
        if self._cuts:
            end = min(end, self._cuts[0])
        size = end - self._written
        piece = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._written = end
        return piece

    async def _run(self) -> None:
        try:
            while True:
                if not self._buffer:
                    self._flushed.set()
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                self.writer.write(self._next_piece())
                await self.writer.drain()
                if self._splitting:
                    await asyncio.sleep(self._chunk_delay)
        except (ConnectionError, OSError) as exc:
            self.broken = True
            self._buffer.clear()
            self._flushed.set()
            log.debug("trace_server_write_failed", error=repr(exc))

    async def close(self, *, abort: bool = False) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        self._flushed.set()
        if abort:
            self.writer.transport.abort()
        else:
            self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
