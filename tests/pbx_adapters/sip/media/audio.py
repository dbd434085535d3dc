"""Test audio: sine waves in, tone detection out (Goertzel, so no numpy is needed)."""

from __future__ import annotations

import itertools
import math
import warnings
from array import array

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000


def sine(frequency: float, seconds: float, *, amplitude: float = 0.3, rate: int = RATE) -> bytes:
    """Return 16-bit PCM of a sine at *frequency*."""
    step = 2 * math.pi * frequency / rate
    peak = amplitude * 32767
    return array("h", (round(peak * math.sin(step * n)) for n in range(int(seconds * rate)))).tobytes()


def samples(pcm: bytes) -> array:
    """The 16-bit samples of *pcm*."""
    values = array("h")
    values.frombytes(pcm)
    return values


def power_at(pcm: bytes, frequency: float) -> float:
    """Share of the signal's energy at *frequency* (0..1), by the Goertzel algorithm."""
    values = samples(pcm)
    if not values:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    previous = before = 0.0
    for value in values:
        previous, before = value + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    energy = sum(v * v for v in values)
    return 2 * power / (len(values) * energy) if energy else 0.0


def rms(pcm: bytes) -> int:
    """Root-mean-square level of 16-bit *pcm*."""
    return audioop.rms(pcm, 2) if pcm else 0


def zero_crossing_frequency(pcm: bytes) -> float:
    """Estimate the frequency of a pure tone from its zero crossings."""
    values = samples(pcm)
    crossings = sum(1 for a, b in itertools.pairwise(values) if (a < 0) != (b < 0))
    return crossings / 2 / (len(values) / RATE)


def channel(frames: bytes, which: int) -> bytes:
    """One channel (0 = left, 1 = right) of interleaved 16-bit stereo *frames*."""
    return audioop.tomono(frames, 2, 1 - which, which)


def stereo(pcm: bytes) -> bytes:
    """The same 16-bit mono *pcm* on both channels."""
    return audioop.tostereo(pcm, 2, 1, 1)
