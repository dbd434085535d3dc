"""RFC 4733 telephone-events in, one key press out.

A phone sends each key as a run of packets sharing one RTP timestamp: updates while the key is
held, then the end packet (E bit), usually three times because RTP is unreliable. One key press
is reported once, when its first end packet arrives; if every end packet was lost, it is reported
when the next event (a new timestamp) begins, so a lossy link never swallows a digit.
"""

from __future__ import annotations

from collections.abc import Callable

from .rtp import FIXED_HEADER, header_length

__all__ = ["KEYS", "DtmfDetector"]

KEYS = "0123456789*#ABCD"
"Event codes 0-15 (RFC 4733 §3.2); the other events (flash, tones) are not key presses."
_END = 0x80


class DtmfDetector:
    """Turn a stream of telephone-event packets into key presses, each reported once."""

    __slots__ = ("_current", "_on_key", "_reported", "_ssrc", "_timestamp")

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self._on_key = on_key
        self._ssrc: int | None = None
        self._timestamp: int | None = None
        self._current: str | None = None
        self._reported = True

    def feed(self, packet: bytes) -> None:
        """Take one telephone-event RTP packet (already known to carry the negotiated payload type)."""
        start = header_length(packet)
        if len(packet) < start + 4:
            return
        _, _, _, timestamp, ssrc = FIXED_HEADER.unpack_from(packet)
        event, flags = packet[start], packet[start + 1]
        if timestamp != self._timestamp or ssrc != self._ssrc:
            self._finish_unreported()
            self._ssrc, self._timestamp = ssrc, timestamp
            self._current = KEYS[event] if event < len(KEYS) else None
            self._reported = False
        if flags & _END:
            self._finish_unreported()

    def _finish_unreported(self) -> None:
        if not self._reported:
            self._reported = True
            if self._current is not None:
                self._on_key(self._current)
