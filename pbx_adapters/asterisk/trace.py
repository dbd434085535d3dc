"""AMI traces: one AMI message per JSON line, and the AMI wire format they stand for.

A trace is what one AMI connection carried (see ``shared/ami-traces/README.md``): each line is
``{"t": seconds since the connection opened, "dir": "action" | "response" | "event",
"fields": {key: value or [values of a repeated key]}}``. This module reads and writes those files
and converts a message between its ``fields`` and the bytes Asterisk puts on the wire
(``Key: value\\r\\n`` per header, a blank line after the message, UTF-8). It has no I/O beyond
files: the replay server and the recorder build on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, TypeAlias

__all__ = [
    "Direction",
    "FieldValue",
    "Fields",
    "MessageSplitter",
    "TraceError",
    "TraceLine",
    "TraceWriter",
    "base_epoch",
    "encode_message",
    "first_value",
    "parse_message",
    "read_trace",
]

Direction: TypeAlias = Literal["action", "response", "event"]
FieldValue: TypeAlias = str | list[str]
Fields: TypeAlias = dict[str, FieldValue]

_DIRECTIONS: frozenset[str] = frozenset({"action", "response", "event"})
_EOL = "\r\n"
_END = b"\r\n\r\n"


class TraceError(ValueError):
    """A trace file is not what it should be; the message names ``file:line``."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One AMI message of a trace, ``t`` seconds after the connection opened."""

    t: float
    dir: Direction
    fields: Fields

    def get(self, key: str, default: str = "") -> str:
        """Return the (first) value of header *key*, or *default* if the message lacks it."""
        return first_value(self.fields, key, default)

    @property
    def name(self) -> str:
        """The event's, action's or response's name (``Newchannel``, ``Login``, ``Success``)."""
        key = {"event": "Event", "action": "Action", "response": "Response"}[self.dir]
        return self.get(key)

    def to_json(self) -> str:
        """Serialise as one trace line (no newline), in the shape of the shared traces."""
        return json.dumps({"t": round(self.t, 6), "dir": self.dir, "fields": self.fields}, ensure_ascii=False)


def first_value(fields: Mapping[str, FieldValue], key: str, default: str = "") -> str:
    """Return the value of *key*; the first one if the key was repeated."""
    value = fields.get(key)
    if value is None:
        return default
    if isinstance(value, list):
        return value[0] if value else default
    return value


def _check_line(path: Path, number: int, text: str) -> TraceLine:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(path, number, f"invalid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(raw, dict):
        raise TraceError(path, number, f"expected a JSON object, got {type(raw).__name__}")
    missing = [key for key in ("t", "dir", "fields") if key not in raw]
    if missing:
        raise TraceError(path, number, f"missing key(s): {', '.join(missing)}")
    t, direction, fields = raw["t"], raw["dir"], raw["fields"]
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise TraceError(path, number, f"'t' must be a number of seconds, got {t!r}")
    if direction not in _DIRECTIONS:
        raise TraceError(path, number, f"'dir' must be action, response or event, got {direction!r}")
    if not isinstance(fields, dict) or not fields:
        raise TraceError(path, number, "'fields' must be a non-empty object")
    for key, value in fields.items():
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        )
        if not ok:
            raise TraceError(path, number, f"field {key!r} must be a string or a list of strings")
    return TraceLine(t=float(t), dir=direction, fields=fields)


def read_trace(path: str | Path) -> list[TraceLine]:
    """Read a JSON Lines trace; blank lines are skipped, anything malformed raises `TraceError`."""
    path = Path(path)
    lines: list[TraceLine] = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                lines.append(_check_line(path, number, text))
    return lines


class TraceWriter:
    """Write trace lines to a file, one flushed JSON line per message.

    The file is truncated on open unless *append* is true. Use it as a context manager.
    """

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self.count = 0
        self._handle: IO[str] = self.path.open("a" if append else "w", encoding="utf-8", newline="\n")

    def write(self, line: TraceLine) -> None:
        """Append one message."""
        self._handle.write(line.to_json() + "\n")
        self._handle.flush()
        self.count += 1

    def add(self, t: float, direction: Direction, fields: Fields) -> TraceLine:
        """Build a `TraceLine` from its parts, append it and return it."""
        line = TraceLine(t=t, dir=direction, fields=fields)
        self.write(line)
        return line

    def close(self) -> None:
        """Close the file; writing afterwards raises ``ValueError``."""
        self._handle.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def encode_message(fields: Mapping[str, str | Sequence[str]]) -> bytes:
    """Encode a message as AMI sends it: ``Key: value\\r\\n`` per header, then ``\\r\\n``.

    A list value repeats the key (``Variable: a=1``, ``Variable: b=2``); an empty value is kept as
    ``Key: `` because Asterisk sends it that way. CR or LF inside a key or value would end the
    message early, so they raise ``ValueError``.
    """
    parts: list[str] = []
    for key, value in fields.items():
        values: Iterable[str] = [value] if isinstance(value, str) else value
        for item in values:
            if "\r" in key or "\n" in key or "\r" in item or "\n" in item or ":" in key:
                raise ValueError(f"header {key!r} cannot be encoded on one AMI line: {item!r}")
            parts.append(f"{key}: {item}{_EOL}")
    parts.append(_EOL)
    return "".join(parts).encode("utf-8")


def parse_message(data: bytes | str) -> Fields:
    """Parse one AMI message (without its blank line) into ordered fields.

    Bytes are decoded as UTF-8 with replacement characters, so nothing is silently dropped. Each
    line is split at its first ``:``; one space after it is removed, an empty value stays ``""``,
    a repeated key becomes a list. A line without ``:`` (``--END COMMAND--``) becomes a key with an
    empty value.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    fields: Fields = {}
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if not line:
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        previous = fields.get(key)
        if previous is None:
            fields[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            fields[key] = [previous, value]
    return fields


class MessageSplitter:
    """Cut an AMI byte stream into whole messages at blank lines, whatever the TCP reads were.

    Splitting happens on bytes, before decoding, so a UTF-8 character cut by a TCP read is
    decoded whole once the rest of its message arrives.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add *data*; return the messages it completed, without their terminating blank line."""
        self._buffer += data
        messages: list[bytes] = []
        start = 0
        while True:
            end = self._buffer.find(_END, start)
            if end < 0:
                break
            message = bytes(self._buffer[start:end]).strip(b"\r\n")
            if message:
                messages.append(message)
            start = end + len(_END)
        del self._buffer[:start]
        return messages

    @property
    def pending(self) -> bytes:
        """Bytes received after the last complete message."""
        return bytes(self._buffer)


def _parse_event_tv(value: str) -> float | None:
    # Asterisk's EventTV/SessionTV: "2026-11-27T03:48:08.745+0000".
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern).timestamp()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def base_epoch(lines: Sequence[TraceLine]) -> float | None:
    """Return the wall-clock epoch of the trace's ``t = 0``, or None if the trace never tells.

    Taken from the first event with an ``EventTV`` (security events such as the AMI login's
    SuccessfulAuth), else from the first ``Uniqueid`` (``epoch.sequence``, whole seconds only).
    """
    for line in lines:
        if line.dir == "event" and "EventTV" in line.fields:
            epoch = _parse_event_tv(line.get("EventTV"))
            if epoch is not None:
                return epoch - line.t
    for line in lines:
        seconds, _, _ = line.get("Uniqueid").partition(".")
        if seconds.isdigit():
            return int(seconds) - line.t
    return None
