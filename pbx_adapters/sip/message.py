"""SIP messages (RFC 3261 §7): parse and serialize, with hard limits for hostile input.

Our own parser rather than a library's: a B2BUA ends every dialog itself, so it needs the start
line, the headers it routes on and the body, nothing of a proxy's header algebra. Every limit is
checked before work is spent on the input; anything malformed raises :class:`BadMessage`, which
says whether enough was read to answer with 400 (a request with Via, From, To, Call-ID and CSeq)
or whether the datagram must simply be dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .address import BadMessage, NameAddr, SipUri, Via, split_outside_quotes, split_params

__all__ = [
    "MAX_HEADERS",
    "MAX_MESSAGE_BYTES",
    "BadMessage",
    "NameAddr",
    "SipMessage",
    "SipUri",
    "Via",
    "frame_length",
    "parse_message",
    "response_to",
    "split_params",
    "strip_keepalives",
]

MAX_MESSAGE_BYTES = 65_535
"Largest message accepted on any transport (a UDP datagram's limit)."
MAX_HEADERS = 100
"More header lines than any real phone sends; more is an attack or a bug."
MAX_LINE = 4096
SIP_VERSION = "SIP/2.0"

_COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "r": "Refer-To",
    "b": "Referred-By",
    "o": "Event",
    "u": "Allow-Events",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Accept",
        "Allow",
        "Allow-Events",
        "Authorization",
        "Call-ID",
        "Contact",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Event",
        "Expires",
        "From",
        "Max-Forwards",
        "Min-Expires",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Record-Route",
        "Refer-To",
        "Referred-By",
        "Replaces",
        "Require",
        "Route",
        "Server",
        "Subscription-State",
        "Supported",
        "To",
        "User-Agent",
        "Via",
        "WWW-Authenticate",
    )
}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_MULTI_VALUE = {"Via", "Contact", "Route", "Record-Route", "Allow", "Supported", "Require"}
"Headers whose comma-separated values are separate entries (split outside quotes and <>)."


def _canonical(name: str) -> str:
    lowered = name.lower()
    if lowered in _COMPACT:
        return _COMPACT[lowered]
    return _CANONICAL.get(lowered, name)


@dataclass(slots=True)
class SipMessage:
    """A request (``method`` and ``uri`` set) or a response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def header(self, name: str) -> str:
        """The first value of header *name* ('' when absent)."""
        name = _canonical(name)
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def header_values(self, name: str) -> list[str]:
        """Every value of *name*, comma-separated lists split into entries."""
        name = _canonical(name)
        values = [value for key, value in self.headers if key == name]
        if name in _MULTI_VALUE:
            return [part.strip() for value in values for part in split_outside_quotes(value, ",") if part]
        return values

    def set(self, name: str, value: str) -> None:
        """Replace every *name* header with one *value* (or append it)."""
        name = _canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        entry = (_canonical(name), value)
        if first:
            self.headers.insert(0, entry)
        else:
            self.headers.append(entry)

    def remove(self, name: str) -> None:
        name = _canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]

    @property
    def call_id(self) -> str:
        return self.header("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.header("CSeq").partition(" ")
        return int(number), method.strip()

    @property
    def via(self) -> Via:
        return Via.parse(self.header_values("Via")[0])

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.header("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.header("To"))

    def encode(self) -> bytes:
        start = (
            f"{self.method} {self.uri} {SIP_VERSION}"
            if self.is_request
            else (f"{SIP_VERSION} {self.status} {self.reason}")
        )
        lines = [start]
        lines.extend(f"{k}: {v}" for k, v in self.headers if k != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def __str__(self) -> str:  # for logs: the start line only, never credentials or bodies
        return f"{self.method} {self.uri}" if self.is_request else f"{self.status} {self.reason}"


def parse_message(data: bytes) -> SipMessage:
    """Parse one whole message (a datagram, or a frame cut by :func:`frame_length`)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            raise BadMessage("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("headers are not UTF-8") from None
    lines = _unfold(text.replace("\r\n", "\n").split("\n"))
    msg = _start_line(lines[0])
    if len(lines) - 1 > MAX_HEADERS:
        raise BadMessage(f"more than {MAX_HEADERS} header lines")
    problem = ""
    for line in lines[1:]:  # a bad line is skipped, so the rest can still address a 400
        name, colon, value = line.partition(":")
        name = name.strip()
        if len(line) > MAX_LINE:
            problem = problem or f"header line longer than {MAX_LINE} characters"
        elif not colon or not _TOKEN.match(name):
            problem = problem or f"not a header line: {line[:60]!r}"
        else:
            msg.headers.append((_canonical(name), value.strip()))
    if problem:
        raise BadMessage(problem, partial=msg)
    _check_body(msg, body)
    _check_mandatory(msg)
    return msg


def _unfold(lines: list[str]) -> list[str]:
    """Join continuation lines (leading space or tab) to the header before them."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and len(out) > 1:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def _start_line(line: str) -> SipMessage:
    if len(line) > MAX_LINE:
        raise BadMessage("start line too long")
    parts = line.split(" ", 2)
    if len(parts) != 3:
        raise BadMessage(f"not a start line: {line[:60]!r}")
    if parts[0] == SIP_VERSION:
        if not (parts[1].isdigit() and len(parts[1]) == 3 and 100 <= int(parts[1]) <= 699):
            raise BadMessage(f"not a status code: {parts[1][:10]!r}")
        return SipMessage(status=int(parts[1]), reason=parts[2].strip())
    method, uri, version = parts
    if version.strip() != SIP_VERSION or not _TOKEN.match(method):
        raise BadMessage(f"not a SIP/2.0 request line: {line[:60]!r}")
    return SipMessage(method=method.upper(), uri=uri)


def _check_body(msg: SipMessage, body: bytes) -> None:
    length_text = msg.header("Content-Length")
    if length_text:
        if not length_text.isdigit():
            raise BadMessage(f"Content-Length is not a number: {length_text[:20]!r}", partial=msg)
        length = int(length_text)
        if length > len(body):
            raise BadMessage(f"body shorter ({len(body)}) than Content-Length {length}", partial=msg)
        body = body[:length]
    msg.body = body


def _check_mandatory(msg: SipMessage) -> None:
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if not msg.header(name):
            raise BadMessage(f"missing {name} header", partial=msg)
    number, _, method = msg.header("CSeq").partition(" ")
    if not number.isdigit() or len(number) > 10 or not method.strip():
        raise BadMessage(f"bad CSeq: {msg.header('CSeq')[:40]!r}", partial=msg)
    if msg.is_request and method.strip().upper() != msg.method:
        raise BadMessage("CSeq method differs from the request's", partial=msg)
    try:
        msg.via  # noqa: B018 - parse to validate
        msg.from_  # noqa: B018
        msg.to  # noqa: B018
        if msg.is_request:
            SipUri.parse(msg.uri)
    except BadMessage as exc:
        raise BadMessage(exc.reason, partial=msg) from None


def frame_length(buffer: bytes | bytearray) -> int | None:
    """On a stream: the length of the first whole message in *buffer*, or None if incomplete.

    Raises :class:`BadMessage` when the head grows past the limit without an end, or when the
    Content-Length is missing or absurd (a stream cannot be re-synchronised after that).
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise BadMessage("no end of headers within the size limit")
        return None
    match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*\r?$", bytes(buffer[:end]))
    if match is None:
        raise BadMessage("a message on a stream needs Content-Length")
    total = end + 4 + int(match.group(1))
    if total > MAX_MESSAGE_BYTES:
        raise BadMessage(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
    return total if len(buffer) >= total else None


def strip_keepalives(buffer: bytearray) -> None:
    """Drop the CRLF keep-alives (RFC 5626 §4.4.1) a stream may carry between messages."""
    while buffer[:2] == b"\r\n":
        del buffer[:2]


def response_to(request: SipMessage, status: int, reason: str, *, to_tag: str = "") -> SipMessage:
    """A response to *request* with the headers §8.2.6 copies (Via, From, To, Call-ID, CSeq)."""
    msg = SipMessage(status=status, reason=reason)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for key, value in request.headers:
            if key == name:
                if name == "To" and to_tag and "tag=" not in value:
                    value = f"{value};tag={to_tag}"
                msg.headers.append((key, value))
    return msg
