"""SIP addresses and header values: URIs, name-addrs (From, To, Contact), Via, parameters.

Parsed strictly: a value that is not what RFC 3261 §25 allows raises :class:`BadMessage`, which
the transport turns into a 400 (or a silent drop when nothing can be answered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .message import SipMessage

__all__ = ["BadMessage", "NameAddr", "SipUri", "Via", "split_outside_quotes", "split_params"]


class BadMessage(Exception):
    """The input is not a SIP message we accept; ``answerable`` means a 400 can be sent back."""

    def __init__(self, reason: str, *, partial: SipMessage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial

    @property
    def answerable(self) -> bool:
        msg = self.partial
        if msg is None or not msg.is_request or msg.method == "ACK":
            return False
        return all(msg.header(name) for name in ("Via", "From", "To", "Call-ID", "CSeq"))


def split_params(text: str) -> tuple[str, dict[str, str]]:
    """``value;a=1;b`` -> (``value``, {a: 1, b: ""}), ignoring ``;`` inside quotes."""
    parts = split_outside_quotes(text, ";")
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.strip().partition("=")
        if key:
            params[key.strip().lower()] = value.strip()
    return parts[0].strip(), params


def split_outside_quotes(text: str, sep: str) -> list[str]:
    if '"' not in text and "<" not in text:  # the common case, without a character loop
        return text.split(sep)
    out, current, quoted, angle, escaped = [], [], False, False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        elif char == sep and not quoted and not angle:
            out.append("".join(current))
            current = []
            continue
        current.append(char)
    out.append("".join(current))
    return out


@dataclass(frozen=True, slots=True)
class SipUri:
    """``sip:user@host:port;params`` (sips too); the parts a B2BUA routes on."""

    user: str
    host: str
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips", "tel"):
            raise BadMessage(f"not a SIP URI: {text[:80]!r}")
        rest, _, _headers = rest.partition("?")
        hostpart, params = split_params(rest)
        user, at, hostport = hostpart.rpartition("@")
        if not at:
            user, hostport = "", hostpart
        user = user.partition(":")[0]  # drop a password, never used
        host, port = _host_port(hostport)
        return cls(user=user, host=host, port=port, params=params, scheme=scheme.lower())

    def __str__(self) -> str:
        userinfo = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{self.scheme}:{userinfo}{self.host}{port}{params}"


def _host_port(text: str) -> tuple[str, int | None]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host or not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
        raise BadMessage(f"not a host: {text[:80]!r}")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadMessage(f"not a port: {port_text[:20]!r}")
    return host, int(port_text)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``"Name" <uri>;tag=x`` as in From, To, Contact, Refer-To."""

    uri: SipUri
    display: str = ""
    params: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            display, _, rest = text.partition("<")
            uri_text, close, params_text = rest.partition(">")
            if not close:
                raise BadMessage(f"unclosed <> in {text[:80]!r}")
            _, params = split_params(params_text)
            display = display.strip().strip('"')
        else:
            uri_text, params = split_params(text)
            display = ""
        return cls(uri=SipUri.parse(uri_text), display=display, params=params)

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")

    def __str__(self) -> str:
        display = f'"{_quote(self.display)}" ' if self.display else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{display}<{self.uri}>{params}"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True, slots=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Via:
        value, params = split_params(text)
        protocol, _, sent_by = value.partition(" ")
        parts = protocol.strip().split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP":
            raise BadMessage(f"not a Via: {text[:80]!r}")
        host, port = _host_port(sent_by)
        return cls(transport=parts[2].upper(), host=host, port=port, params=params)

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")
