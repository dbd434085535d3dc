"""Probing: complete, non-empty WAVs pass with their duration; anything else says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.errors import NotARecording
from recordings.probe import probe_wav

from .conftest import write_sine


def test_probe_measures_a_wav(sine: Path):
    info = probe_wav(sine)
    assert (3.0, 8000, 1, 48044) == (info.duration_s, info.sample_rate, info.channels, info.bytes)


def test_header_only_wav_is_not_a_recording(tmp_path: Path):
    path = write_sine(tmp_path / "empty.wav", 0)
    assert 44 == path.stat().st_size
    with pytest.raises(NotARecording, match="header only"):
        probe_wav(path)


def test_empty_file_is_not_a_recording(tmp_path: Path):
    path = tmp_path / "zero.wav"
    path.write_bytes(b"")
    with pytest.raises(NotARecording, match="empty"):
        probe_wav(path)


def test_truncated_wav_is_incomplete(sine: Path):
    sine.write_bytes(sine.read_bytes()[:20000])
    with pytest.raises(NotARecording, match="incomplete"):
        probe_wav(sine)


def test_text_is_not_audio(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("hello, this is not audio at all, honest" * 3)
    with pytest.raises(NotARecording, match="not a WAV"):
        probe_wav(path)
