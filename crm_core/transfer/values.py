"""Cell text -> typed value, the way people write numbers, money, yes/no and e-mails in spreadsheets.

Each parser takes the trimmed, non-empty text of one cell and returns the value or raises
:class:`BadValue` with a reason a person can act on ("'12,5,0' is not a number").
Russian spreadsheets write ``1 234,50`` (a space or a no-break space between thousands, a decimal
comma); Bitrix24 exports write booleans as ``Y``/``N``; both are read here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..models.keys import email_key

__all__ = [
    "BadValue",
    "parse_bool",
    "parse_currency",
    "parse_decimal",
    "parse_email",
    "parse_rate",
    "split_multi",
]

_TRUE = frozenset({"y", "yes", "true", "1", "да", "д", "on", "+"})
_FALSE = frozenset({"n", "no", "false", "0", "нет", "н", "off", "-"})
_NO_VAT = frozenset({"без ндс", "no vat", "none", "нет", "-"})
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_MULTI = re.compile(r"[;,\n]")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_CURRENCY_NAMES = {"руб": "RUB", "руб.": "RUB", "р.": "RUB", "₽": "RUB", "$": "USD", "€": "EUR"}


class BadValue(ValueError):
    """A cell's text is not a value of the field's kind; ``str()`` is the reason."""


def parse_decimal(text: str, *, places: int, minimum: Decimal | None = Decimal(0)) -> Decimal:
    """``"1 234,50"`` -> ``Decimal("1234.50")``; at most *places* decimal places, never below *minimum*."""
    compact = _SPACES.sub("", text)
    if "," in compact and "." in compact:
        # Whichever comes last is the decimal separator; the other groups thousands.
        thousands = "," if compact.rfind(".") > compact.rfind(",") else "."
        compact = compact.replace(thousands, "")
    compact = compact.replace(",", ".")
    try:
        value = Decimal(compact)
    except InvalidOperation:
        raise BadValue(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise BadValue(f"{text!r} is not a number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        value = value.normalize()
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise BadValue(f"{text!r} has more than {places} decimal places")
    if minimum is not None and value < minimum:
        raise BadValue(f"{text!r} is below {minimum}")
    return value.quantize(Decimal(1).scaleb(-places))


def parse_rate(text: str) -> Decimal | None:
    """A VAT rate: ``"20"``, ``"20%"``, ``"10,5 %"``; ``"без НДС"`` means no VAT (None)."""
    if text.casefold() in _NO_VAT:
        return None
    value = parse_decimal(text.rstrip("%").strip(), places=4)
    if value > 100:
        raise BadValue(f"{text!r} is not a rate between 0 and 100 %")
    return value


def parse_bool(text: str) -> bool:
    """Yes/no in the spellings spreadsheets use: Y/N, yes/no, true/false, 1/0, да/нет."""
    folded = text.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise BadValue(f"{text!r} is not yes or no (write Y or N)")


def parse_currency(text: str) -> str:
    """An ISO 4217 code (``RUB``, ``usd``), or ``руб.``/``₽``/``$``/``€``."""
    known = _CURRENCY_NAMES.get(text.casefold())
    if known is not None:
        return known
    if not _CURRENCY.match(text):
        raise BadValue(f"{text!r} is not a currency code such as RUB or USD")
    return text.upper()


def split_multi(text: str) -> list[str]:
    """Split a cell holding several phones or e-mails: commas, semicolons or line breaks between."""
    return [part.strip() for part in _MULTI.split(text) if part.strip()]


def parse_email(text: str) -> str:
    """Return the duplicate key of an address (lower case), or raise :class:`BadValue`."""
    key = email_key(text)
    if key is None:
        raise BadValue(f"{text!r} is not an e-mail address")
    return key
