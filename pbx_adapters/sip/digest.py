"""HTTP digest for SIP (RFC 2617 / RFC 3261 §22): MD5, qop=auth, both sides.

Server side: only HA1 = MD5(user:realm:secret) is kept, never the secret. Nonces are stateless
(a timestamp signed with a per-process key), so a flood of unauthenticated requests costs no
memory; a nonce older than :data:`NONCE_LIFETIME` gets ``stale=true`` and the phone retries
without asking its user. Client side (the trunk): answer a 401/407 challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NONCE_LIFETIME", "Challenge", "DigestServer", "answer_challenge", "ha1", "parse_auth"]

NONCE_LIFETIME = 300.0


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(user: str, realm: str, secret: str) -> str:
    """What the registrar stores for a phone: MD5(user:realm:secret)."""
    return _md5(f"{user}:{realm}:{secret}")


def parse_auth(value: str) -> dict[str, str]:
    """``Digest username="x", realm="y", ...`` -> {username: x, realm: y, ...}."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    out: dict[str, str] = {}
    for part in _split_commas(rest):
        key, eq, raw = part.strip().partition("=")
        if eq:
            out[key.strip().lower()] = raw.strip().strip('"')
    return out


def _split_commas(text: str) -> list[str]:
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True, slots=True)
class Challenge:
    header: str
    "The WWW-Authenticate / Proxy-Authenticate value to send."


class DigestServer:
    """Issue challenges and check answers for one realm."""

    def __init__(self, realm: str, *, clock: Callable[[], float] = time.time) -> None:
        self.realm = realm
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def nonce(self) -> str:
        stamp = str(int(self._clock() * 1000))  # milliseconds, floored: never in the future
        return f"{stamp}-{self._sign(stamp)}"

    def challenge(self, *, stale: bool = False) -> Challenge:
        stale_param = ", stale=true" if stale else ""
        return Challenge(
            f'Digest realm="{self.realm}", nonce="{self.nonce()}", algorithm=MD5, qop="auth"{stale_param}'
        )

    def check(self, method: str, fields: dict[str, str], stored_ha1: str) -> str:
        """``ok``, ``stale`` (valid answer, old nonce: challenge again) or ``wrong``."""
        nonce = fields.get("nonce", "")
        stamp, _, signature = nonce.partition("-")
        if not hmac.compare_digest(signature, self._sign(stamp)) or fields.get("realm") != self.realm:
            return "stale"  # not our nonce (e.g. from before a restart): ask again, not a failure
        ha2 = _md5(f"{method}:{fields.get('uri', '')}")
        qop = fields.get("qop", "")
        if qop == "auth":
            expected = _md5(
                f"{stored_ha1}:{nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}"
            )
        elif not qop:
            expected = _md5(f"{stored_ha1}:{nonce}:{ha2}")
        else:
            return "wrong"
        if not hmac.compare_digest(expected, fields.get("response", "").lower()):
            return "wrong"
        if not stamp.isdigit():
            return "stale"
        age = self._clock() - int(stamp) / 1000
        return "ok" if 0 <= age <= NONCE_LIFETIME else "stale"


def answer_challenge(header: str, *, method: str, uri: str, username: str, secret: str, nc: int = 1) -> str:
    """The Authorization value answering the challenge in *header* (client side, the trunk)."""
    fields = parse_auth(header)
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
    key = ha1(username, realm, secret)
    ha2 = _md5(f"{method}:{uri}")
    parts = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        "algorithm=MD5",
    ]
    if "auth" in [q.strip() for q in fields.get("qop", "").split(",")]:
        cnonce = secrets.token_hex(8)
        count = f"{nc:08x}"
        response = _md5(f"{key}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        parts += [f'response="{response}"', "qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
    else:
        parts.append(f'response="{_md5(f"{key}:{nonce}:{ha2}")}"')
    if "opaque" in fields:
        parts.append(f'opaque="{fields["opaque"]}"')
    return "Digest " + ", ".join(parts)
