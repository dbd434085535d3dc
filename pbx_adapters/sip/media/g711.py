"""G.711 µ-law and A-law: the two codecs every desk phone and carrier speaks.

The stdlib ``audioop`` does the arithmetic in C (``audioop-lts`` provides the same module on
Python 3.13+). Transcoding between the two laws is a byte-to-byte mapping, so it is precomputed
once as two 256-entry tables and applied with ``bytes.translate``: one C call per packet,
bit-exact with decoding to linear and encoding again.
"""

from __future__ import annotations

import warnings
from enum import Enum

with warnings.catch_warnings():  # deprecated in 3.11-3.12 (removed in 3.13, where audioop-lts provides it)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

# audioop is re-exported: the media modules share this one warning-free import of it.
__all__ = ["SAMPLE_RATE", "Codec", "add", "audioop", "decode", "encode", "silence", "transcode_table"]

SAMPLE_RATE = 8000
"Samples per second of both laws; one payload byte is one sample."


class Codec(Enum):
    """A G.711 codec, valued by its static RTP payload type (RFC 3551)."""

    PCMU = 0
    PCMA = 8

    @property
    def payload_type(self) -> int:
        """The static RTP payload type of the codec."""
        return self.value


def decode(codec: Codec, payload: bytes) -> bytes:
    """Decode G.711 *payload* to 16-bit signed linear PCM (native byte order)."""
    if codec is Codec.PCMU:
        return audioop.ulaw2lin(payload, 2)
    return audioop.alaw2lin(payload, 2)


def encode(codec: Codec, pcm: bytes) -> bytes:
    """Encode 16-bit signed linear *pcm* (native byte order) to G.711."""
    if codec is Codec.PCMU:
        return audioop.lin2ulaw(pcm, 2)
    return audioop.lin2alaw(pcm, 2)


def add(first: bytes, second: bytes) -> bytes:
    """Sum two equally long 16-bit PCM fragments, clipping instead of wrapping."""
    return audioop.add(first, second, 2)


def silence(codec: Codec, samples: int) -> bytes:
    """Return *samples* of encoded digital silence."""
    return encode(codec, bytes(2 * samples))


def _table(source: Codec, target: Codec) -> bytes:
    every_code = bytes(range(256))
    return encode(target, decode(source, every_code))


_TABLES = {
    (Codec.PCMU, Codec.PCMA): _table(Codec.PCMU, Codec.PCMA),
    (Codec.PCMA, Codec.PCMU): _table(Codec.PCMA, Codec.PCMU),
}


def transcode_table(source: Codec, target: Codec) -> bytes | None:
    """Return the ``bytes.translate`` table from *source* to *target*, or None when they match."""
    if source is target:
        return None
    return _TABLES[(source, target)]
