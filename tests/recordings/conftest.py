"""Real audio for the recordings tests (stdlib WAVs, real ffmpeg) and the CRM databases (both backends)."""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

import pytest

# The migrated SQLite and PostgreSQL databases of the CRM tests, for the pipeline's catalog.
from tests.crm_core.conftest import _blank_engine, _engine, _sessionmaker  # noqa: F401


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


@pytest.fixture(name="tiny_disk")
def _tiny_disk(tmp_path: Path):
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:  # never skipped: the full-disk behaviour is checked on a real full disk
        pytest.fail(
            f"the full-disk tests mount a 200 KB tmpfs and need root (make test as root): {done.stderr}"
        )
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture(name="pipelines")
async def _pipelines(sessionmaker):
    """``pipelines(root, **settings)`` builds a pipeline on the test database; all are closed after."""
    from .helpers import make_pipeline

    built = []

    def build(root: Path, sessionmaker=sessionmaker, **options):
        pipeline = make_pipeline(root, sessionmaker, **options)
        built.append(pipeline)
        return pipeline

    yield build
    for pipeline in built:
        await pipeline.close()
