"""Quotes and invoices: made from a deal with its rows and the next number; statuses; rights."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from crm_core.crud import ListQuery
from crm_core.rights import Forbidden
from crm_core.sales import rows
from crm_core.sales.deals import create_deal, delete_deal
from crm_core.sales.documents import InvoicesResource, QuotesResource, printable
from crm_core.sales.errors import BadValue, KeptForTheRecord
from crm_core.sales.schemas import (
    DealCreate,
    InvoiceCreate,
    InvoiceUpdate,
    QuoteCreate,
    QuoteUpdate,
    RowIn,
)

from .builders import MIXED_TOTAL, mixed_rows

DAY = date(2026, 11, 27)
quotes, invoices = QuotesResource(), InvoicesResource()


@pytest.fixture(name="deal")
async def _deal(session, people, router, client_cards):
    """Ivanov's deal with the three mixed rows, a company and two contacts (Boris first)."""
    anna, boris = client_cards.contact_ids
    deal = await create_deal(
        session,
        people.ivanov,
        DealCreate(
            title="Office network",
            company_id=client_cards.company_id,
            contact_ids=[boris, anna],
            rows=mixed_rows(router.id),
        ),
    )
    await session.commit()
    return deal


class TestQuoteFromDeal:
    async def test_copies_rows_customer_and_takes_the_next_number(self, session, people, deal, client_cards):
        """
        The quote holds copies of the deal's rows and totals, its company and main contact, and takes
        QUO-2026-00001.
        """
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)

        assert ("QUO-2026-00001", "DRAFT", DAY) == (quote.number, quote.status, quote.issued_on)
        assert (client_cards.company_id, client_cards.contact_ids[1], people.ivanov.user_id) == (
            quote.company_id,
            quote.contact_id,
            quote.responsible_id,
        )
        assert [(r.name, r.quantity, r.total) for r in deal.rows] == [
            (r.name, r.quantity, r.total) for r in quote.rows
        ]
        assert (D("303.50"), D("3446.18"), D("639.27"), MIXED_TOTAL) == (
            quote.discount_total,
            quote.net_total,
            quote.tax_total,
            quote.total,
        )

    async def test_each_quote_takes_the_next_number(self, session, people, deal):
        """
        A second quote of the same year is QUO-2026-00002; invoices count on their own.
        """
        await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)
        second = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)
        invoice = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)

        assert ("QUO-2026-00002", "INV-2026-00001") == (second.number, invoice.number)

    async def test_quote_rows_are_its_own(self, session, people, deal):
        """
        Editing the quote's rows changes its totals and leaves the deal alone.
        """
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)

        changed = await quotes.update(
            session, people.ivanov, quote.id, QuoteUpdate(rows=[RowIn(name="Audit", price=D("150.00"))])
        )

        assert D("150.00") == changed.total
        assert MIXED_TOTAL == (await rows.totals(session, ("deal", deal.id))).total

    async def test_status_must_be_a_quote_status(self, session, people, deal):
        """
        An unknown status is refused naming the allowed codes.
        """
        with pytest.raises(BadValue, match="not a quote status") as caught:
            await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id, status="PAID"))

        assert ["ACCEPTED", "DECLINED", "DRAFT", "SENT"] == sorted(caught.value.details()["allowed"])

    async def test_quote_is_deleted_with_its_rows(self, session, people, deal):
        """
        A quote (an offer, not a book entry) may be deleted by a supervisor; its rows go with it.
        """
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)

        await quotes.delete(session, people.boss, quote.id)

        assert [] == await rows.load_rows(session, ("quote", quote.id))

    async def test_survives_its_deal(self, session, people, deal):
        """
        Deleting the deal keeps the quote (a document sent stays), without the link.
        """
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)

        await delete_deal(session, people.admin, deal.id)

        kept = await quotes.get(session, people.admin, quote.id)
        assert (None, MIXED_TOTAL, 3) == (kept.deal_id, kept.total, len(kept.rows))


class TestInvoice:
    async def test_from_a_quote_copies_the_quotes_rows(self, session, people, deal):
        """
        An invoice made from a quote bills what the quote offered.
        """
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=deal.id), today=DAY)
        await quotes.update(
            session, people.ivanov, quote.id, QuoteUpdate(rows=[RowIn(name="Audit", price=D(99))])
        )

        invoice = await invoices.create(
            session, people.ivanov, InvoiceCreate(deal_id=deal.id, quote_id=quote.id), today=DAY
        )

        assert (quote.id, ["Audit"], D("99.00")) == (
            invoice.quote_id,
            [r.name for r in invoice.rows],
            invoice.total,
        )

    async def test_quote_of_another_deal_is_refused(self, session, people, deal):
        """
        An invoice cannot bill another deal's quote.
        """
        other = await create_deal(session, people.ivanov, DealCreate(title="Other"))
        quote = await quotes.create(session, people.ivanov, QuoteCreate(deal_id=other.id), today=DAY)

        with pytest.raises(BadValue, match="is not of deal"):
            await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id, quote_id=quote.id))

    async def test_paid_records_when_and_unpaid_clears_it(self, session, people, deal):
        """
        Reaching PAID sets paid_at; going back to SENT clears it.
        """
        invoice = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)
        assert invoice.paid_at is None

        paid = await invoices.update(session, people.ivanov, invoice.id, InvoiceUpdate(status="PAID"))
        assert ("PAID", "success") == (paid.status, paid.status_semantic)
        assert paid.paid_at is not None

        unpaid = await invoices.update(session, people.ivanov, invoice.id, InvoiceUpdate(status="SENT"))
        assert unpaid.paid_at is None

    async def test_never_deleted_only_cancelled(self, session, people, deal):
        """
        Even an administrator cannot delete an invoice (its number would leave a gap); agents may not try.
        """
        invoice = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)

        with pytest.raises(KeptForTheRecord, match="set its status to CANCELLED") as caught:
            await invoices.delete(session, people.admin, invoice.id)
        with pytest.raises(Forbidden):
            await invoices.delete(session, people.ivanov, invoice.id)
        cancelled = await invoices.update(
            session, people.ivanov, invoice.id, InvoiceUpdate(status="CANCELLED")
        )

        assert "kept-for-the-record" == caught.value.error_id
        assert ("CANCELLED", "failure") == (cancelled.status, cancelled.status_semantic)

    async def test_rolled_back_invoice_leaves_no_gap(self, sessionmaker, people, deal):
        """
        An invoice whose transaction fails gives its number back to the next one.
        """
        async with sessionmaker() as session:
            await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)
            await session.rollback()
        async with sessionmaker() as session:
            invoice = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)
            await session.commit()

        assert "INV-2026-00001" == invoice.number


class TestRights:
    async def test_needs_to_read_the_deal(self, session, people, deal):
        """
        Kozlov (another department) cannot make a quote from Ivanov's deal.
        """
        with pytest.raises(Forbidden):
            await quotes.create(session, people.kozlov, QuoteCreate(deal_id=deal.id))

    async def test_agent_adds_only_own_documents(self, session, people, deal):
        """
        Petrov reads Ivanov's deal, but a quote for Ivanov is not his to add; one of his own is.
        """
        with pytest.raises(Forbidden):
            await quotes.create(session, people.petrov, QuoteCreate(deal_id=deal.id))

        own = await quotes.create(
            session, people.petrov, QuoteCreate(deal_id=deal.id, responsible_id=people.petrov.user_id)
        )
        assert people.petrov.user_id == own.responsible_id

    async def test_list_is_scoped_and_filters_by_status(self, session, people, deal):
        """
        Kozlov sees no invoice of the sales department; the status filter works by code.
        """
        first = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)
        await invoices.create(
            session, people.ivanov, InvoiceCreate(deal_id=deal.id, status="SENT"), today=DAY
        )

        drafts = await invoices.list(session, people.ivanov, ListQuery(filters={"status": "DRAFT"}))
        kozlov_sees = await invoices.list(session, people.kozlov, ListQuery())

        assert [first.number] == [i.number for i in drafts.items]
        assert (0, []) == (kozlov_sees.total, kozlov_sees.items)

    async def test_printable_checks_the_read_right(self, session, people, deal, client_cards):
        """
        The printable form names the customer and responsible; Kozlov may not print Ivanov's invoice.
        """
        invoice = await invoices.create(session, people.ivanov, InvoiceCreate(deal_id=deal.id), today=DAY)

        page = await printable(session, people.ivanov, "invoice", invoice.id)
        assert ("Romashka LLC", "Boris Orlov", "Ivan Ivanov", "Draft") == (
            page.company,
            page.contact,
            page.responsible,
            page.status_name,
        )
        with pytest.raises(Forbidden):
            await printable(session, people.kozlov, "invoice", invoice.id)
