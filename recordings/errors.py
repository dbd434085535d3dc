"""Errors the recordings package raises; library errors are wrapped into these."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConversionFailed", "EmptyRecording", "NotARecording", "RecordingError", "StorageFull"]


class RecordingError(Exception):
    """Base class for everything that goes wrong with a recording."""


class NotARecording(RecordingError):
    """The file is not usable audio (empty, header only, truncated, not audio); the message says why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmptyRecording(NotARecording):
    """The file holds no audio at all (zero bytes, or a bare header): nothing was said, nothing to keep."""


class ConversionFailed(RecordingError):
    """ffmpeg could not convert the file, or its output did not verify; the original is kept."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StorageFull(RecordingError):
    """The recordings disk is full; nothing was lost and partial files were removed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no space left on the device holding {path}")
        self.path = path
