"""The RTP fixed header (RFC 3550 §5.1): just what a relay, a recorder and a player need.

Relayed packets are never parsed on the hot path beyond the payload-type byte; this module
serves the slower paths (recording, transcoding, DTMF, generated audio).
"""

from __future__ import annotations

import struct

__all__ = ["FIXED_HEADER", "MIN_PACKET", "build", "header_length", "payload_end", "with_payload_type"]

FIXED_HEADER = struct.Struct("!BBHII")
"V/P/X/CC, M/PT, sequence number, timestamp, SSRC."
MIN_PACKET = FIXED_HEADER.size
VERSION_2 = 0x80


def header_length(packet: bytes) -> int:
    """Return where the payload starts: after the CSRC list and the header extension, if any."""
    length = MIN_PACKET + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= length + 4:
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    return length


def payload_end(packet: bytes) -> int:
    """Return where the payload ends: before the padding the P bit announces, if any."""
    if packet[0] & 0x20 and len(packet) > MIN_PACKET:
        return len(packet) - packet[-1]
    return len(packet)


def build(
    payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool = False
) -> bytes:
    """Return one RTP packet with a 12-byte header."""
    second = payload_type | (0x80 if marker else 0)
    return FIXED_HEADER.pack(VERSION_2, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


def with_payload_type(packet: bytes, payload_type: int) -> bytes:
    """Return *packet* with its payload type replaced (the marker bit kept)."""
    return bytes((packet[0], (packet[1] & 0x80) | payload_type)) + packet[2:]
