"""Call-progress tones: 425 Hz with the Russian cadences most of Europe's 425 Hz family shares.

Cadences follow Asterisk's ``indications.conf`` zone ``ru`` (ringback 0.8 s on / 3.2 s off, busy
0.4/0.4, congestion 0.2/0.2); CEPT countries use the same frequency with slightly longer steps
(``de``: 1/4, 0.48/0.48, 0.24/0.24), which callers recognise just the same. One cadence cycle is
synthesised once and encoded once per codec; playing it is slicing 160-byte frames.
"""

from __future__ import annotations

import math
from array import array
from enum import Enum
from functools import cache

from .g711 import SAMPLE_RATE, Codec, encode

__all__ = ["FREQUENCY", "Tone", "tone_cycle"]

FREQUENCY = 425.0
AMPLITUDE = 0.25
"Of full scale (about -15 dBm0): audible, never clipping once mixed with speech."


class Tone(Enum):
    """A call-progress tone, valued by its cadence: (milliseconds on, milliseconds off) steps."""

    RINGBACK = ((800, 3200),)
    BUSY = ((400, 400),)
    CONGESTION = ((200, 200),)
    BEEP = ((250, 0),)
    "One short beep (e.g. 'this call is recorded'); played with loop=True it becomes a steady tone."


def _pcm(tone: Tone) -> bytes:
    samples = array("h")
    step = 2 * math.pi * FREQUENCY / SAMPLE_RATE
    peak = AMPLITUDE * 32767
    for on_ms, off_ms in tone.value:
        on = on_ms * SAMPLE_RATE // 1000
        samples.extend(round(peak * math.sin(step * n)) for n in range(on))
        samples.extend(0 for _ in range(off_ms * SAMPLE_RATE // 1000))
    return samples.tobytes()


@cache
def tone_cycle(tone: Tone, codec: Codec) -> bytes:
    """Return one full cadence cycle of *tone*, encoded with *codec*."""
    return encode(codec, _pcm(tone))
