"""find_card: whose number is calling, as the screen-pop asks it."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import pytest
from sqlalchemy import event

from crm_core.lookup import Card, find_card
from crm_core.models import ExcludedNumber, Lead
from crm_core.seed import apply_seed

from .factories import OWN_DID, SEED


@pytest.fixture(name="seeded")
async def _seeded(session):
    await apply_seed(session, SEED)
    await session.commit()
    return session


class TestFindCard:
    async def test_contact_written_locally_matches_e164(self, seeded):
        """
        A contact saved as "8 (916) 123-45-67" is found by "+79161234567", with company and responsible.
        """
        card = await find_card(seeded, "+79161234567", region="RU")

        assert (
            Card(
                entity="contact",
                id=card.id,
                title="Anna Smirnova",
                company="Romashka LLC",
                responsible="Petr Petrov",
                phone="+79161234567",
            )
            == card
        )

    async def test_company_phone_matches(self, seeded):
        """
        A company's number gives the company card.
        """
        card = await find_card(seeded, "84951112233", region="RU")

        assert ("company", "Romashka LLC", None, "Petr Petrov") == (
            card.entity,
            card.title,
            card.company,
            card.responsible,
        )

    async def test_open_lead_matches(self, seeded):
        """
        An open lead's number gives the lead card.
        """
        card = await find_card(seeded, "+7 903 555-00-11", region="RU")

        assert ("lead", "Website request", "Ivan Ivanov") == (card.entity, card.title, card.responsible)

    async def test_converted_lead_does_not_match(self, seeded):
        """
        A converted lead is closed: its number is unknown again.
        """
        assert None is await find_card(seeded, "+79035550022", region="RU")

    async def test_order_is_contact_then_company_then_lead(self, seeded):
        """
        One number on a lead, a company and a contact: the contact wins, then the company, then the lead.
        """
        number = "+79260000001"
        await apply_seed(
            seeded,
            {
                "leads": [{"title": "Shared lead", "phones": [number]}],
                "companies": [{"title": "Shared Co", "phones": [number]}],
                "contacts": [{"name": "Shared Person", "phones": [number]}],
            },
        )
        assert "contact" == (await find_card(seeded, number, region="RU")).entity

        await apply_seed(seeded, {"companies": [{"title": "Only Co", "phones": ["+79260000002"]}]})
        await apply_seed(seeded, {"leads": [{"title": "Only lead", "phones": ["+79260000002"]}]})
        assert "company" == (await find_card(seeded, "+79260000002", region="RU")).entity

    async def test_most_recent_open_lead_wins(self, seeded):
        """
        Two open leads with one number: the newer one is shown.
        """
        await apply_seed(
            seeded,
            {
                "leads": [
                    {"title": "First", "phones": ["+79260000003"]},
                    {"title": "Second", "phones": ["+79260000003"]},
                ]
            },
        )

        assert "Second" == (await find_card(seeded, "+79260000003", region="RU")).title

    async def test_own_and_excluded_numbers_never_match(self, seeded):
        """
        Our DIDs (from settings, or the exclusion table) never show a card, even if a card has them.
        """
        await apply_seed(seeded, {"contacts": [{"name": "Reception", "phones": [OWN_DID, "+79260000004"]}]})
        seeded.add(ExcludedNumber(e164="+79260000004"))
        await seeded.flush()

        assert None is await find_card(seeded, OWN_DID, region="RU")
        assert None is await find_card(seeded, "+79260000004", region="RU")
        assert None is await find_card(seeded, "8 800 000-00-01", region="RU", own_numbers=["+78000000001"])

    @pytest.mark.parametrize("number", ["", "101", "anonymous", "+7"])
    async def test_unparsable_numbers_never_match(self, seeded, number):
        """
        Extensions, "anonymous" and junk are not phone numbers: no card, no error.
        """
        assert None is await find_card(seeded, number, region="RU")

    async def test_status_change_is_seen_immediately(self, seeded):
        """
        Marking the open lead junk makes its number unknown.
        """
        card = await find_card(seeded, "+79035550011", region="RU")
        (await seeded.get(Lead, card.id)).status = "JUNK"
        await seeded.flush()

        assert None is await find_card(seeded, "+79035550011", region="RU")


class TestHotPath:
    async def test_one_query_that_reads_phone_through_the_e164_index(self, seeded, engine):
        """
        A screen-pop lookup costs one query; the planner reads phone through ix_phone_e164.
        """
        statements = []

        def capture(_conn, _cursor, statement, parameters, _context, _many):
            statements.append((statement, parameters))

        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            card = await find_card(seeded, "+79161234567", region="RU")
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        statement, parameters = statements[0]
        conn = await seeded.connection()
        if engine.dialect.name == "postgresql":
            # Tiny test tables are cheaper to scan; forbid that to see whether the index can serve.
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        else:
            plan = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)

        assert "contact" == card.entity
        assert 1 == len(statements)
        assert "ix_phone_e164" in " ".join(str(row[-1]) for row in plan)
