"""Phone numbers: E.164 normalisation with an extension part kept aside (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

__all__ = ["NormalisedNumber", "normalise", "to_e164"]


@dataclass(frozen=True, slots=True)
class NormalisedNumber:
    raw: str
    e164: str | None
    "None when the text is not a possible phone number in the default region."
    extension: str | None = None


@lru_cache(maxsize=65_536)
def normalise(raw: str, region: str = "RU") -> NormalisedNumber:
    """Parse *raw* as written by a person or a PBX: ``8 (916) 123-45-67``, ``+7 495 111-22-33 доб. 12``."""
    text = raw.strip()
    if not text:
        return NormalisedNumber(raw=raw, e164=None)
    try:
        parsed = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return NormalisedNumber(raw=raw, e164=None)
    if not phonenumbers.is_possible_number(parsed):
        return NormalisedNumber(raw=raw, e164=None, extension=parsed.extension or None)
    return NormalisedNumber(
        raw=raw,
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        extension=parsed.extension or None,
    )


def to_e164(raw: str, region: str = "RU") -> str | None:
    return normalise(raw, region).e164
