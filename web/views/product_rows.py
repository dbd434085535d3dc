"""Product rows as the deal and lead forms post them: ``rows-N-field`` fields, one set per row.

The rows editor (``templates/sales/_rows_editor.html`` with ``static/rows_editor.js``) posts, for
each row N: ``product_id``, ``name``, ``unit``, ``quantity``, ``price``, ``discount_type``,
``discount_value``, ``tax_rate`` and ``tax_included``. A row with neither a product nor a name is
an empty row and is left out. Numbers may be typed in either language (``1 234,50``). An empty VAT
rate means the product's rate on a catalogue row and no VAT on a row typed by hand; an empty price
means the product's price. The totals the page shows are the script's estimate; the service
recomputes them exactly (``crm_core.sales.rows``), and the page shown after saving has its figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import Invalid
from crm_core.rights import Forbidden, Principal
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import ProductOut, RowIn

from ..i18n import N_, error_message, gettext

__all__ = ["ROW_FIELDS", "ParsedRows", "catalogue", "parse_rows", "row_problems", "rows_of", "typed_rows"]

ROW_FIELDS = (
    "product_id",
    "name",
    "unit",
    "quantity",
    "price",
    "discount_type",
    "discount_value",
    "tax_rate",
    "tax_included",
)
_KEY = re.compile(r"^rows-(\d{1,4})-(\w+)$")
_MESSAGES: Mapping[str, str] = {
    "decimal_parsing": N_("Write a number, e.g. 1500.50"),
    "decimal_max_places": N_("Too many decimal places"),
    "decimal_max_digits": N_("This number is too big"),
    "greater_than": N_("Write a number above 0"),
    "greater_than_equal": N_("Write a number of 0 or more"),
    "less_than_equal": N_("A percentage is at most 100"),
    "string_too_long": N_("This is too long"),
    "enum": N_("Choose one from the list"),
}
"Pydantic's error types in words for people (its own messages are for API clients)."


@dataclass
class ParsedRows:
    """The rows as the service takes them, as they were typed (to show again), and their problems."""

    rows: list[RowIn] = field(default_factory=list)
    typed: list[dict[str, str]] = field(default_factory=list)
    "One dict per non-empty row, in the posted order: field -> the text typed."
    problems: dict[str, str] = field(default_factory=dict)
    "``rows-2-price`` -> the problem, in the user's language; the index counts non-empty rows."


def _number(text: str) -> Decimal | str:
    """A decimal typed in either language; the text itself when it is not one (pydantic names it)."""
    cleaned = text.replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return text


def typed_rows(form: Mapping[str, Any]) -> list[dict[str, str]]:
    """The posted rows in their N order, empty rows left out, every field as text."""
    found: dict[int, dict[str, str]] = {}
    for key in form:
        match = _KEY.match(key)
        if match and match.group(2) in ROW_FIELDS:
            value = form.get(key, "")
            found.setdefault(int(match.group(1)), {})[match.group(2)] = str(value).strip()[:300]
    rows = []
    for index in sorted(found):
        row = {name: found[index].get(name, "") for name in ROW_FIELDS}
        if row["product_id"] or row["name"]:
            rows.append(row)
    return rows


def _row_in(typed: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "quantity": _number(typed["quantity"]) if typed["quantity"] else Decimal(1),
        "discount_type": typed["discount_type"] or "none",
        "discount_value": _number(typed["discount_value"]) if typed["discount_value"] else Decimal(0),
        "tax_included": typed["tax_included"] != "0",
    }
    if typed["product_id"]:
        data["product_id"] = typed["product_id"]
    for name in ("name", "unit"):
        if typed[name]:
            data[name] = typed[name]
    if typed["price"]:
        data["price"] = _number(typed["price"])
    if typed["tax_rate"]:
        data["tax_rate"] = _number(typed["tax_rate"])
    elif not typed["product_id"]:
        data["tax_rate"] = None
    if data["discount_type"] == "none":
        data["discount_value"] = Decimal(0)
    return data


def parse_rows(form: Mapping[str, Any]) -> ParsedRows:
    """Read the posted rows; each bad value is a problem named ``rows-I-field``."""
    parsed = ParsedRows(typed=typed_rows(form))
    for index, typed in enumerate(parsed.typed):
        try:
            parsed.rows.append(RowIn.model_validate(_row_in(typed)))
        except ValidationError as exc:
            for item in exc.errors():
                name = str(item["loc"][0]) if item["loc"] else "name"
                message = _MESSAGES.get(item["type"])
                parsed.problems.setdefault(
                    f"rows-{index}-{name}", gettext(message) if message else item["msg"]
                )
    return parsed


def row_problems(error: Invalid) -> dict[str, str]:
    """A service's refusal of a row (``rows[1].price``) as the editor's field (``rows-1-price``)."""
    match = re.match(r"^rows\[(\d+)\]\.(\w+)", error.field)
    if match is None:
        return {}
    return {f"rows-{match.group(1)}-{match.group(2)}": error_message(error)}


def _plain(value: Any) -> str:
    """``2.000`` as ``2`` and ``1000.5000`` as ``1000.5``: what a person would type."""
    text = str(value)
    if isinstance(value, Decimal) and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def rows_of(rows: Sequence[Any] | None) -> list[dict[str, str]]:
    """Saved rows (``RowOut`` or their dicts) as the editor shows them."""
    shown = []
    for row in rows or []:
        get = row.get if isinstance(row, Mapping) else lambda name, row=row: getattr(row, name, None)
        value = {name: get(name) for name in ROW_FIELDS}
        shown.append(
            {
                name: (
                    ""
                    if value[name] is None
                    else ("1" if value[name] else "0")
                    if name == "tax_included"
                    else _plain(getattr(value[name], "value", value[name]))
                )
                for name in ROW_FIELDS
            }
        )
    return shown


async def catalogue(session: AsyncSession, principal: Principal) -> list[ProductOut]:
    """The active products a row may be taken from (none when the user may not read the catalogue)."""
    try:
        page = await ProductsResource().list(
            session, principal, ListQuery(filters={"active": "true"}, sort=["sort", "name"], limit=MAX_LIMIT)
        )
    except Forbidden:
        return []
    return page.items
