"""SDP offer/answer (RFC 3264) for what the PBX speaks: one audio stream, G.711 and RFC 4733.

Both legs of a call end at our relay, so every SDP we send names our own address and relay
port; what we read from a phone is only a hint: the relay latches to where its packets really
come from (a phone behind NAT, or baresip announcing its external address).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

__all__ = ["AUDIO_CODECS", "Sdp", "SdpError", "build_sdp", "parse_sdp"]

AUDIO_CODECS = {0: "PCMU", 8: "PCMA"}
"Static payload types we relay; anything else in an offer is ignored."
_SESSION_IDS = itertools.count(int(time.time()))


class SdpError(ValueError):
    """The body is not an SDP audio offer or answer we can use (the call gets 488)."""


@dataclass(frozen=True, slots=True)
class Sdp:
    host: str
    "The connection address (c=), as announced (maybe private, maybe wrong)."
    port: int
    "The audio port; 0 means the stream is refused."
    payloads: tuple[int, ...]
    "Audio payload types in the sender's order of preference."
    dtmf_pt: int | None
    "The telephone-event payload type, if offered."
    direction: str = "sendrecv"
    "sendrecv, sendonly, recvonly or inactive: a phone puts a call on hold with sendonly/inactive."

    @property
    def codecs(self) -> tuple[int, ...]:
        """The payloads we can relay, in the sender's order."""
        return tuple(pt for pt in self.payloads if pt in AUDIO_CODECS)

    @property
    def on_hold(self) -> bool:
        return self.direction in ("sendonly", "inactive") or self.host in ("0.0.0.0", "")  # noqa: S104


def parse_sdp(body: bytes) -> Sdp:
    """Read the first audio stream of *body*; raise :class:`SdpError` if there is none."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    session_host = media_host = ""
    port: int | None = None
    payloads: tuple[int, ...] = ()
    dtmf_pt: int | None = None
    direction = "sendrecv"
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            continue
        if kind == "m":
            if port is not None:  # only the first audio stream counts
                in_audio = False
                if value.startswith("audio"):
                    break
                continue
            in_audio = value.startswith("audio ")
            if in_audio:
                port, payloads = _media(value)
        elif kind == "c":
            address = value.split()
            if len(address) == 3 and address[0] == "IN":
                if in_audio:
                    media_host = address[2]
                elif port is None:
                    session_host = address[2]
        elif kind == "a" and (in_audio or port is None):
            if value.startswith("rtpmap:") and "telephone-event" in value.lower():
                pt = value[7:].split()[0]
                if pt.isdigit():
                    dtmf_pt = int(pt)
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                direction = value
    if port is None:
        raise SdpError("no audio stream in the SDP")
    host = media_host or session_host
    if not host:
        raise SdpError("no connection address in the SDP")
    return Sdp(host=host, port=port, payloads=payloads, dtmf_pt=dtmf_pt, direction=direction)


def _media(value: str) -> tuple[int, tuple[int, ...]]:
    parts = value.split()
    if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
        raise SdpError(f"not an audio media line: {value[:60]!r}")
    port = int(parts[1].split("/")[0])
    if port > 65535:
        raise SdpError(f"audio port {port} is out of range")
    return port, tuple(int(pt) for pt in parts[3:] if pt.isdigit() and int(pt) < 128)


def build_sdp(
    host: str,
    port: int,
    codecs: tuple[int, ...],
    dtmf_pt: int | None = 101,
    *,
    direction: str = "sendrecv",
) -> bytes:
    """Our SDP: one audio stream at *host*:*port* with *codecs* (and telephone-event)."""
    session = next(_SESSION_IDS)
    payloads = list(codecs) + ([dtmf_pt] if dtmf_pt is not None else [])
    lines = [
        "v=0",
        f"o=cti {session} {session} IN IP4 {host}",
        "s=cti",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in payloads)}",
    ]
    lines.extend(f"a=rtpmap:{pt} {AUDIO_CODECS[pt]}/8000" for pt in codecs)
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
