"""Storage keys: dated layout, strict call ids, no way out of the store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from recordings.naming import check_call_id, resolve_key, storage_key

WHEN = datetime(2025, 6, 1, 23, 59)


def test_key_is_dated_and_named_after_the_call():
    assert "2025/06/01/1718012345.42.mp3" == storage_key("1718012345.42", WHEN, "mp3")
    assert "2025/06/01/abc-2.wav" == storage_key("abc", WHEN, "wav", 2)


@pytest.mark.parametrize(
    "call_id", ["", ".", "..", "../etc/passwd", "a/b", "a\\b", "x" * 65, "a b", "\x00", "ы"]
)
def test_unsafe_call_ids_are_refused(call_id):
    with pytest.raises(ValueError, match="invalid call id"):
        storage_key(call_id, WHEN, "mp3")


def test_call_id_pattern_accepts_asterisk_ids():
    assert "pbx-1.1718012345.42_x" == check_call_id("pbx-1.1718012345.42_x")


def test_bad_extension_is_refused():
    with pytest.raises(ValueError, match="extension"):
        storage_key("abc", WHEN, "../mp3")


def test_resolve_refuses_keys_outside_the_root(tmp_path: Path):
    assert tmp_path.resolve() / "2025/06/01/a.mp3" == resolve_key(tmp_path, "2025/06/01/a.mp3")
    with pytest.raises(ValueError, match="outside"):
        resolve_key(tmp_path, "../x.mp3")
