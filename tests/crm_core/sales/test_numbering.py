"""Document numbers: patterns, periods, and no gaps or repeats under concurrent transactions."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from crm_core.errors import NotFound
from crm_core.rights import SYSTEM, Forbidden
from crm_core.sales.errors import BadValue
from crm_core.sales.numbering import (
    check_pattern,
    configure_sequence,
    format_number,
    next_number,
    period_of,
    sequences,
)

DAY = date(2026, 11, 27)


class TestPattern:
    def test_formats_year_month_and_padded_sequence(self):
        """
        ``INV-{year}-{seq:05d}`` pads the value; ``{month}`` and ``{day}`` are two digits.
        """
        assert "INV-2026-00042" == format_number("INV-{year}-{seq:05d}", 42, DAY)
        assert "2026/11/27-7" == format_number("{year}/{month}/{day}-{seq}", 7, DAY)

    @pytest.mark.parametrize(
        ("pattern", "reset", "message"),
        [
            ("INV-{year}", "yearly", "must contain {seq}"),
            ("INV-{seq}-{client}", "never", "unknown field {client}"),
            ("INV-{seq:05d}", "yearly", "does not show {year}"),
            ("{year}-{seq:05d}", "monthly", "does not show {month}"),
            ("INV-{seq:x5q}", "never", "cannot be formatted"),
            ("INV-{seq", "never", "not a valid pattern"),
        ],
    )
    def test_unusable_patterns_are_refused(self, pattern, reset, message):
        """
        A pattern without {seq}, with unknown fields, or that would repeat numbers after a reset is refused.
        """
        with pytest.raises(BadValue, match=message):
            check_pattern(pattern, reset)

    def test_periods(self):
        """
        The counter period is empty, the year, or the year and month.
        """
        assert ("", "2026", "2026-11") == tuple(period_of(r, DAY) for r in ("never", "yearly", "monthly"))


class TestNextNumber:
    async def test_seeded_sequences(self, session):
        """
        Migration 0006 seeds yearly QUO- and INV- sequences.
        """
        assert [
            ("invoice", "INV-{year}-{seq:05d}", "yearly"),
            ("quote", "QUO-{year}-{seq:05d}", "yearly"),
        ] == [(s.code, s.pattern, s.reset) for s in await sequences(session)]

    async def test_counts_up_and_restarts_each_year(self, session):
        """
        Numbers count up within a year and start from 1 in the next; sequences are independent.
        """
        taken = [
            await next_number(session, "invoice", DAY),
            await next_number(session, "invoice", DAY),
            await next_number(session, "quote", DAY),
            await next_number(session, "invoice", date(2027, 1, 2)),
            await next_number(session, "invoice", DAY),
        ]

        assert [
            "INV-2026-00001",
            "INV-2026-00002",
            "QUO-2026-00001",
            "INV-2027-00001",
            "INV-2026-00003",
        ] == taken

    async def test_rollback_gives_the_number_back(self, sessionmaker):
        """
        A transaction that rolls back leaves no gap: the next document takes the same number.
        """
        async with sessionmaker() as session:
            assert "INV-2026-00001" == await next_number(session, "invoice", DAY)
            await session.rollback()
        async with sessionmaker() as session:
            assert "INV-2026-00001" == await next_number(session, "invoice", DAY)
            await session.commit()

    async def test_gap_free_under_concurrency(self, sessionmaker):
        """
        Twelve concurrent transactions, every third rolling back: the committed numbers are 1..8,
        each once, whatever the interleaving.
        """

        async def take(index: int) -> str | None:
            async with sessionmaker() as session:
                number = await next_number(session, "invoice", DAY)
                await asyncio.sleep(0.01)  # hold the transaction open while the others queue
                if index % 3 == 0:
                    await session.rollback()
                    return None
                await session.commit()
                return number

        results = await asyncio.gather(*(take(i) for i in range(12)))

        committed = sorted(number for number in results if number is not None)
        assert [f"INV-2026-{n:05d}" for n in range(1, 9)] == committed

    async def test_unknown_sequence(self, session):
        """
        Asking for a sequence that does not exist names it.
        """
        with pytest.raises(NotFound, match="number sequence"):
            await next_number(session, "receipt", DAY)


class TestConfigure:
    async def test_admin_changes_the_pattern_and_counters_continue(self, session, people):
        """
        A new pattern applies from the next number; the year's counter goes on.
        """
        await next_number(session, "invoice", DAY)

        await configure_sequence(session, people.admin, "invoice", pattern="СЧ/{year}/{seq}", reset="yearly")

        assert "СЧ/2026/2" == await next_number(session, "invoice", DAY)

    async def test_agents_may_not(self, session, people):
        """
        Numbering is global: an agent (or a supervisor, department-wide) may not change it.
        """
        for who in (people.ivanov, people.boss):
            with pytest.raises(Forbidden):
                await configure_sequence(session, who, "invoice", pattern="X-{seq}", reset="never")

    async def test_bad_pattern_changes_nothing(self, session):
        """
        A refused pattern leaves the sequence as it was.
        """
        with pytest.raises(BadValue):
            await configure_sequence(session, SYSTEM, "quote", pattern="Q-{seq}", reset="yearly")

        assert "QUO-2026-00001" == await next_number(session, "quote", DAY)
