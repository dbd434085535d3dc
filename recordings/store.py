"""Ingest finished recordings into a dated layout: check, copy, convert, verify, draw peaks.

Every file lands by temp file + fsync + rename, so a crash or a full disk never leaves a
half-written recording under a real key. The source (Asterisk's spool, maybe over a mount)
is only read, and removed only on request after its copy verified.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import structlog

from config.files import fsync_directory

from . import naming
from .convert import DISK_FULL_ERRNOS, Converter, load_audio
from .errors import ConversionFailed, StorageFull
from .peaks import DEFAULT_PEAKS, compute_peaks, peaks_json
from .probe import probe_wav

__all__ = ["RecordingStore", "StoredRecording"]

log = structlog.get_logger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class StoredRecording:
    """Where a recording is stored; ``converted=False`` means only the original is, retry later."""

    call_id: str
    key: str
    path: Path
    sha256: str
    duration_s: float
    format: str
    original_key: str | None
    peaks_key: str | None
    converted: bool
    keep_original: bool
    size_bytes: int = 0
    "Of the file at ``key``."
    conversion_error: str | None = None
    "Why the last conversion failed, while ``converted`` is False."


class RecordingStore:
    """Own the recordings directory: keys under *root*, conversion through *converter*."""

    def __init__(self, root: Path, converter: Converter | None = None, *, peaks: int = DEFAULT_PEAKS) -> None:
        self.root = root
        self.converter = converter or Converter()
        self.peaks = peaks
        self._claim = asyncio.Lock()

    def path_of(self, key: str) -> Path:
        """Return the file of *key*, refusing keys that leave the store."""
        return naming.resolve_key(self.root, key)

    async def ingest(
        self,
        src: Path,
        *,
        call_id: str,
        started_at: datetime,
        keep_original: bool = False,
        remove_source: bool = False,
    ) -> StoredRecording:
        """Store *src* for *call_id*; raise NotARecording, or StorageFull having cleaned up.

        A failed conversion is not an error: the stored original comes back with
        ``converted=False`` for :meth:`retry`.
        """
        naming.check_call_id(call_id)
        info = await self.converter.run(probe_wav, src)
        created: list[Path] = []
        try:
            async with self._claim:
                original_key, final_key = self._free_keys(call_id, started_at)
                original = self.path_of(original_key)
                original.parent.mkdir(parents=True, exist_ok=True)
                original.touch(exist_ok=False)  # claims the key until the copy replaces it
                created.append(original)
            digest = await self.converter.run(_copy_verified, src, original)
            stored = StoredRecording(
                call_id=call_id,
                key=original_key,
                path=original,
                sha256=digest,
                duration_s=info.duration_s,
                format="wav",
                original_key=original_key,
                peaks_key=None,
                converted=False,
                keep_original=keep_original,
                size_bytes=info.bytes,
            )
            result = await self._convert(stored, final_key)
        except BaseException as exc:
            for path in created:
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
                raise self._full(call_id, src) from exc
            raise
        if remove_source:
            await asyncio.to_thread(src.unlink, missing_ok=True)
        return result

    async def retry(self, stored: StoredRecording) -> StoredRecording:
        """Try again to convert a recording stored with ``converted=False``."""
        if stored.converted or stored.original_key is None:
            return stored
        final_key = str(Path(stored.original_key).with_suffix("." + self.converter.format))
        try:
            return await self._convert(stored, final_key)
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            raise self._full(stored.call_id, stored.path) from exc

    async def _convert(self, stored: StoredRecording, final_key: str) -> StoredRecording:
        """Convert, verify, write peaks; on ConversionFailed return *stored* unchanged."""
        assert stored.original_key is not None
        original = self.path_of(stored.original_key)
        final = self.path_of(final_key)
        peaks_key = str(Path(final_key).with_suffix(".peaks.json"))
        peaks = self.path_of(peaks_key)
        tmp = _temp_for(final)
        tmp_peaks = _temp_for(peaks)
        try:
            try:
                info = await self.converter.convert(original, tmp)
            except ConversionFailed as exc:
                tmp.unlink(missing_ok=True)
                log.warning(
                    "recording_conversion_failed", call_id=stored.call_id, key=stored.key, reason=exc.reason
                )
                return replace(stored, conversion_error=exc.reason)
            await self.converter.run(_write_peaks, original, tmp_peaks, self.peaks)
            digest = await self.converter.run(_finish, tmp, final)
            await self.converter.run(_finish, tmp_peaks, peaks)
        except BaseException:
            for path in (tmp, tmp_peaks, final, peaks):
                path.unlink(missing_ok=True)
            raise
        original_key: str | None = stored.original_key
        if not stored.keep_original:
            original.unlink(missing_ok=True)
            original_key = None
        log.info(
            "recording_stored",
            call_id=stored.call_id,
            key=final_key,
            duration_s=round(info.duration_s, 2),
            bytes=info.bytes,
            original_kept=original_key is not None,
        )
        return replace(
            stored,
            key=final_key,
            path=final,
            sha256=digest,
            duration_s=info.duration_s,
            format=self.converter.format,
            original_key=original_key,
            peaks_key=peaks_key,
            converted=True,
            size_bytes=info.bytes,
            conversion_error=None,
        )

    async def keep_unusable(self, src: Path, *, call_id: str, started_at: datetime) -> StoredRecording:
        """Copy a file that is not usable audio into the store as it is, so nothing is lost.

        It lands under the call's key with the ``.bad`` extension (never served as audio); raise
        StorageFull having cleaned up.
        """
        naming.check_call_id(call_id)
        try:
            async with self._claim:
                key = self._free_key(call_id, started_at, "bad")
                path = self.path_of(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(exist_ok=False)
            try:
                digest = await self.converter.run(_copy_verified, src, path)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise self._full(call_id, src) from exc
            raise
        size = path.stat().st_size
        log.warning("recording_kept_unusable", call_id=call_id, key=key, bytes=size)
        return StoredRecording(
            call_id=call_id,
            key=key,
            path=path,
            sha256=digest,
            duration_s=0.0,
            format="bad",
            original_key=None,
            peaks_key=None,
            converted=False,
            keep_original=True,
            size_bytes=size,
        )

    async def delete(self, keys: Iterable[str | None]) -> list[str]:
        """Remove the files of *keys* (missing ones are skipped); return the keys removed."""

        def remove() -> list[str]:
            removed = []
            for key in dict.fromkeys(k for k in keys if k):
                path = self.path_of(key)
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(key)
            return removed

        return await asyncio.to_thread(remove)

    def keys(self) -> Iterator[str]:
        """Every file's key under the store, temp files skipped (blocking: walks the disk)."""
        if not self.root.is_dir():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in sorted(files):
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                yield str((Path(dirpath) / name).relative_to(self.root))

    def _free_key(self, call_id: str, started_at: datetime, ext: str) -> str:
        n = 0
        while self.path_of(key := naming.storage_key(call_id, started_at, ext, n)).exists():
            n += 1
        return key

    def _free_keys(self, call_id: str, started_at: datetime) -> tuple[str, str]:
        """Pick the first index whose original, converted and peaks names are all free."""
        n = 0
        while True:
            original = naming.storage_key(call_id, started_at, "wav", n)
            final = naming.storage_key(call_id, started_at, self.converter.format, n)
            peaks = str(Path(final).with_suffix(".peaks.json"))
            if not any(self.path_of(k).exists() for k in (original, final, peaks)):
                return original, final
            n += 1

    def _full(self, call_id: str, src: Path) -> StorageFull:
        free: int | None = None
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(self.root).free
        log.error("recording_storage_full", call_id=call_id, source=str(src), root=str(self.root), free=free)
        return StorageFull(self.root)


def _temp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _copy_verified(src: Path, dst: Path) -> str:
    """Copy *src* over *dst* atomically and durably; return the sha256 both share."""
    tmp = _temp_for(dst)
    digest = hashlib.sha256()
    try:
        with src.open("rb") as fin, tmp.open("wb") as fout:
            while block := fin.read(_CHUNK):
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        if _sha256(tmp) != digest.hexdigest():
            raise OSError(f"copy of {src} does not match its source")
        tmp.replace(dst)
        fsync_directory(dst.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _finish(tmp: Path, dst: Path) -> str:
    """Make *tmp* durable and move it to *dst*; return its sha256."""
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    digest = _sha256(tmp)
    tmp.replace(dst)
    fsync_directory(dst.parent)
    return digest


def _write_peaks(src: Path, dst: Path, count: int) -> None:
    data = peaks_json(compute_peaks(load_audio(src), count))
    with dst.open("wb") as f:
        f.write(data)
