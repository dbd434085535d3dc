"""Audio conversion; pydub shells out to ffmpeg, so it runs in worker threads, a bounded number at once."""

from __future__ import annotations

import asyncio
import errno
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError, CouldntEncodeError

from .errors import ConversionFailed
from .probe import AudioInfo

__all__ = ["DISK_FULL_ERRNOS", "Converter", "OutputFormat", "load_audio"]

OutputFormat = Literal["mp3", "opus"]
T = TypeVar("T")

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"OSErrors that mean 'no room': never a conversion failure, the caller must keep the original."

_CODECS: dict[str, str | None] = {"mp3": None, "opus": "libopus"}
_MAX_DRIFT_S = 1.0


def load_audio(path: Path, format: str | None = None) -> AudioSegment:
    """Decode *path* (format from its suffix unless given), closing the file pydub would leave open."""
    with path.open("rb") as f:
        return AudioSegment.from_file(f, format=format or path.suffix.lstrip(".").lower() or None)


class Converter:
    """Convert recordings without starving the event loop (at most *parallel* at once)."""

    def __init__(self, parallel: int = 2, *, bitrate: str = "32k", format: OutputFormat = "mp3") -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        if format not in _CODECS:
            raise ValueError(f"unsupported output format: {format!r}")
        self.parallel = parallel
        self.bitrate = bitrate
        self.format: OutputFormat = format
        self._slots = asyncio.Semaphore(parallel)
        self._lock = threading.Lock()
        self._active = 0
        self.peak_active = 0
        "The most blocking jobs that ever ran at the same time (a check on the bound)."

    async def convert(self, src: Path, dst: Path) -> AudioInfo:
        """Convert *src* into *dst* and verify the result decodes to the same duration (±1 s)."""
        return await self.run(self._convert, src, dst)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run blocking *fn* in a worker thread, counted against the same bound as conversions."""
        async with self._slots:
            return await asyncio.to_thread(self._counted, fn, *args)

    def _counted(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            self._active += 1
            self.peak_active = max(self.peak_active, self._active)
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._active -= 1

    def _convert(self, src: Path, dst: Path) -> AudioInfo:
        try:
            source = load_audio(src)
            # Export into memory and write dst ourselves: pydub leaks its temp files' handles
            # when a write of its own fails, and a full disk must surface as a plain OSError.
            encoded = io.BytesIO()
            source.export(encoded, format=self.format, codec=_CODECS[self.format], bitrate=self.bitrate)
            with dst.open("wb") as out:
                out.write(encoded.getbuffer())
            result = load_audio(dst, "ogg" if self.format == "opus" else self.format)
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise
            raise ConversionFailed(src, f"cannot run the conversion: {exc}") from exc
        except (CouldntDecodeError, CouldntEncodeError, ValueError, IndexError, EOFError) as exc:
            raise ConversionFailed(src, _first_line(exc)) from exc
        drift = abs(len(result) - len(source)) / 1000
        if len(result) == 0 or drift > _MAX_DRIFT_S:
            raise ConversionFailed(
                src, f"output lasts {len(result) / 1000:.2f} s, source {len(source) / 1000:.2f} s"
            )
        return AudioInfo(
            duration_s=len(result) / 1000,
            sample_rate=result.frame_rate,
            channels=result.channels,
            bytes=dst.stat().st_size,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
