"""WAV files written off the event loop by one writer thread.

The relay must never wait for a disk: recorders hand finished PCM batches (a few hundred
milliseconds each) to a queue, and a single thread owns every open file. The RIFF sizes in the
header are rewritten at least every ``HEADER_EVERY`` bytes of audio, so a file is a valid WAV
holding nearly all its audio even if the process dies mid-call; closing makes it final.
(The stdlib ``wave`` module rewrites them after every write: three extra system calls per batch.)
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog

from .errors import RecordingFailed
from .g711 import SAMPLE_RATE

__all__ = ["WavFile", "WavWriter"]

log = structlog.get_logger(__name__)

CLOSE_WAIT = 5.0
"Seconds ``WavFile.close`` waits for the writer to finish the file before giving up on waiting."
HEADER_EVERY = 4 * SAMPLE_RATE
"Bytes of audio between header rewrites: one second of stereo, two of mono."
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
_MAX_DATA = 0xFFFFFFFF - _HEADER.size


def wav_header(channels: int, data_bytes: int) -> bytes:
    """Return the 44-byte header of a 16-bit PCM WAV at 8 kHz holding *data_bytes* of audio."""
    block = 2 * channels
    return _HEADER.pack(
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels,
        SAMPLE_RATE, SAMPLE_RATE * block, block, 16, b"data", data_bytes,
    )  # fmt: skip


class WavFile:
    """One recording being written: 8 kHz, 16-bit, mono or stereo."""

    __slots__ = ("_data_bytes", "_failed", "_file", "_unpatched", "_writer", "channels", "path")

    def __init__(self, writer: WavWriter, path: Path, channels: int) -> None:
        self.path = path
        self.channels = channels
        self._writer = writer
        self._failed = False
        self._data_bytes = 0
        self._unpatched = 0
        try:
            self._file = path.open("wb")  # closed by the writer thread
            self._file.write(wav_header(channels, 0))
        except OSError as exc:
            raise RecordingFailed(f"cannot record to {path}: {exc.strerror or exc}") from exc

    def write(self, pcm: bytes) -> None:
        """Queue interleaved 16-bit frames for writing; returns at once."""
        if pcm:
            self._writer.submit(self, pcm, None)

    def close(self) -> bool:
        """Queue the final header and wait (briefly) until the file is complete; True when it is."""
        done = threading.Event()
        self._writer.submit(self, None, done)
        return done.wait(CLOSE_WAIT)

    def apply(self, pcm: bytes | None, done: threading.Event | None) -> None:
        """Run in the writer thread: write a batch, or close the file."""
        try:
            if pcm is None:
                try:
                    self._patch_header()
                finally:
                    self._file.close()
            elif not self._failed and self._data_bytes + len(pcm) <= _MAX_DATA:
                self._file.write(pcm)
                self._data_bytes += len(pcm)
                self._unpatched += len(pcm)
                if self._unpatched >= HEADER_EVERY:
                    self._patch_header()
        except (OSError, ValueError) as exc:
            if not self._failed:
                self._failed = True
                log.error("recording_write_failed", path=str(self.path), error=str(exc))
        finally:
            if done is not None:
                done.set()

    def _patch_header(self) -> None:
        if self._failed:
            return
        self._file.flush()
        self._file.seek(0)
        self._file.write(wav_header(self.channels, self._data_bytes))
        self._file.seek(0, 2)
        self._file.flush()
        self._unpatched = 0


_Job = tuple[WavFile, bytes | None, threading.Event | None]
"A batch of frames for a file (or, with no frames, its close), and what to set once done."


class WavWriter:
    """The thread that owns every open recording file of one media engine."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Sequence[_Job] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rtp-recording-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish every queued write, then end the thread (blocking: call it off the loop)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def open(self, path: Path, channels: int) -> WavFile:
        """Create *path* and return its handle (raises RecordingFailed naming the problem)."""
        return WavFile(self, path, channels)

    def submit(self, file: WavFile, pcm: bytes | None, done: threading.Event | None) -> None:
        """Queue a batch (or, with ``pcm=None``, the close) for *file*."""
        self.write_batch([(file, pcm, done)])

    def write_batch(self, jobs: Sequence[_Job]) -> None:
        """Queue several files' batches as one hand-over (inline when the thread is not running)."""
        if not jobs:
            return
        if self._thread is None:
            self._apply(jobs)
        else:
            self._queue.put(jobs)

    def _run(self) -> None:
        while (jobs := self._queue.get()) is not None:
            self._apply(jobs)

    @staticmethod
    def _apply(jobs: Sequence[_Job]) -> None:
        for job in jobs:
            file, pcm, done = job
            file.apply(pcm, done)
