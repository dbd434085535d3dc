"""A recording's place in the pipeline, as the pipeline and its catalog (the database) share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["RecordingState", "RecordingStatus"]


class RecordingStatus(StrEnum):
    """Where a recording stands; the values are stored in ``recording.status``."""

    PENDING = "pending"
    "Known (the PBX named the file) but not in our storage yet: not ingested, or waiting to retry."
    STORED = "stored"
    "The verified original is in our storage; its conversion failed and is retried with backoff."
    CONVERTED = "converted"
    "The compact copy and its peaks are stored and verified."
    FAILED = "failed"
    "Given up: not usable audio, or out of retries. Whatever file we have is kept, never deleted."


@dataclass(frozen=True, slots=True)
class RecordingState:
    """One recording of one call: the PBX's file (``source``) and what we made of it.

    (``pbx_id``, ``call_id``, ``source``) is the natural key. ``started_at`` dates the storage
    key (the call's start when known). Keys are relative to the recordings directory.
    """

    pbx_id: str
    call_id: str
    source: str
    started_at: datetime
    status: RecordingStatus = RecordingStatus.PENDING
    storage_key: str | None = None
    original_key: str | None = None
    peaks_key: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    format: str | None = None
    attempts: int = 0
    error: str | None = None
    next_attempt_at: datetime | None = None
    stored_at: datetime | None = None

    @property
    def natural_key(self) -> tuple[str, str, str]:
        return (self.pbx_id, self.call_id, self.source)
