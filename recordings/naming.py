"""Storage keys: ``YYYY/MM/DD/<call_id>[-n].<ext>``, built only from a strictly checked call id."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

__all__ = ["CALL_ID_PATTERN", "check_call_id", "resolve_key", "storage_key"]

CALL_ID_PATTERN = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
"Asterisk Uniqueid/Linkedid (1718012345.42) and our own ids fit; nothing with a slash does."
_EXT_PATTERN = re.compile(r"^[a-z0-9]{1,8}$")


def check_call_id(call_id: str) -> str:
    """Return *call_id* unchanged, or raise ValueError if it could escape its directory."""
    # "." and ".." match the character class, so refuse them explicitly.
    if not CALL_ID_PATTERN.fullmatch(call_id) or call_id.strip(".") == "":
        raise ValueError(f"invalid call id for a recording: {call_id!r}")
    return call_id


def storage_key(call_id: str, started_at: date, ext: str, n: int = 0) -> str:
    """Build the key of a call's recording; *n* > 0 tells apart several recordings of one call."""
    check_call_id(call_id)
    if not _EXT_PATTERN.fullmatch(ext):
        raise ValueError(f"invalid recording extension: {ext!r}")
    if n < 0:
        raise ValueError(f"negative recording index: {n}")
    suffix = f"-{n}" if n else ""
    return f"{started_at:%Y/%m/%d}/{call_id}{suffix}.{ext}"


def resolve_key(root: Path, key: str) -> Path:
    """Return the path of *key* under *root*, refusing any key that points outside it."""
    base = root.resolve()
    path = (base / key).resolve()
    if not path.is_relative_to(base) or path == base:
        raise ValueError(f"recording key outside the store: {key!r}")
    return path
