"""The salesperson's forms on both databases: a new deal with product rows (exact totals from the
server), editing rows, company, contacts and responsible; the board's paging, filters and JSON
moves; quotes' and invoices' filters and status changes; the deal page's links, notes and delete;
product rows on a lead."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.cards import CompaniesResource, ContactsResource
from crm_core.cards.leads import LeadsResource
from crm_core.cards.schemas import CompanyCreate, ContactCreate, LeadCreate
from crm_core.models import Deal, Invoice, Lead, Quote
from crm_core.sales.deals import create_deal
from crm_core.sales.schemas import DealCreate

from .api_fixtures import _blank_engine, _engine, _sessionmaker  # noqa: F401 (fixtures)
from .test_sales_pages import _api, _world, column, deal, page, post  # noqa: F401 (fixtures)


def row(n: int, **fields: str) -> dict[str, str]:
    return {f"rows-{n}-{name}": value for name, value in fields.items()}


TWO_ROWS = {
    "rows_shown": "1",
    **row(1, name="Setup", quantity="3", price="33,33", discount_type="percent", discount_value="10",
          tax_rate="20", tax_included="0"),
    **row(2, product_id="", name="", quantity="1"),  # the empty row the form always has
}  # fmt: skip
"A typed row: 33.33 less 10 %% = 29.997 a unit, 3 of them 89.99, 18.00 VAT on top: 107.99."


@pytest.fixture(name="cards")
async def _cards(api):
    async with api.sessionmaker() as session:
        root = await load_principal(session, api.ids["root"])
        company = await CompaniesResource().create(session, root, CompanyCreate(title="Horns & Hooves"))
        anna = await ContactsResource().create(session, root, ContactCreate(name="Anna Petrova"))
        boris = await ContactsResource().create(session, root, ContactCreate(name="Boris Ivanov"))
        await session.commit()
    return {"company": company.id, "anna": anna.id, "boris": boris.id}


class TestNewDeal:
    async def test_two_rows_give_the_servers_exact_totals(self, api, world, cards):
        """A catalogue row (2 x 1,000.00 VAT included) and a typed row with a discount and VAT on top:
        the deal's amount is 2,107.99 of which 351.33 VAT, and its page shows those figures."""
        form = {
            "title": "Office fit-out",
            "stage_id": str(world["stages"]["PREPARATION"].id),
            "company_id": str(cards["company"]),
            "responsible_id": str(api.ids["ivan"]),
            "currency": "RUB",
            "amount": "",
            "close_date": "2026-12-31",
            "comments": "",
            **row(0, product_id=str(world["product"]), name="Widget", quantity="2", price="1000",
                  tax_rate="20", tax_included="1"),
            **TWO_ROWS,
        }  # fmt: skip
        response = await api.client.post(
            "/crm/deals/new",
            data=[*form.items(), ("contact_ids", str(cards["boris"])), ("contact_ids", str(cards["anna"]))],
            headers=api.browser("ivan"),
            allow_redirects=False,
        )

        assert 303 == response.status, await response.text()
        deal_id = int(response.headers["Location"].rsplit("/", 1)[1])
        made = await deal(api, deal_id)
        assert (Decimal("2107.99"), False, world["stages"]["PREPARATION"].id, cards["company"]) == (
            made.amount,
            made.amount_manual,
            made.stage_id,
            made.company_id,
        )
        _, html = await page(api, f"/crm/deals/{deal_id}", "root")
        assert re.search(r'class="num total">2,107.99<', html)
        assert re.search(r'class="num total-tax">351.33<', html)
        assert re.search(r'class="num total-discount">10.00<', html)
        contacts = re.search(r'class="linked-contacts">(.*?)</dd>', html, re.S).group(1)
        assert contacts.index("Boris Ivanov") < contacts.index("Anna Petrova")
        assert "Horns &amp; Hooves" in html

    async def test_a_bad_row_value_is_named_next_to_its_field(self, api, world):
        """A quantity of 0: 422, the form again with the row as typed and the problem; no deal."""
        form = {"title": "Nope", "rows_shown": "1", **row(0, name="Thing", quantity="0", price="5")}
        response = await post(api, "/crm/deals/new", "ivan", form)
        html = await response.text()

        assert 422 == response.status
        assert 'id="rows-0-quantity-error">Write a number above 0<' in html
        assert 'name="rows-0-name" class="row-name" value="Thing"' in html
        async with api.sessionmaker() as session:
            assert [] == list(await session.scalars(select(Deal.id).where(Deal.title == "Nope")))

    async def test_a_company_card_preselects_itself(self, api, world, cards):
        """``?company=ID`` (the company card's New deal button) selects it in the form."""
        status, html = await page(api, f"/crm/deals/new?company={cards['company']}", "root")

        assert 200 == status
        assert f'<option value="{cards["company"]}" selected>Horns &amp; Hooves</option>' in html
        _, card = await page(api, f"/crm/company/{cards['company']}", "root")
        assert f'href="/crm/deals/new?company={cards["company"]}"' in card


class TestEditDeal:
    async def test_rows_company_contacts_and_responsible(self, api, world, cards):
        """The form shows the saved row; posting it with 5 widgets makes the amount 5,000.00."""
        status, html = await page(api, f"/crm/deals/{world['ivan']}/edit", "ivan")
        assert 200 == status
        assert 'name="rows-0-quantity" class="row-quantity num" value="2"' in html
        assert 'name="rows-1-name"' in html  # and one empty row

        form = {
            "title": "Ivan's deal",
            "amount": "",
            "currency": "RUB",
            "company_id": str(cards["company"]),
            "contacts_shown": "1",
            "contact_ids": str(cards["anna"]),
            "responsible_id": str(api.ids["olga"]),
            "rows_shown": "1",
            **row(0, product_id=str(world["product"]), name="Widget", quantity="5", price="1000",
                  tax_rate="20", tax_included="1"),
        }  # fmt: skip
        response = await post(api, f"/crm/deals/{world['ivan']}/edit", "root", form)

        assert 303 == response.status, await response.text()
        saved = await deal(api, world["ivan"])
        assert (Decimal("5000.00"), cards["company"], api.ids["olga"]) == (
            saved.amount,
            saved.company_id,
            saved.responsible_id,
        )


class TestBoard:
    async def test_the_more_link_reaches_the_51st_deal(self, api, world):
        """52 deals in NEW: the column shows 50; its More link shows the rest, the oldest included."""
        async with api.sessionmaker() as session:
            root = await load_principal(session, api.ids["root"])
            for number in range(50):
                await create_deal(session, root, DealCreate(title=f"Bulk {number:02d}"))
            await session.commit()
        _, html = await page(api, "/crm/deals", "root")
        new = column(html, "NEW")
        assert 50 == new.count('class="card"')
        assert "Ivan&#39;s deal" not in new  # the oldest changed, beyond the first 50
        more = re.search(r'class="more-link" href="([^"]+)"', new).group(1).replace("&amp;", "&")

        _, rest = await page(api, more, "root")

        assert 2 == column(rest, "NEW").count('class="card"')
        assert "Ivan&#39;s deal" in column(rest, "NEW")

    async def test_search_and_responsible_filter_the_columns(self, api, world):
        """``q`` keeps titles containing it (any case); ``responsible`` one person's deals."""
        _, found = await page(api, "/crm/deals?q=OLGA", "root")
        assert 'data-count="1"' in column(found, "NEW")
        assert "Olga&#39;s deal" in column(found, "NEW")
        _, mine = await page(api, f"/crm/deals?responsible={api.ids['petr']}", "root")
        assert 'data-count="0"' in column(mine, "NEW")
        assert "Petr&#39;s deal" in column(mine, "PREPARATION")

    async def test_a_json_move_names_the_missing_loss_reason(self, api, world):
        """The board's script asks for JSON: 422 ``loss-reason-required``, then 200 with a reason."""
        lose = world["stages"]["LOSE"].id
        headers = {**api.browser("ivan"), "Accept": "application/json"}
        url = f"/crm/deals/{world['ivan']}/stage"
        refused = await api.client.post(url, data={"stage_id": str(lose)}, headers=headers)
        moved = await api.client.post(
            url, data={"stage_id": str(lose), "loss_reason": "Too dear"}, headers=headers
        )

        assert (422, "loss-reason-required") == (refused.status, (await refused.json())["error"])
        assert (200, lose) == (moved.status, (await moved.json())["stage_id"])
        assert "Too dear" == (await deal(api, world["ivan"])).loss_reason


class TestDealPage:
    async def test_note_history_reason_and_delete(self, api, world):
        """A note lands on the deal's timeline; the history shows the loss reason; Delete deletes."""
        lose = world["stages"]["LOSE"].id
        await post(
            api,
            f"/crm/deals/{world['ivan']}/stage",
            "ivan",
            {"stage_id": str(lose), "loss_reason": "Budget cut"},
        )
        response = await post(
            api, f"/crm/deals/{world['ivan']}/notes", "ivan", {"text": "Called back, no go"}
        )
        assert 303 == response.status

        _, html = await page(api, f"/crm/deals/{world['ivan']}", "ivan")
        assert re.search(r'<td class="loss">Budget cut</td>', html)
        assert "Called back, no go" in re.search(r'<ol class="timeline">.*?</ol>', html, re.S).group(0)

        response = await post(api, f"/crm/deals/{world['ivan']}/delete", "root", {})
        assert (303, "/crm/deals?deleted=1") == (response.status, response.headers["Location"])
        assert await deal(api, world["ivan"]) is None


class TestDocumentLists:
    async def test_filters_and_status_change(self, api, world):
        """Two quotes: the number search finds one; the status form sends it; the status filter
        then lists it under a translated label."""
        first = await post(api, f"/crm/deals/{world['ivan']}/quote", "root", {})
        await post(api, f"/crm/deals/{world['olga']}/quote", "root", {})
        quote_id = int(first.headers["Location"].split("/")[3])
        async with api.sessionmaker() as session:
            number = (await session.get(Quote, quote_id)).number

        _, found = await page(api, f"/crm/quotes?q={number}", "root")
        assert 1 == found.count("<tr data-document=")
        response = await post(
            api, f"/crm/quotes/{quote_id}/status", "root", {"status": "SENT", "back": "/crm/quotes"}
        )
        assert (303, "/crm/quotes") == (response.status, response.headers["Location"])

        _, sent = await page(api, "/crm/quotes?status=SENT", "ivan")
        assert [str(quote_id)] == re.findall(r'<tr data-document="(\d+)"', sent)
        assert "Sent to the customer" in sent
        _, later = await page(api, "/crm/quotes?start=2100-01-01", "root")
        assert "Nothing matches these filters." in later
        headers = {**api.browser("root", csrf=False), "Accept-Language": "ru"}
        russian = await (await api.client.get("/crm/quotes?status=SENT", headers=headers)).text()
        assert "Отправлен клиенту" in russian

    async def test_an_invoice_is_paid_from_the_deal_page(self, api, world):
        """The deal page's status form on an invoice: PAID through the service (paid_at set)."""
        made = await post(api, f"/crm/deals/{world['ivan']}/invoice", "root", {})
        invoice_id = int(made.headers["Location"].split("/")[3])
        _, html = await page(api, f"/crm/deals/{world['ivan']}", "root")
        assert f'action="/crm/invoices/{invoice_id}/status"' in html

        await post(
            api,
            f"/crm/invoices/{invoice_id}/status",
            "root",
            {"status": "PAID", "back": f"/crm/deals/{world['ivan']}"},
        )

        async with api.sessionmaker() as session:
            assert (await session.get(Invoice, invoice_id)).paid_at is not None


class TestLeadRows:
    async def test_the_lead_form_edits_rows_and_the_card_shows_them(self, api, world):
        """Rows posted with the lead form: the amount follows their total; the card lists them."""
        async with api.sessionmaker() as session:
            root = await load_principal(session, api.ids["root"])
            lead = await LeadsResource().create(session, root, LeadCreate(title="Inbound"))
            await session.commit()
        status, html = await page(api, f"/crm/lead/{lead.id}/edit", "root")
        assert 200 == status
        assert 'name="rows-0-product_id"' in html

        form = {
            "title": "Inbound",
            "status": "NEW",
            "source": "OTHER",
            "amount": "",
            "currency": "RUB",
            **TWO_ROWS,
        }
        response = await post(api, f"/crm/lead/{lead.id}/edit", "root", form)

        assert 303 == response.status, await response.text()
        async with api.sessionmaker() as session:
            saved = await session.get(Lead, lead.id)
        assert (Decimal("107.99"), False) == (saved.amount, saved.amount_manual)
        _, card = await page(api, f"/crm/lead/{lead.id}", "root")
        assert re.search(r'class="num total">107.99<', card)
        assert "Setup" in card


class TestCardDeals:
    async def test_stage_names_and_formatted_amounts(self, api, world, cards):
        """A company's deals show the stage's name and the amount as the deal page does."""
        async with api.sessionmaker() as session:
            root = await load_principal(session, api.ids["root"])
            await create_deal(
                session,
                root,
                DealCreate(title="Big", amount=Decimal("12345.50"), company_id=cards["company"]),
            )
            await session.commit()
        _, html = await page(api, f"/crm/company/{cards['company']}", "root")

        assert '<span class="stage">New</span> · 12,345.50 RUB' in html
