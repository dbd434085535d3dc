"""Real audio for the recordings tests: WAV files written with the stdlib, decoded by real ffmpeg."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest


def write_sine(path: Path, seconds: float, *, rate: int = 8000, freq: float = 440.0) -> Path:
    """Write a mono 16-bit sine WAV, like Asterisk's MixMonitor at 8 kHz."""
    frames = int(seconds * rate)
    data = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(frames)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path


@pytest.fixture(name="sine")
def _sine(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    spool.mkdir()
    return write_sine(spool / "1718012345.42.wav", 3)
