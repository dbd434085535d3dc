"""A test phone's RTP side: a real UDP socket on loopback that sends and collects RTP."""

from __future__ import annotations

import asyncio
import random
import struct

from pbx_adapters.sip.media import Codec
from pbx_adapters.sip.media.g711 import decode, encode

HEADER = struct.Struct("!BBHII")


class RtpPhone(asyncio.DatagramProtocol):
    """Send G.711 audio in 20 ms packets and keep every datagram that comes back."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.sent: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.timestamp = random.getrandbits(32)
        self._arrived = asyncio.Event()

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> RtpPhone:
        """Bind a phone on a free port of *host*."""
        loop = asyncio.get_running_loop()
        _, phone = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return phone

    @property
    def address(self) -> tuple[str, int]:
        """Where the phone's packets come from."""
        return self.transport.get_extra_info("sockname")[:2]

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.received.append(data)
        self._arrived.set()

    def close(self) -> None:
        """Close the socket."""
        self.transport.close()

    def packet(
        self, payload: bytes, payload_type: int, *, timestamp: int | None = None, marker=False
    ) -> bytes:
        """Build the phone's next RTP packet."""
        self.seq = (self.seq + 1) & 0xFFFF
        ts = self.timestamp if timestamp is None else timestamp
        return HEADER.pack(0x80, payload_type | (0x80 if marker else 0), self.seq, ts, self.ssrc) + payload

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        """Send one datagram."""
        self.sent.append(data)
        self.transport.sendto(data, to)

    async def stream(self, to: tuple[str, int], codec: Codec, pcm: bytes, *, ptime_ms: int = 20) -> None:
        """Send *pcm* (16-bit, 8 kHz) as packets of *ptime_ms* in real time."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        payload = encode(codec, pcm)
        size = 8 * ptime_ms
        for index, offset in enumerate(range(0, len(payload), size)):
            self.send(self.packet(payload[offset : offset + size], codec.payload_type), to)
            self.timestamp = (self.timestamp + size) & 0xFFFFFFFF
            await asyncio.sleep(max(0.0, start + (index + 1) * ptime_ms / 1000 - loop.time()))

    def send_key(self, to: tuple[str, int], payload_type: int, event: int, *, end_copies: int = 3) -> None:
        """Send one RFC 4733 key press: three updates, then the end packet *end_copies* times."""
        for duration in (160, 320, 480):
            self.send(self.packet(bytes((event, 10)) + duration.to_bytes(2, "big"), payload_type), to)
        for _ in range(end_copies):
            self.send(self.packet(bytes((event, 0x80 | 10)) + (640).to_bytes(2, "big"), payload_type), to)
        self.timestamp = (self.timestamp + 800) & 0xFFFFFFFF

    async def wait_for(self, count: int, timeout: float = 3.0) -> None:
        """Wait until at least *count* datagrams have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def audio_packets(self) -> list[bytes]:
        """The received packets carrying G.711 audio."""
        return [p for p in self.received if len(p) > 12 and p[1] & 0x7F in (0, 8)]

    def audio(self) -> bytes:
        """Everything received, decoded to 16-bit PCM in arrival order (by each packet's payload type)."""
        out = bytearray()
        for packet in self.audio_packets():
            codec = Codec.PCMU if packet[1] & 0x7F == 0 else Codec.PCMA
            out += decode(codec, packet[12:])
        return bytes(out)
