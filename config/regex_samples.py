"""Numbers a regular expression matches: a small sampler over Python's own regex parser.

The dialplan checks compare outbound routes by the numbers both patterns accept, so they need
concrete numbers from each pattern: :func:`sample_numbers` walks the parsed pattern and generates
its shortest and longest forms, then seeded random ones (stable from run to run, so the messages
are too), keeping only those the compiled pattern matches whole. Patterns with look-arounds and the
like yield what was generated before the sampler gave up.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any

__all__ = ["sample_numbers"]

_DIALLED = "0123456789+*#"
_SAMPLES = 48
_SPARE_REPEATS = 8
"An unbounded repeat (``\\d+``) is sampled up to this many times over its minimum."


def sample_numbers(patterns: Sequence[str]) -> list[str]:
    """Numbers each pattern matches whole: shortest and longest forms, then seeded random ones."""
    out: list[str] = []
    for pattern in patterns:
        compiled = re.compile(pattern)
        parsed = sre_parser.parse(pattern)
        rng = random.Random(pattern)  # noqa: S311 - samples for a check, not secrets; seeded: stable messages
        for mode in ("min", "max", *["random"] * _SAMPLES):
            try:
                text = _generate(parsed, rng, mode, {})
            except _Unsupported:
                break
            if compiled.fullmatch(text):
                out.append(text)
    return list(dict.fromkeys(out))


class _Unsupported(Exception):
    """The pattern uses something the sampler does not generate (look-arounds and the like)."""


def _generate(items: Any, rng: random.Random, mode: str, groups: dict[int, str]) -> str:
    out = []
    for op, arg in items:
        if op is sre_constants.LITERAL:
            out.append(chr(arg))
        elif op is sre_constants.NOT_LITERAL:
            out.append(rng.choice([c for c in _DIALLED if ord(c) != arg]))
        elif op is sre_constants.ANY:
            out.append(rng.choice("0123456789"))
        elif op is sre_constants.IN:
            out.append(_pick(_charset(arg), rng, mode))
        elif op is sre_constants.BRANCH:
            options = arg[1]
            choice = options[0] if mode == "min" else options[-1] if mode == "max" else rng.choice(options)
            out.append(_generate(choice, rng, mode, groups))
        elif op is sre_constants.SUBPATTERN:
            group, _add, _remove, body = arg
            text = _generate(body, rng, mode, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, _POSSESSIVE_REPEAT):
            low, high, body = arg
            top = low + _SPARE_REPEATS if high is sre_constants.MAXREPEAT else high
            count = low if mode == "min" else top if mode == "max" else rng.randint(low, top)
            out.extend(_generate(body, rng, mode, groups) for _ in range(count))
        elif op is sre_constants.AT:
            continue
        elif op is sre_constants.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is _ATOMIC_GROUP:
            out.append(_generate(arg, rng, mode, groups))
        else:
            raise _Unsupported(str(op))
    return "".join(out)


_POSSESSIVE_REPEAT = getattr(sre_constants, "POSSESSIVE_REPEAT", object())
_ATOMIC_GROUP = getattr(sre_constants, "ATOMIC_GROUP", object())


def _charset(items: Any) -> str:
    chars: set[str] = set()
    negate = False
    for op, arg in items:
        if op is sre_constants.NEGATE:
            negate = True
        elif op is sre_constants.LITERAL:
            chars.add(chr(arg))
        elif op is sre_constants.RANGE:
            chars.update(chr(code) for code in range(arg[0], min(arg[1], 0x7F) + 1))
        elif op is sre_constants.CATEGORY:
            if arg in (sre_constants.CATEGORY_DIGIT, sre_constants.CATEGORY_WORD):
                chars.update("0123456789")
            elif arg is sre_constants.CATEGORY_NOT_DIGIT:
                chars.update("+*#")
    if negate:
        chars = set(_DIALLED) - chars
    dialled = "".join(sorted(chars & set(_DIALLED)))
    return dialled or "".join(sorted(chars))[:1] or "x"


def _pick(chars: str, rng: random.Random, mode: str) -> str:
    if mode == "min":
        return chars[0]
    if mode == "max":
        return chars[-1]
    return rng.choice(chars)
