"""Rebuild the recordings catalog from the storage (after a database loss), and report orphans.

Every media file under the recordings directory must have a row. A file without one gets it back
from its sidecar (``.meta.json``: PBX id, call id, the PBX's path, checksum, keys) or, lacking
that, from the layout ``YYYY/MM/DD/<call_id>[-n].<ext>``, and is linked to its call when the call
is logged. Rescan never deletes anything: it reports files whose call is unknown and rows whose
file is gone, for a person to decide.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.sidecar import read_sidecar, sidecar_key
from recordings.state import RecordingState, RecordingStatus
from recordings.store import RecordingStore

from .models import Recording
from .recordings import link_call, save_recording

__all__ = ["RescanReport", "rescan"]

log = structlog.get_logger(__name__)

_LAYOUT = re.compile(r"^(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<stem>[^/]+)\.(?P<ext>[a-z0-9]{1,8})$")
_STATUS_BY_EXT = {"wav": RecordingStatus.STORED, "bad": RecordingStatus.FAILED}
_CHUNK = 1 << 20
REBUILT_SOURCE = "rescan:"
"Prefix of the PBX path of a row rebuilt without a sidecar (the PBX's own name is lost)."


@dataclass(slots=True)
class RescanReport:
    """What a rescan found and did; it deletes nothing."""

    files: int = 0
    "Media files seen (peaks and sidecars not counted)."
    rebuilt: list[str] = field(default_factory=list)
    "Keys of files that had no row and got one."
    relinked: int = 0
    "Calls whose waiting recordings were linked."
    orphan_files: list[str] = field(default_factory=list)
    "Files whose call is not in the database."
    missing_files: list[tuple[int, str]] = field(default_factory=list)
    "Rows (id, key) whose file is not in the storage."
    unreadable: list[str] = field(default_factory=list)
    "Sidecars that could not be read (the layout was used instead)."


def _is_media(key: str) -> bool:
    return not key.endswith(".json")


async def rescan(session: AsyncSession, store: RecordingStore, *, pbx_id: str) -> RescanReport:
    """Walk the storage, rebuild missing rows, re-link, report orphans; commits what it rebuilt."""
    report = RescanReport()
    keys = await asyncio.to_thread(lambda: list(store.keys()))
    present = set(keys)
    rows = list(await session.scalars(select(Recording)))
    known = {k for row in rows for k in (row.storage_key, row.original_key) if k}
    for key in filter(_is_media, keys):
        report.files += 1
        if key in known:
            continue
        state = await _state_for(store, key, pbx_id, present, report)
        if state is None:
            continue
        if state.original_key == key and state.storage_key in known:
            continue  # the kept original of a recording we know
        await save_recording(session, state)
        known.update(k for k in (state.storage_key, state.original_key) if k)
        report.rebuilt.append(key)
        log.info("recording_rebuilt", key=key, call_id=state.call_id)
    await session.flush()
    waiting = await session.scalars(
        select(Recording.call_id).where(Recording.pbx_id == pbx_id, Recording.call_pk.is_(None)).distinct()
    )
    for call_id in list(waiting):
        if call_id is not None and await link_call(session, pbx_id, call_id):
            report.relinked += 1
    await session.commit()
    for row in await session.scalars(select(Recording).order_by(Recording.id)):
        if row.storage_key is None:
            continue
        if row.storage_key not in present:
            report.missing_files.append((row.id, row.storage_key))
        elif row.call_pk is None:
            report.orphan_files.append(row.storage_key)
    log.info(
        "recordings_rescanned",
        files=report.files,
        rebuilt=len(report.rebuilt),
        relinked=report.relinked,
        orphan_files=len(report.orphan_files),
        missing_files=len(report.missing_files),
    )
    return report


async def _state_for(
    store: RecordingStore, key: str, pbx_id: str, present: set[str], report: RescanReport
) -> RecordingState | None:
    """The state of a file without a row: from its sidecar, else from the layout."""
    meta = sidecar_key(key)
    if meta in present:
        try:
            state = await asyncio.to_thread(read_sidecar, store.path_of(meta))
        except ValueError as exc:
            log.warning("recording_sidecar_unreadable", key=meta, error=str(exc))
            report.unreadable.append(meta)
        else:
            if key in (state.storage_key, state.original_key):
                return state
    found = _LAYOUT.match(key)
    if found is None:
        log.warning("recording_file_outside_layout", key=key)
        report.orphan_files.append(key)
        return None
    started = datetime(int(found["y"]), int(found["m"]), int(found["d"]), tzinfo=UTC)
    ext = found["ext"]
    digest, size = await asyncio.to_thread(_digest, store.path_of(key))
    peaks = str(Path(key).with_suffix(".peaks.json"))
    status = _STATUS_BY_EXT.get(ext, RecordingStatus.CONVERTED)
    state = RecordingState(
        pbx_id=pbx_id,
        call_id=found["stem"],
        source=REBUILT_SOURCE + key,
        started_at=started,
        status=status,
        storage_key=key,
        original_key=key if ext == "wav" else None,
        peaks_key=peaks if peaks in present else None,
        sha256=digest,
        size_bytes=size,
        format=ext,
        error="rebuilt by rescan without a sidecar" if status is RecordingStatus.FAILED else None,
    )
    # Without a sidecar, a trailing "-<n>" is read as the index storage_key gives a call's n-th
    # recording; a call id that itself ends in "-<digits>" needs its sidecar to be read right.
    indexed = re.fullmatch(r"(?P<call>.+)-\d+", found["stem"])
    if indexed is not None:
        state = replace(state, call_id=indexed["call"])
    return state


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
