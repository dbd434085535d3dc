"""Cell text parsers: money and rates as Russian spreadsheets write them, yes/no, currencies, lists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_core.transfer.values import (
    BadValue,
    parse_bool,
    parse_currency,
    parse_decimal,
    parse_email,
    parse_rate,
    split_multi,
)


class TestParseDecimal:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("1 234,50", "1234.50"),
            ("1\u00a0234,5", "1234.50"),
            ("1,234.5", "1234.50"),
            ("1.234,5", "1234.50"),
            ("10.500", "10.50"),
            ("0", "0.00"),
        ],
    )
    def test_spellings(self, text, expected):
        """Space or no-break space between thousands, decimal comma or point."""
        assert Decimal(expected) == parse_decimal(text, places=2)

    def test_too_many_places_are_refused_not_rounded(self):
        """Money is never silently rounded."""
        with pytest.raises(BadValue, match="'1,005' has more than 2 decimal places"):
            parse_decimal("1,005", places=2)

    def test_not_a_number_and_negative(self):
        """Words and negative amounts are refused with the text."""
        with pytest.raises(BadValue, match="'abc' is not a number"):
            parse_decimal("abc", places=2)
        with pytest.raises(BadValue, match="'-5' is below 0"):
            parse_decimal("-5", places=2)


class TestParseRate:
    def test_percent_and_no_vat(self):
        """'20%' is 20; 'без НДС' is no VAT at all."""
        assert Decimal("20.0000") == parse_rate("20 %")
        assert parse_rate("Без НДС") is None

    def test_over_a_hundred(self):
        """A rate is between 0 and 100."""
        with pytest.raises(BadValue, match="between 0 and 100"):
            parse_rate("120")


class TestSmallParsers:
    def test_bool_spellings(self):
        """Bitrix24's Y/N, Russian да/нет, 1/0."""
        assert [True, False, True, False] == [parse_bool(t) for t in ("Y", "n", "Да", "0")]
        with pytest.raises(BadValue, match="write Y or N"):
            parse_bool("maybe")

    def test_currency(self):
        """ISO codes in any case, and the ruble's usual spellings."""
        assert ["RUB", "USD", "RUB"] == [parse_currency(t) for t in ("rub", "USD", "руб.")]
        with pytest.raises(BadValue, match="not a currency code"):
            parse_currency("rubles")

    def test_split_and_email(self):
        """Several values in one cell; an e-mail's key is lower case."""
        assert ["a@x.ru", "b@y.ru", "c@z.ru"] == split_multi("a@x.ru, b@y.ru;\nc@z.ru")
        assert "anna@example.com" == parse_email("Anna@Example.COM")
        with pytest.raises(BadValue, match="'anna at example' is not an e-mail address"):
            parse_email("anna at example")
