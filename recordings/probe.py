"""Check that a WAV file is a complete, non-empty recording and measure it (stdlib only)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import EmptyRecording, NotARecording

__all__ = ["WAV_HEADER_BYTES", "AudioInfo", "probe_wav"]

WAV_HEADER_BYTES = 44
"A canonical PCM header; Asterisk writes exactly this before any audio arrives."


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a recording holds."""

    duration_s: float
    sample_rate: int
    channels: int
    bytes: int


def probe_wav(path: Path) -> AudioInfo:
    """Walk the RIFF chunks of *path*; raise NotARecording saying why it is unusable.

    The chunks are read by hand rather than with :mod:`wave` so that any codec in a WAV
    container (PCM, a-law, GSM, WAVE_FORMAT_EXTENSIBLE) is measured from its byte rate.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(12)
            if size == 0:
                raise EmptyRecording(path, "empty file")
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise NotARecording(path, "not a WAV file (no RIFF/WAVE header)")
            riff_size = struct.unpack("<I", head[4:8])[0]
            if riff_size + 8 > size:
                # Asterisk patches the sizes when it closes the file: a short file is still
                # being written, or was cut off.
                raise NotARecording(
                    path, f"incomplete: header announces {riff_size + 8} bytes, file has {size}"
                )
            fmt: tuple[int, int, int, int] | None = None
            data_bytes: int | None = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    break
                cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    body = f.read(csize)
                    if len(body) < 16:
                        raise NotARecording(path, "truncated fmt chunk")
                    fmt = struct.unpack("<HHII", body[:12])
                    f.seek(csize % 2, 1)
                elif cid == b"data":
                    data_bytes = min(csize, size - f.tell())
                    if data_bytes < csize:
                        raise NotARecording(path, f"incomplete: data chunk announces {csize} bytes")
                    break
                else:
                    f.seek(csize + csize % 2, 1)
    except OSError as exc:
        raise NotARecording(path, f"cannot read: {exc.strerror or exc}") from exc
    if fmt is None:
        raise NotARecording(path, "no fmt chunk")
    if data_bytes is None or data_bytes == 0:
        raise EmptyRecording(path, "header only, no audio data")
    _codec, channels, sample_rate, byte_rate = fmt
    if channels == 0 or sample_rate == 0 or byte_rate == 0:
        raise NotARecording(path, "fmt chunk with zero channels, rate or byte rate")
    return AudioInfo(
        duration_s=data_bytes / byte_rate, sample_rate=sample_rate, channels=channels, bytes=size
    )
