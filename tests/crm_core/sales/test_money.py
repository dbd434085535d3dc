"""Exact decimal columns: what is stored is what reads back, and SQL sums stay exact, on both databases."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from crm_core.models import Deal
from crm_core.models.money import ExactDecimal


def deal(stages, amount) -> Deal:
    stage = stages["NEW"]
    return Deal(title="Money", pipeline_id=stage.pipeline_id, stage_id=stage.id, amount=amount, passed_mask=1)


class TestExactDecimal:
    async def test_keeps_the_kopeck_beyond_float_precision(self, sessionmaker, stages):
        """
        10^15 + 0.01 has 18 significant digits: a float (SQLite's NUMERIC) would lose the kopeck.
        """
        async with sessionmaker() as session:
            session.add_all([deal(stages, D("1000000000000000.01")), deal(stages, D("0.01"))])
            await session.commit()
        async with sessionmaker() as session:
            amounts = sorted(await session.scalars(select(Deal.amount)))
            total = await session.scalar(select(func.sum(Deal.amount)))

        assert [D("0.01"), D("1000000000000000.01")] == amounts
        assert D("1000000000000000.02") == total

    async def test_largest_amount_round_trips(self, sessionmaker, stages):
        """
        The largest NUMERIC(18, 2) value fits on both databases.
        """
        async with sessionmaker() as session:
            session.add(deal(stages, D("9999999999999999.99")))
            await session.commit()
        async with sessionmaker() as session:
            assert D("9999999999999999.99") == await session.scalar(select(Deal.amount))

    async def test_comparisons_are_exact(self, session, stages):
        """
        A filter compares the exact values (0.10 is not less than 0.1).
        """
        session.add_all([deal(stages, D("0.10")), deal(stages, D("0.11"))])
        await session.flush()

        assert [D("0.11")] == list(await session.scalars(select(Deal.amount).where(Deal.amount > D("0.1"))))

    async def test_too_many_places_are_refused_not_rounded(self, session, stages):
        """
        Rounding money is a business rule: storage refuses 1.005 rather than round it.
        """
        session.add(deal(stages, D("1.005")))

        with pytest.raises(StatementError, match="more than 2 decimal places"):
            await session.flush()

    def test_floats_are_refused(self):
        """
        A float is never taken for money.
        """
        with pytest.raises(ValueError, match="not an exact decimal"):
            ExactDecimal(18, 2).process_bind_param(0.1, None)  # type: ignore[arg-type]
