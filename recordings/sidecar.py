"""Sidecar metadata beside each stored recording, so the storage alone can rebuild the catalog.

``2025/06/01/<call_id>.mp3`` gets ``2025/06/01/<call_id>.meta.json`` with the PBX id, call id, the
PBX's path, the checksum and the keys. ``cti recordings rescan`` reads these after a database loss.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from config.files import write_atomically

from .state import RecordingState, RecordingStatus

__all__ = ["SIDECAR_SUFFIX", "read_sidecar", "sidecar_key", "write_sidecar"]

SIDECAR_SUFFIX = ".meta.json"
_VERSION = 1
_TIMES = ("started_at", "next_attempt_at", "stored_at")


def sidecar_key(media_key: str) -> str:
    """The sidecar's key for a media key (same directory and base name, whatever the format)."""
    return str(Path(media_key).with_suffix(SIDECAR_SUFFIX))


def write_sidecar(path: Path, state: RecordingState) -> None:
    """Write *state* to *path* atomically and durably (blocking: run it in a worker thread)."""
    data: dict[str, Any] = {"version": _VERSION, **asdict(state)}
    for name in _TIMES:
        value = data[name]
        data[name] = value.isoformat() if value is not None else None
    data["status"] = state.status.value
    write_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode())


def read_sidecar(path: Path) -> RecordingState:
    """Read a sidecar; raise ValueError naming the file when it is not one of ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable sidecar: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise ValueError(f"{path}: not a version {_VERSION} recording sidecar")
    known = {f.name for f in fields(RecordingState)}
    values = {k: v for k, v in data.items() if k in known}
    try:
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        values["status"] = RecordingStatus(values.get("status", RecordingStatus.PENDING))
        return RecordingState(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: invalid sidecar: {exc}") from exc
