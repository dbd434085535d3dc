"""Ingest end to end with real ffmpeg: layout, checksum, conversion, peaks, policies, full disk."""

# Tests set up and inspect small files inline; blocking the loop for that is harmless here.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from recordings import Converter, NotARecording, RecordingStore, StorageFull
from recordings.convert import load_audio

from .conftest import write_sine

WHEN = datetime(2025, 6, 1, 10, 30)
CALL = "1718012345.42"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_ingest_converts_and_stores_under_the_dated_layout(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store")
    source_bytes = sine.read_bytes()

    stored = await store.ingest(sine, call_id=CALL, started_at=WHEN, keep_original=False)

    assert stored.converted
    assert f"2025/06/01/{CALL}.mp3" == stored.key
    assert stored.path == store.path_of(stored.key)
    assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == stored.sha256
    assert abs(len(load_audio(stored.path)) / 1000 - 3) < 0.2
    assert stored.original_key is None
    assert [f"2025/06/01/{CALL}.mp3", f"2025/06/01/{CALL}.peaks.json"] == _files(store.root)
    assert source_bytes == sine.read_bytes()  # the spool file is only read


async def test_peaks_file_is_small_and_follows_the_sine(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store", peaks=800)
    stored = await store.ingest(sine, call_id=CALL, started_at=WHEN)

    assert stored.peaks_key is not None
    raw = store.path_of(stored.peaks_key).read_bytes()
    peaks = json.loads(raw)
    assert len(raw) < 8000
    assert (800, 1600, 8) == (peaks["length"], len(peaks["data"]), peaks["bits"])
    # amplitude 12000/32768 of full scale -> about ±47 in 8 bits, in every bucket
    assert all(-50 <= v <= -40 for v in peaks["data"][0::2])
    assert all(40 <= v <= 50 for v in peaks["data"][1::2])


async def test_keep_original_keeps_the_verified_wav(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store")
    stored = await store.ingest(sine, call_id=CALL, started_at=WHEN, keep_original=True)

    assert f"2025/06/01/{CALL}.wav" == stored.original_key
    assert sine.read_bytes() == store.path_of(stored.original_key).read_bytes()


async def test_second_recording_of_a_call_gets_an_index(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store")
    first = await store.ingest(sine, call_id=CALL, started_at=WHEN)
    second = await store.ingest(sine, call_id=CALL, started_at=WHEN)

    assert (f"2025/06/01/{CALL}.mp3", f"2025/06/01/{CALL}-1.mp3") == (first.key, second.key)


async def test_remove_source_deletes_the_spool_file_after_success(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store")
    await store.ingest(sine, call_id=CALL, started_at=WHEN, remove_source=True)
    assert not sine.exists()


async def test_opus_output(tmp_path: Path, sine: Path):
    store = RecordingStore(tmp_path / "store", Converter(format="opus", bitrate="16k"))
    stored = await store.ingest(sine, call_id=CALL, started_at=WHEN)
    assert (True, "opus") == (stored.converted, stored.format)
    assert stored.key.endswith(".opus")


async def test_header_only_wav_is_refused_and_nothing_stored(tmp_path: Path):
    empty = write_sine(tmp_path / "empty.wav", 0)
    store = RecordingStore(tmp_path / "store")
    with pytest.raises(NotARecording, match="header only"):
        await store.ingest(empty, call_id=CALL, started_at=WHEN)
    assert not (tmp_path / "store").exists() or [] == _files(tmp_path / "store")


async def test_truncated_wav_is_refused(tmp_path: Path, sine: Path):
    sine.write_bytes(sine.read_bytes()[:30000])
    store = RecordingStore(tmp_path / "store")
    with pytest.raises(NotARecording, match="incomplete"):
        await store.ingest(sine, call_id=CALL, started_at=WHEN)


async def test_undecodable_audio_keeps_the_original_for_a_retry(tmp_path: Path, sine: Path):
    data = bytearray(sine.read_bytes())
    data[20:22] = (0x9999).to_bytes(2, "little")  # a codec tag nobody knows
    sine.write_bytes(bytes(data))
    store = RecordingStore(tmp_path / "store")

    with capture_logs() as logs:
        stored = await store.ingest(sine, call_id=CALL, started_at=WHEN)

    assert not stored.converted
    assert f"2025/06/01/{CALL}.wav" == stored.key == stored.original_key
    assert bytes(data) == stored.path.read_bytes()
    assert hashlib.sha256(bytes(data)).hexdigest() == stored.sha256
    assert [f"2025/06/01/{CALL}.wav"] == _files(store.root)
    assert "recording_conversion_failed" in [e["event"] for e in logs]
    assert stored == await store.retry(stored)  # still undecodable: still kept


async def test_retry_converts_once_the_original_decodes(tmp_path: Path, sine: Path):
    good = sine.read_bytes()
    sine.write_bytes(good[:20] + (0x9999).to_bytes(2, "little") + good[22:])
    store = RecordingStore(tmp_path / "store")
    stored = await store.ingest(sine, call_id=CALL, started_at=WHEN)
    assert not stored.converted

    stored.path.write_bytes(good)  # e.g. ffmpeg upgraded with the missing codec
    retried = await store.retry(stored)

    assert (True, f"2025/06/01/{CALL}.mp3", None) == (retried.converted, retried.key, retried.original_key)
    assert [f"2025/06/01/{CALL}.mp3", f"2025/06/01/{CALL}.peaks.json"] == _files(store.root)


@pytest.mark.parametrize("call_id", ["../../etc", "a/b", "..", ""])
async def test_traversal_call_ids_are_refused(tmp_path: Path, sine: Path, call_id):
    store = RecordingStore(tmp_path / "store")
    with pytest.raises(ValueError, match="invalid call id"):
        await store.ingest(sine, call_id=call_id, started_at=WHEN)
    assert not (tmp_path / "store").exists()


async def test_full_disk_raises_storage_full_and_leaves_nothing(tmp_path: Path, tiny_disk: Path):
    big = write_sine(tmp_path / "big.wav", 20)  # 320 KB > 200 KB disk
    before = big.read_bytes()
    store = RecordingStore(tiny_disk / "rec")

    with capture_logs() as logs, pytest.raises(StorageFull):
        await store.ingest(big, call_id=CALL, started_at=WHEN)

    assert before == big.read_bytes()
    assert [] == _files(tiny_disk)
    assert ["error"] == [e["log_level"] for e in logs if e["event"] == "recording_storage_full"]


async def test_disk_filling_during_conversion_also_cleans_up(tmp_path: Path, tiny_disk: Path, sine: Path):
    # Leave room for the 48 KB original but not for the MP3 next to it.
    filler = tiny_disk / "filler"
    free = shutil.disk_usage(tiny_disk).free
    filler.write_bytes(b"\0" * (free - 52 * 1024))
    store = RecordingStore(tiny_disk / "rec")

    with pytest.raises(StorageFull) as caught:
        await store.ingest(sine, call_id=CALL, started_at=WHEN)

    assert errno.ENOSPC == caught.value.__cause__.errno
    assert ["filler"] == _files(tiny_disk)
    assert sine.exists()


async def test_conversions_never_exceed_the_bound(tmp_path: Path):
    converter = Converter(parallel=2)
    sources = [write_sine(tmp_path / f"{i}.wav", 2) for i in range(6)]

    infos = await asyncio.gather(*(converter.convert(s, s.with_suffix(".mp3")) for s in sources))

    assert 2 == converter.peak_active
    assert all(abs(i.duration_s - 2) < 0.2 for i in infos)
