"""Exporting deals, quotes and invoices: names instead of ids, within each entity's export right."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from crm_core.models import Company, Contact
from crm_core.rights import Forbidden
from crm_core.sales.deals import create_deal
from crm_core.sales.documents import InvoicesResource, QuotesResource
from crm_core.sales.schemas import DealCreate, InvoiceCreate, QuoteCreate
from crm_core.transfer.exporter import ExportKind, export_csv


async def exported(session, principal, kind: ExportKind, filters=None) -> list[dict[str, str]]:
    text = "".join([piece async for piece in export_csv(session, principal, kind, filters)])
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(name="deal_id")
async def _deal_id(session, people) -> int:
    """A deal of ivanov with a company, two contacts and a typed amount; a quote and an invoice of it."""
    company = Company(title="Romashka")
    anna, boris = Contact(name="Anna"), Contact(name="Boris")
    session.add_all([company, anna, boris])
    await session.flush()
    deal = await create_deal(
        session,
        people.admin,
        DealCreate(
            title="Routers",
            amount=Decimal("1500.00"),
            responsible_id=people.agent.user_id,
            company_id=company.id,
            contact_ids=[anna.id, boris.id],
        ),
    )
    await QuotesResource().create(session, people.admin, QuoteCreate(deal_id=deal.id))
    await InvoicesResource().create(session, people.admin, InvoiceCreate(deal_id=deal.id))
    await session.flush()
    return deal.id


class TestSalesExport:
    async def test_deals_show_names(self, session, people, deal_id):
        """
        A deal's row names its pipeline, stage, responsible, company and contacts.
        """
        (row,) = await exported(session, people.admin, ExportKind.DEALS)

        assert {
            "id": str(deal_id),
            "title": "Routers",
            "amount": "1500.00",
            "currency": "RUB",
            "responsible": "ivanov",
            "company": "Romashka",
            "contacts": "Anna, Boris",
            "closed_at": "",
        }.items() <= row.items()
        assert ("Sales", "New") == (row["pipeline"], row["stage"])
        assert row["created_at"].startswith("20")

    async def test_quotes_and_invoices_name_their_deal_and_status(self, session, people, deal_id):
        """
        Documents show their number, deal title, status name and totals; filters work as in the API.
        """
        (quote,) = await exported(session, people.admin, ExportKind.QUOTES, {"deal_id": str(deal_id)})
        (invoice,) = await exported(session, people.admin, ExportKind.INVOICES)

        assert ("Routers", "Draft") == (quote["deal"], quote["status"])
        assert ("Routers", "Draft", "") == (invoice["deal"], invoice["status"], invoice["paid_at"])
        assert "" not in (quote["number"], invoice["number"], invoice["issued_on"])
        assert [] == await exported(session, people.admin, ExportKind.QUOTES, {"deal_id": str(deal_id + 1)})

    async def test_the_export_right_of_each_entity(self, session, people, deal_id):
        """
        An agent has no export right on deals or invoices: refused before any row.
        """
        for kind in (ExportKind.DEALS, ExportKind.QUOTES, ExportKind.INVOICES):
            with pytest.raises(Forbidden):
                await exported(session, people.agent, kind)
