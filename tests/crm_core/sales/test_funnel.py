"""The funnel report, both variants, on a crafted set of deals whose answers are worked out by hand.

Default pipeline: NEW, PREPARATION, PREPAYMENT_INVOICE, EXECUTING, FINAL_INVOICE, WON, LOSE.
Created in March 2026 (the period), responsible Ivanov unless said:

====  =========================================================  ==========
deal  path                                                       amount
====  =========================================================  ==========
d1    NEW                                                        100 RUB
d2    NEW, PREPARATION, EXECUTING (skips the prepayment)         200 RUB
d3    every stage to WON                                         300 RUB
d4    NEW, EXECUTING, WON (Petrov's)                             400 RUB
d5    NEW, PREPARATION, LOSE                                     500 RUB
d6    NEW, LOSE (Petrov's)                                       600 RUB
d7    NEW, EXECUTING, back to PREPARATION                        700 USD
d10   NEW (Kozlov's, another department)                         1000 RUB
====  =========================================================  ==========

Outside the scope: d8 (NEW, WON; created in January) and d9 (another pipeline).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from crm_core.errors import NotFound
from crm_core.rights import SYSTEM, Forbidden, Principal
from crm_core.sales.deals import create_deal, move_deal
from crm_core.sales.funnel import funnel_report, funnel_reports
from crm_core.sales.pipelines import PipelinesResource
from crm_core.sales.schemas import DealCreate, FunnelReport, PipelineCreate

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
CODES = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE")


@pytest.fixture(name="other_pipeline")
async def _other_pipeline(session):
    return await PipelinesResource().create(session, SYSTEM, PipelineCreate(name="Projects"))


@pytest.fixture(name="crafted")
async def _crafted(session, people, stages, other_pipeline):
    async def deal(path, amount, *, who=people.ivanov, currency="RUB", created=MARCH + timedelta(days=1)):
        first, *rest = path
        made = await create_deal(
            session,
            people.admin,
            DealCreate(
                title=f"{amount}",
                stage_id=first,
                amount=D(amount),
                currency=currency,
                responsible_id=who.user_id,
            ),
            at=created,
        )
        for step, stage_id in enumerate(rest, start=1):
            reason = "Chose a competitor" if stage_id == stages["LOSE"].id else None
            await move_deal(
                session,
                people.admin,
                made.id,
                stage_id,
                loss_reason=reason,
                at=created + timedelta(hours=step),
            )

    s = {code: stages[code].id for code in CODES}
    await deal([s["NEW"]], 100)
    await deal([s["NEW"], s["PREPARATION"], s["EXECUTING"]], 200)
    await deal([s[code] for code in CODES[:6]], 300)
    await deal([s["NEW"], s["EXECUTING"], s["WON"]], 400, who=people.petrov)
    await deal([s["NEW"], s["PREPARATION"], s["LOSE"]], 500)
    await deal([s["NEW"], s["LOSE"]], 600, who=people.petrov)
    await deal([s["NEW"], s["EXECUTING"], s["PREPARATION"]], 700, currency="USD")
    await deal([s["NEW"], s["WON"]], 800, created=datetime(2026, 1, 15, tzinfo=UTC))
    await deal([other_pipeline.stages[0].id], 900)
    await deal([s["NEW"]], 1000, who=people.kozlov)
    await session.commit()


def counts(report: FunnelReport) -> dict[str, int]:
    return {stage.code: stage.count for stage in report.stages}


def column(report: FunnelReport, name: str) -> dict[str, object]:
    return {stage.code: getattr(stage, name) for stage in report.stages}


@pytest.mark.usefixtures("crafted")
class TestPassedVariant:
    async def test_counts_only_the_stages_really_passed(self, session, people):
        """
        A stage counts the deals that have been in it; skipped stages do not count them.
        """
        report = await funnel_report(session, people.admin, variant="passed", start=MARCH, end=APRIL)

        assert 8 == report.deals
        assert {
            "NEW": 8,
            "PREPARATION": 4,
            "PREPAYMENT_INVOICE": 1,
            "EXECUTING": 4,
            "FINAL_INVOICE": 1,
            "WON": 2,
            "LOSE": 2,
        } == counts(report)

    async def test_sums_per_currency(self, session, people):
        """
        Amounts are summed per currency: the USD deal is never added to roubles.
        """
        report = await funnel_report(session, people.admin, variant="passed", start=MARCH, end=APRIL)

        amounts = column(report, "amounts")
        assert {"RUB": D("3100.00"), "USD": D("700.00")} == amounts["NEW"]
        assert {"RUB": D("1000.00"), "USD": D("700.00")} == amounts["PREPARATION"]
        assert {"RUB": D("700.00")} == amounts["WON"]
        assert {"RUB": D("1100.00")} == amounts["LOSE"]
        assert {"RUB": D("300.00")} == amounts["FINAL_INVOICE"]

    async def test_conversion_percentages(self, session, people):
        """
        Conversion is the share of the first stage; the step conversion the share of the previous
        in-progress stage (none for failures).
        """
        report = await funnel_report(session, people.admin, variant="passed", start=MARCH, end=APRIL)

        assert {
            "NEW": D("100.0"),
            "PREPARATION": D("50.0"),
            "PREPAYMENT_INVOICE": D("12.5"),
            "EXECUTING": D("50.0"),
            "FINAL_INVOICE": D("12.5"),
            "WON": D("25.0"),
            "LOSE": D("25.0"),
        } == column(report, "conversion")
        assert {
            "NEW": None,
            "PREPARATION": D("50.0"),
            "PREPAYMENT_INVOICE": D("25.0"),
            "EXECUTING": D("400.0"),
            "FINAL_INVOICE": D("25.0"),
            "WON": D("200.0"),
            "LOSE": None,
        } == column(report, "step_conversion")


@pytest.mark.usefixtures("crafted")
class TestConversionVariant:
    async def test_counts_every_stage_up_to_the_furthest_reached(self, session, people):
        """
        Skipped stages count; won deals count everywhere; lost deals only up to where they got.
        """
        report = await funnel_report(session, people.admin, variant="conversion", start=MARCH, end=APRIL)

        assert {
            "NEW": 8,
            "PREPARATION": 5,
            "PREPAYMENT_INVOICE": 4,
            "EXECUTING": 4,
            "FINAL_INVOICE": 2,
            "WON": 2,
            "LOSE": 2,
        } == counts(report)

    async def test_amounts_and_percentages(self, session, people):
        """
        The same deals' sums, and conversions from the first and from the previous stage.
        """
        report = await funnel_report(session, people.admin, variant="conversion", start=MARCH, end=APRIL)

        assert {"RUB": D("1400.00"), "USD": D("700.00")} == column(report, "amounts")["PREPARATION"]
        assert {
            "NEW": D("100.0"),
            "PREPARATION": D("62.5"),
            "PREPAYMENT_INVOICE": D("50.0"),
            "EXECUTING": D("50.0"),
            "FINAL_INVOICE": D("25.0"),
            "WON": D("25.0"),
            "LOSE": D("25.0"),
        } == column(report, "conversion")
        assert {
            "NEW": None,
            "PREPARATION": D("62.5"),
            "PREPAYMENT_INVOICE": D("80.0"),
            "EXECUTING": D("100.0"),
            "FINAL_INVOICE": D("50.0"),
            "WON": D("100.0"),
            "LOSE": None,
        } == column(report, "step_conversion")

    async def test_both_variants_from_one_call(self, session, people):
        """
        funnel_reports gives both variants for the same scope.
        """
        reports = await funnel_reports(session, people.admin, start=MARCH, end=APRIL)

        assert (5, 4) == (
            counts(reports["conversion"])["PREPARATION"],
            counts(reports["passed"])["PREPARATION"],
        )


@pytest.mark.usefixtures("crafted")
class TestScope:
    async def test_period_is_by_creation(self, session, people):
        """
        Without a period the January deal counts too (NEW and WON one more).
        """
        report = await funnel_report(session, people.admin, variant="passed")

        assert (9, 9, 3) == (report.deals, counts(report)["NEW"], counts(report)["WON"])

    async def test_per_responsible(self, session, people):
        """
        Only Petrov's deals: d4 (won through EXECUTING) and d6 (lost at once).
        """
        report = await funnel_report(
            session, people.admin, start=MARCH, end=APRIL, responsible_ids=[people.petrov.user_id]
        )

        assert {
            "NEW": 2,
            "PREPARATION": 0,
            "PREPAYMENT_INVOICE": 0,
            "EXECUTING": 1,
            "FINAL_INVOICE": 0,
            "WON": 1,
            "LOSE": 1,
        } == counts(report)

    async def test_per_pipeline(self, session, people, other_pipeline):
        """
        Another pipeline's report holds only its own deal, on its own stages.
        """
        report = await funnel_report(session, people.admin, pipeline_id=other_pipeline.id)

        assert (1, other_pipeline.stages[0].id, 1) == (
            report.deals,
            report.stages[0].stage_id,
            report.stages[0].count,
        )

    async def test_only_visible_deals(self, session, people):
        """
        Ivanov's report leaves out Kozlov's deal (another department); Kozlov sees only his own.
        """
        ivanov = await funnel_report(session, people.ivanov, start=MARCH, end=APRIL)
        kozlov = await funnel_report(session, people.kozlov, start=MARCH, end=APRIL)

        assert (7, 1) == (ivanov.deals, kozlov.deals)

    async def test_no_read_right_is_forbidden(self, session):
        """
        A user with no deal read right gets Forbidden, not an empty funnel.
        """
        with pytest.raises(Forbidden):
            await funnel_report(session, Principal(user_id=None, login="nobody"))

    async def test_unknown_pipeline(self, session, people):
        """
        A pipeline id that does not exist is reported as such.
        """
        with pytest.raises(NotFound, match="pipeline"):
            await funnel_report(session, people.admin, pipeline_id=99999)

    async def test_empty_period_has_no_percentages(self, session, people):
        """
        No deals: every count is 0 and no conversion is computed (never a division by zero).
        """
        report = await funnel_report(session, people.admin, start=APRIL, end=APRIL + timedelta(days=30))

        assert (0, {None}) == (report.deals, set(column(report, "conversion").values()))
