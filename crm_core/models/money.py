"""Exact decimal columns for money, prices, quantities and rates, on SQLite as on PostgreSQL.

PostgreSQL has a real ``NUMERIC``. SQLite does not: it stores a ``NUMERIC`` column as a binary float,
so ``0.1 + 0.2`` is not ``0.3`` there and ``SUM()`` accumulates float error. :class:`ExactDecimal` is
``NUMERIC(precision, scale)`` on PostgreSQL and, on SQLite, an ``INTEGER`` holding the value in units
of ``10**-scale`` (kopecks for a scale of 2). Integers are exact in SQLite, so comparisons, sorting
and ``SUM()`` stay exact too, and every value reads back as a :class:`~decimal.Decimal` with exactly
*scale* places on both databases.

A value with more places than the column keeps is refused rather than rounded: rounding money is a
business rule (see :mod:`crm_core.sales.rows`), never a side effect of storage.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ExactDecimal", "Money", "Price", "Quantity", "Rate"]


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(precision, scale)`` on PostgreSQL; a scaled ``BIGINT`` on SQLite (see the module doc)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value) if not isinstance(value, Decimal) else value
        if isinstance(value, float) or not exact.is_finite():
            raise ValueError(f"{value!r} is not an exact decimal number")
        quantized = exact.quantize(self._quantum)
        if quantized != exact:
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(quantized.scaleb(self.scale))
        return quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)


def Money() -> ExactDecimal:
    """Amounts: ``NUMERIC(18, 2)``, to the kopeck."""
    return ExactDecimal(18, 2)


def Price() -> ExactDecimal:
    """Unit prices: ``NUMERIC(18, 4)`` (a unit may cost a fraction of a kopeck)."""
    return ExactDecimal(18, 4)


def Quantity() -> ExactDecimal:
    """Quantities: ``NUMERIC(18, 3)`` (grams of a kilogram, minutes of an hour...)."""
    return ExactDecimal(18, 3)


def Rate() -> ExactDecimal:
    """Percentages (VAT rate, discount rate, probability): ``NUMERIC(9, 4)``."""
    return ExactDecimal(9, 4)
