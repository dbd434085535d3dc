"""Recordings: storage and conversion of call audio; knows calls only by id."""

from __future__ import annotations

from .convert import Converter, OutputFormat
from .errors import ConversionFailed, NotARecording, RecordingError, StorageFull
from .naming import check_call_id, storage_key
from .probe import AudioInfo, probe_wav
from .store import RecordingStore, StoredRecording

__all__ = [
    "AudioInfo",
    "ConversionFailed",
    "Converter",
    "NotARecording",
    "OutputFormat",
    "RecordingError",
    "RecordingStore",
    "StorageFull",
    "StoredRecording",
    "check_call_id",
    "probe_wav",
    "storage_key",
]
