"""Recordings: storage, conversion and the ingest pipeline of call audio; knows calls only by id.

The pipeline (:mod:`recordings.pipeline`) reaches the database through a port that crm_core
implements, so this package stays below crm_core.
"""

from __future__ import annotations

from .convert import Converter, OutputFormat
from .errors import ConversionFailed, EmptyRecording, NotARecording, RecordingError, StorageFull
from .naming import check_call_id, storage_key
from .probe import AudioInfo, probe_wav
from .state import RecordingState, RecordingStatus
from .store import RecordingStore, StoredRecording

__all__ = [
    "AudioInfo",
    "ConversionFailed",
    "Converter",
    "EmptyRecording",
    "NotARecording",
    "OutputFormat",
    "RecordingError",
    "RecordingState",
    "RecordingStatus",
    "RecordingStore",
    "StorageFull",
    "StoredRecording",
    "check_call_id",
    "probe_wav",
    "storage_key",
]
