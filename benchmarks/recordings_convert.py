"""Conversion throughput: minutes of audio converted per second of wall time.

Ten 5-minute 8 kHz mono WAVs (what MixMonitor writes) go through ``Converter.convert``, which
includes decoding the output again to verify it, with ``parallel=1`` and ``parallel=2``.
The target is 200x real time per core (3.3 audio-minutes per wall-second per worker).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():  # pydub imports audioop, deprecated since 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from recordings.convert import Converter

FILES = 10
MINUTES = 5


def make_wav(path: Path) -> Path:
    """Write a MINUTES-long 8 kHz mono sine WAV (what MixMonitor writes) with ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603
        [  # noqa: S607 - ffmpeg from PATH, as pydub itself runs it
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={MINUTES * 60}",
            "-ar",
            "8000",
            "-ac",
            "1",
            str(path),
        ],
        check=True,
    )
    return path


def _make_sources(directory: Path) -> list[Path]:
    first = make_wav(directory / "0.wav")
    sources = [first]
    for i in range(1, FILES):
        sources.append(directory / f"{i}.wav")
        shutil.copyfile(first, sources[-1])
    return sources


async def _run(sources: list[Path], parallel: int) -> float:
    converter = Converter(parallel=parallel)
    start = time.perf_counter()
    await asyncio.gather(*(converter.convert(s, s.with_suffix(f".{parallel}.mp3")) for s in sources))
    return time.perf_counter() - start


def main() -> None:
    """Print the conversion throughput with one and two workers."""
    with tempfile.TemporaryDirectory() as tmp:
        sources = _make_sources(Path(tmp))
        audio_min = FILES * MINUTES
        print(
            f"recordings: {FILES} x {MINUTES} min 8 kHz mono WAV -> MP3 32k (verified), {os.cpu_count()} CPUs"
        )
        for parallel in (1, 2):
            wall = asyncio.run(_run(sources, parallel))
            rate = audio_min / wall
            print(
                f"  parallel={parallel}: {wall:6.2f} s, {rate:6.1f} audio-min/s "
                f"({rate * 60:5.0f}x real time, {rate * 60 / parallel:5.0f}x per worker)"
            )


if __name__ == "__main__":
    main()
