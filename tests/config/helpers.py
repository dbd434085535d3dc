"""Run a dialplan text through the whole pipeline and get its issues as printed lines."""

from __future__ import annotations

from textwrap import dedent

from config.dialplan import DialplanError, parse_dialplan

__all__ = ["issues"]


def issues(text: str, *, path: str = "t.yaml") -> list[str]:
    """Every issue :func:`parse_dialplan` reports for *text*, errors first, printed as check prints them."""
    try:
        _spec, warnings = parse_dialplan(dedent(text), path=path)
    except DialplanError as exc:
        return [str(issue) for issue in exc.issues]
    return [str(warning) for warning in warnings]
