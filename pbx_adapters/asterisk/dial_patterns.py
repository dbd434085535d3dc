"""Outbound route regexes as Asterisk sees numbers: extension patterns and POSIX REGEX().

An exact Asterisk pattern (``^8\\d{10}$`` -> ``_8XXXXXXXXXX``) lets Asterisk route the number
directly; a regex with no exact pattern form is checked at call time with ``REGEX()``, which takes
POSIX extended syntax, so Python's regex is translated (or refused with a clear reason).
"""

from __future__ import annotations

import math
import re
from itertools import product

__all__ = ["MAX_PATTERNS", "RenderError", "asterisk_patterns", "posix_regex"]

MAX_PATTERNS = 16
"A regex that would need more Asterisk patterns than this gets a REGEX() check instead."


class RenderError(ValueError):
    """The plan holds something Asterisk's configuration cannot carry (said in words)."""


def _atoms(regex: str) -> list[tuple[str, int, int]] | None:
    """Split a simple regex into (Asterisk character, min, max) runs; None if not that simple."""
    text = regex.removeprefix("^")
    text = text[:-1] if text.endswith("$") and not text.endswith("\\$") else text
    atoms: list[tuple[str, int, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() or char == "#":
            atom, i = char, i + 1
        elif text.startswith("\\d", i):
            atom, i = "X", i + 2
        elif char == "\\" and text[i + 1 : i + 2] in ("+", "*", "#"):
            atom, i = text[i + 1], i + 2
        elif char == "[":
            end = text.find("]", i)
            digits = _class_digits(text[i + 1 : end]) if end > 0 else None
            if digits is None:
                return None
            atom, i = _digit_class(digits), end + 1
        else:
            return None
        low = high = 1
        quantifier = re.match(r"\{(\d+)(,(\d+))?\}|\?", text[i:])
        if quantifier is not None:
            if quantifier.group(0) == "?":
                low = 0
            else:
                low = int(quantifier.group(1))
                high = int(quantifier.group(3)) if quantifier.group(2) else low
            i += len(quantifier.group(0))
        elif text[i : i + 1] in ("+", "*"):
            return None  # unbounded: Asterisk's '.' and '!' also match * and #, so not exact
        atoms.append((atom, low, high))
    return atoms


def _class_digits(body: str) -> set[str] | None:
    body = body.replace("\\d", "0-9")
    if not re.fullmatch(r"(\d(-\d)?)+", body):
        return None
    digits: set[str] = set()
    for first, _dash, last in re.findall(r"(\d)(-(\d))?", body):
        digits.update(str(d) for d in range(int(first), int(last or first) + 1))
    return digits


def _digit_class(digits: set[str]) -> str:
    ordered = "".join(sorted(digits))
    named = {"0123456789": "X", "123456789": "Z", "23456789": "N"}
    return named.get(ordered) or (ordered if len(ordered) == 1 else f"[{ordered}]")


def asterisk_patterns(regex: str) -> tuple[str, ...] | None:
    """Asterisk extension patterns matching exactly what *regex* matches whole; None if none can.

    ``^8\\d{10}$`` -> ``_8XXXXXXXXXX``; ``^\\d{2,3}$`` -> ``_XX``, ``_XXX``. Alternation, groups and
    unbounded repetition have no exact Asterisk form.
    """
    atoms = _atoms(regex)
    if atoms is None:
        return None
    ranges = [range(low, high + 1) for _atom, low, high in atoms]
    if math.prod(len(span) for span in ranges) > MAX_PATTERNS:
        return None
    out: list[str] = []
    for choice in product(*ranges):
        body = "".join(atom * n for (atom, _low, _high), n in zip(atoms, choice, strict=True))
        if body:
            out.append(body if re.fullmatch(r"[0-9*#+]+", body) else f"_{body}")
    return tuple(dict.fromkeys(out))


def posix_regex(regex: str) -> str:
    """*regex* (Python syntax, matched whole) as the POSIX ERE that Asterisk's ``REGEX()`` takes."""
    if re.search(r'["\';\s]|\$\{|\$\[|\(\?(?!:)', regex):
        raise RenderError(f"outbound pattern {regex!r}: Asterisk's REGEX() cannot take it")
    if re.search(r"(?<!\\)[*+?}]\?", regex):
        # POSIX has no lazy quantifiers: `\d{10}?` would read as "optionally ten digits" (wider).
        raise RenderError(f"outbound pattern {regex!r}: a lazy quantifier has no POSIX form (drop the ?)")
    out: list[str] = []
    in_class = False
    for piece in re.findall(r"\\.|\(\?:|.", regex):
        if piece == "\\d":
            out.append("0-9" if in_class else "[0-9]")
        elif piece.startswith("\\") and piece[1] not in "+*#.()[]{}?|^$\\-":
            raise RenderError(f"outbound pattern {regex!r}: {piece} has no POSIX form")
        elif piece == "(?:":
            out.append("(")
        else:
            in_class = piece == "[" or (in_class and piece != "]")
            out.append(piece)
    body = "".join(out).removeprefix("^")
    body = body[:-1] if body.endswith("$") and not body.endswith("\\$") else body
    return f"^({body})$"
