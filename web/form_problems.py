"""A refused form, said in the user's language: each problem names its field, then what is wrong.

pydantic explains a refusal in English (``String should have at most 200 characters``); the pages
show their own words instead, chosen by the kind of problem (pydantic's ``type``) and the field's
label, e.g. "Number: digits only, with an optional + * or #, up to 32". A field the form does not
know is named as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from . import i18n
from .i18n import N_

__all__ = ["DIALLABLE", "describe"]

DIALLABLE = N_("digits only, with an optional + * or #, up to 32")
"What a number or extension to dial must look like (the validators' own ValueError says it in English)."

_PROBLEMS: Mapping[str, str] = {
    "missing": N_("is required"),
    "extra_forbidden": N_("is not a field of this form"),
    "string_type": N_("must be text"),
    "string_too_short": N_("must not be empty"),
    "string_too_long": N_("at most %(max_length)s characters"),
    "string_pattern_mismatch": N_("letters, digits, - and _ only, up to 40"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "literal_error": N_("must be one of: %(expected)s"),
    "value_error": DIALLABLE,
}
_INVALID = N_("is not valid")


def describe(exc: ValidationError, labels: Mapping[str, str]) -> dict[str, str]:
    """Each refused field (its name as sent) -> "Label: problem" in the request's language.

    *labels* maps field names to their ``N_()`` labels. A body that is no JSON object at all is
    reported under ``body``.
    """
    problems: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        if not field:
            problems["body"] = i18n.gettext("The request body must be a JSON object")
            continue
        label = labels.get(field)
        name = i18n.gettext(label) if label is not None else field
        problems[field] = i18n.gettext(
            "%(field)s: %(problem)s", field=name, problem=_problem(error["type"], error.get("ctx") or {})
        )
    return problems


def _problem(kind: str, ctx: Mapping[str, Any]) -> str:
    template = _PROBLEMS.get(kind, _INVALID)
    values = {"max_length": ctx.get("max_length", ""), "expected": ctx.get("expected", "")}
    if kind == "literal_error":
        values["expected"] = str(values["expected"]).replace("'", "").replace(" or ", ", ")
    return i18n.gettext(template, **values)
