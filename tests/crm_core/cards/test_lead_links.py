"""What a lead became: ``LeadOut.deal_ids`` lists the deals made from it that the reader may read."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, update

from crm_core.cards.conversion import LeadConversion, convert_lead
from crm_core.cards.schemas import LeadCreate, LeadUpdate
from crm_core.crud import ListQuery
from crm_core.models import Deal
from crm_core.rights import Principal
from crm_core.sales.deals import create_deal
from crm_core.sales.schemas import DealCreate


async def converted(session, leads, principal: Principal, title: str) -> tuple[int, int]:
    """A lead of *principal*'s converted to a deal: (lead id, deal id), committed."""
    lead = await leads.create(session, principal, LeadCreate(title=title))
    result = await convert_lead(session, principal, lead.id, LeadConversion(deal=True))
    await session.commit()
    return lead.id, result.deal_id


class TestDealIds:
    async def test_a_converted_lead_lists_its_deal(self, session, people, leads):
        """
        Before conversion the lead has no deals; after it, the deal made from it, in get and list.
        """
        lead = await leads.create(session, people.ivanov, LeadCreate(title="Boxes"))
        assert [] == lead.deal_ids

        result = await convert_lead(session, people.ivanov, lead.id, LeadConversion(deal=True))
        await session.commit()

        assert [result.deal_id] == (await leads.get(session, people.ivanov, lead.id)).deal_ids
        page = await leads.list(session, people.ivanov, ListQuery(filters={"id": str(lead.id)}))
        assert [[result.deal_id]] == [item.deal_ids for item in page.items]

    async def test_oldest_deal_first_and_shown_after_an_update(self, session, people, leads):
        """
        A second deal backdated before the conversion's comes first; an update's answer lists both.
        """
        lead_id, first = await converted(session, leads, people.ivanov, "Boxes")
        older = await create_deal(
            session,
            people.ivanov,
            DealCreate(title="Earlier order", source_lead_id=lead_id),
            at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        await session.commit()

        out = await leads.update(session, people.ivanov, lead_id, LeadUpdate(comments="two orders"))

        assert [older.id, first] == out.deal_ids
        assert [older.id, first] == (await leads.get(session, people.ivanov, lead_id)).deal_ids

    async def test_a_deal_the_reader_may_not_read_is_left_out(self, session, people, leads):
        """
        kozlov's lead became a deal now handled by ivanov, of another department: kozlov still reads
        the lead but not that deal's id; the admin sees it.
        """
        lead_id, deal_id = await converted(session, leads, people.kozlov, "Cables")
        await session.execute(
            update(Deal).where(Deal.id == deal_id).values(responsible_id=people.ivanov.user_id)
        )
        await session.commit()

        assert [] == (await leads.get(session, people.kozlov, lead_id)).deal_ids
        page = await leads.list(session, people.kozlov, ListQuery())
        assert [(lead_id, [])] == [(item.id, item.deal_ids) for item in page.items]
        assert [deal_id] == (await leads.get(session, people.admin, lead_id)).deal_ids

    async def test_a_page_reads_the_deals_of_all_its_leads_in_one_statement(
        self, engine, session, people, leads
    ):
        """
        Three converted leads and one open: the page's deal ids come from a single statement on deal.
        """
        made = [await converted(session, leads, people.ivanov, f"Lead {n}") for n in range(3)]
        open_lead = await leads.create(session, people.ivanov, LeadCreate(title="Lead 3"))
        await session.commit()
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            page = await leads.list(session, people.ivanov, ListQuery(sort=("title",)))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)

        expected = [(lead_id, [deal_id]) for lead_id, deal_id in made] + [(open_lead.id, [])]
        assert expected == [(item.id, item.deal_ids) for item in page.items]
        assert 1 == sum("FROM deal" in s for s in statements)
