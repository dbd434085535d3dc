"""Printable quotes and invoices through the real app: rights, both languages, exact amounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from crm_core.models import Company, Contact
from crm_core.rights import SYSTEM
from crm_core.sales.deals import create_deal
from crm_core.sales.documents import InvoicesResource, QuotesResource
from crm_core.sales.schemas import DealCreate, InvoiceCreate, QuoteCreate, RowIn
from web import keys
from web.views.documents import format_decimal

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)
from .conftest import cookie_header

DAY = date(2026, 11, 27)
ROWS = [
    RowIn(
        name="Router",
        quantity=D(3),
        price=D("1000.00"),
        discount_type="percent",
        discount_value=D(10),
        tax_rate=D(20),
    ),
    RowIn(
        name="Installation",
        unit="h",
        quantity=D("2.5"),
        price=D("1999.90"),
        tax_rate=D(20),
        tax_included=False,
    ),
]
"2700.00 (450.00 VAT inside) + 4999.75 net with 999.95 VAT on top: 8699.70 in all, 1449.95 VAT."


@pytest.fixture(name="documents")
async def _documents(client, app, template) -> dict[str, int]:
    """Ivanov's deal with a company, a contact and two rows; a quote and an invoice made from it."""
    async with app[keys.DB]() as session:
        company = Company(title="Romashka LLC")
        contact = Contact(name="Anna Smirnova")
        session.add_all([company, contact])
        await session.flush()
        deal = await create_deal(
            session,
            SYSTEM,
            DealCreate(
                title="Office network",
                responsible_id=template.users["ivanov"],
                company_id=company.id,
                contact_ids=[contact.id],
                rows=ROWS,
            ),
        )
        quote = await QuotesResource().create(session, SYSTEM, QuoteCreate(deal_id=deal.id), today=DAY)
        invoice = await InvoicesResource().create(
            session,
            SYSTEM,
            InvoiceCreate(deal_id=deal.id, due_on=date(2026, 12, 7), comments="Delivery to the back door"),
            today=DAY,
        )
        await session.commit()
    return {"quote": quote.id, "invoice": invoice.id}


class TestPrintable:
    async def test_invoice_page_in_english(self, client, app, template, documents):
        """
        The responsible agent gets the invoice: number, date, customer, rows and exact totals.
        """
        headers = {**cookie_header(app, template.users["ivanov"]), "Accept-Language": "en"}

        resp = await client.get(f"/crm/invoices/{documents['invoice']}/print", headers=headers)

        assert 200 == resp.status
        html = await resp.text()
        for text in (
            "Invoice INV-2026-00001 of 2026-11-27",
            "Romashka LLC",
            "Anna Smirnova",
            "Office network",
            "Ivan Ivanov",
            "Pay by",
            "2026-12-07",
            "Installation",
            "2.5",
            "1,999.90",
            "8,699.70",
            "1,449.95",
            "Delivery to the back door",
        ):
            assert text in html

    async def test_quote_page_in_russian(self, client, app, template, documents):
        """
        In Russian the labels are Russian and amounts use a comma and grouped thousands.
        """
        headers = {**cookie_header(app, template.users["ivanov"]), "Accept-Language": "ru"}

        resp = await client.get(f"/crm/quotes/{documents['quote']}/print", headers=headers)

        html = await resp.text()
        assert 200 == resp.status
        assert "Коммерческое предложение № QUO-2026-00001 от 2026-11-27" in html
        assert "8\u202f699,70" in html
        assert "Итого без НДС" in html

    async def test_colleague_without_the_right_gets_403(self, client, app, template, documents):
        """
        Petrov (no department shared with Ivanov) may not print Ivanov's invoice.
        """
        resp = await client.get(
            f"/crm/invoices/{documents['invoice']}/print",
            headers=cookie_header(app, template.users["petrov"]),
        )

        assert 403 == resp.status
        assert "INV-2026-00001" not in await resp.text()

    async def test_unknown_document_is_404(self, client, app, template, documents):
        """
        A document id that does not exist is 404.
        """
        resp = await client.get(
            "/crm/invoices/999999/print", headers=cookie_header(app, template.users["ivanov"])
        )

        assert 404 == resp.status

    async def test_anonymous_is_sent_to_log_in(self, client, documents):
        """
        Without a session the page redirects to the login form.
        """
        resp = await client.get(f"/crm/quotes/{documents['quote']}/print", allow_redirects=False)

        assert 302 == resp.status
        assert resp.headers["Location"].startswith("/login?next=")


class TestFormatDecimal:
    @pytest.mark.parametrize(
        ("value", "locale", "places", "expected"),
        [
            (D("4085.45"), "en", 2, "4,085.45"),
            (D("4085.45"), "ru", 2, "4\u202f085,45"),
            (D("1234567.00"), "en", 2, "1,234,567.00"),
            (D("35.5000"), "en", 2, "35.50"),
            (D("0.1250"), "en", 2, "0.125"),
            (D("3.000"), "en", 0, "3"),
            (D("-12.30"), "en", 2, "-12.30"),
            (None, "en", 2, ""),
        ],
    )
    def test_formats(self, value, locale, places, expected):
        """
        Thousands grouped, trailing zeros beyond the minimum dropped, the language's separators.
        """
        assert expected == format_decimal(value, locale, min_places=places)


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    """The real app on a migrated SQLite or PostgreSQL with the API tests' users and departments."""
    return await build_api(aiohttp_client, settings, sessionmaker)


ROUTER_ROW = {
    "name": "Router",
    "quantity": "3",
    "price": "1000.00",
    "discount_type": "percent",
    "discount_value": "10",
    "tax_rate": "20",
}


class TestThroughTheApi:
    """Deals, invoices and their printable page as a client of the REST API sees them (both databases)."""

    async def test_deal_invoice_and_print(self, api):
        """
        An agent creates a deal with rows (money as decimal strings), invoices it, and prints the invoice.
        """
        status, deal = await api.call(
            "POST", "/api/v1/deals", "ivan", json={"title": "Net", "rows": [ROUTER_ROW]}
        )
        assert (201, "2700.00", False) == (status, deal["amount"], deal["amount_manual"])

        status, invoice = await api.call("POST", "/api/v1/invoices", "ivan", json={"deal_id": deal["id"]})
        assert 201 == status
        assert ("2700.00", "450.00", "DRAFT") == (invoice["total"], invoice["tax_total"], invoice["status"])
        assert invoice["number"].startswith("INV-")

        page = await api.client.get(f"/crm/invoices/{invoice['id']}/print", headers=api.browser("ivan"))
        assert 200 == page.status
        assert invoice["number"] in await page.text()

    async def test_lost_without_reason_is_422_with_its_error_id(self, api):
        """
        Moving a deal to a failure stage without a reason answers 422 loss-reason-required.
        """
        _, pipelines = await api.call("GET", "/api/v1/pipelines", "ivan")
        lose = next(s["id"] for s in pipelines["items"][0]["stages"] if s["semantic"] == "failure")
        _, deal = await api.call("POST", "/api/v1/deals", "ivan", json={"title": "Net"})

        status, error = await api.call(
            "PATCH", f"/api/v1/deals/{deal['id']}", "ivan", json={"stage_id": lose}
        )

        assert (422, "loss-reason-required") == (status, error["error_id"])

    async def test_other_department_cannot_read_the_deal_or_its_invoice(self, api):
        """
        Petr (Support) gets 403 for Ivan's deal and invoice and does not see them in lists.
        """
        _, deal = await api.call("POST", "/api/v1/deals", "ivan", json={"title": "Net", "rows": [ROUTER_ROW]})
        _, invoice = await api.call("POST", "/api/v1/invoices", "ivan", json={"deal_id": deal["id"]})

        assert 403 == (await api.call("GET", f"/api/v1/deals/{deal['id']}", "petr"))[0]
        assert 403 == (await api.call("GET", f"/api/v1/invoices/{invoice['id']}", "petr"))[0]
        assert 0 == (await api.call("GET", "/api/v1/deals", "petr"))[1]["total"]
        page = await api.client.get(f"/crm/invoices/{invoice['id']}/print", headers=api.browser("petr"))
        assert 403 == page.status
