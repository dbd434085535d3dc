"""The sales pages on both databases: deals by stage, moving deals, the deal card and form, products,
quotes and invoices made from a deal, the funnel chart; rights enforced by the services."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.models import Deal, Product, Quote
from crm_core.sales.deals import create_deal, move_deal
from crm_core.sales.pipelines import default_pipeline, load_stages
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import DealCreate, ProductCreate, RowIn

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


@pytest.fixture(name="world")
async def _world(api):
    """A catalogue product and three deals: ivan's (2 x 1,000.00 incl. 20 % VAT), olga's, petr's."""
    async with api.sessionmaker() as session:
        root = await load_principal(session, api.ids["root"])
        product = await ProductsResource().create(
            session, root, ProductCreate(name="Widget <b>", price=Decimal("1000.00"), vat_rate=Decimal(20))
        )
        stages = {s.code: s for s in await load_stages(session, (await default_pipeline(session)).id)}
        ivan = await create_deal(
            session,
            await load_principal(session, api.ids["ivan"]),
            DealCreate(title="Ivan's deal", rows=[RowIn(product_id=product.id, quantity=Decimal(2))]),
        )
        olga = await create_deal(
            session,
            root,
            DealCreate(title="Olga's deal", amount=Decimal("500.00"), responsible_id=api.ids["olga"]),
        )
        petr = await create_deal(
            session,
            root,
            DealCreate(title="Petr's deal", amount=Decimal("70.00"), responsible_id=api.ids["petr"]),
        )
        await move_deal(session, root, petr.id, stages["PREPARATION"].id)
        await session.commit()
    return {"product": product.id, "ivan": ivan.id, "olga": olga.id, "petr": petr.id, "stages": stages}


async def page(api, path: str, login: str) -> tuple[int, str]:
    response = await api.client.get(path, headers=api.browser(login, csrf=False), allow_redirects=False)
    return response.status, await response.text()


async def post(api, path: str, login: str, data: dict, *, csrf: bool = True):
    return await api.client.post(
        path, data=data, headers=api.browser(login, csrf=csrf), allow_redirects=False
    )


def column(html: str, code: str) -> str:
    """The HTML of one stage's column on the board."""
    match = re.search(rf'<section class="column \w+" data-stage="{code}".*?</section>', html, re.S)
    assert match, f"no column {code}"
    return match.group(0)


async def deal(api, deal_id: int) -> Deal:
    async with api.sessionmaker() as session:
        return await session.get(Deal, deal_id)


class TestBoard:
    async def test_columns_count_and_sum_the_deals_of_each_stage(self, api, world):
        """The admin's board: NEW holds ivan's and olga's deals (2,500.00), PREPARATION petr's."""
        status, html = await page(api, "/crm/deals", "root")

        assert 200 == status
        new = column(html, "NEW")
        assert 'data-count="2"' in new
        assert "2,500.00 RUB" in new
        assert "Ivan&#39;s deal" in new
        assert "Olga&#39;s deal" in new
        preparation = column(html, "PREPARATION")
        assert 'data-count="1"' in preparation
        assert "Petr&#39;s deal" in preparation
        assert 'data-count="0"' in column(html, "WON")

    async def test_an_agent_sees_only_the_deals_their_department_may_read(self, api, world):
        """Ivan (Sales) sees Sales' deals; petr's deal (Support) is neither listed nor summed."""
        _, html = await page(api, "/crm/deals", "ivan")

        assert "Petr&#39;s deal" not in html
        assert 'data-count="0"' in column(html, "PREPARATION")
        assert 'data-count="2"' in column(html, "NEW")

    async def test_the_board_speaks_russian(self, api, world):
        """Counts take the Russian plural and sums the Russian separators."""
        headers = {**api.browser("root", csrf=False), "Accept-Language": "ru"}
        response = await api.client.get("/crm/deals", headers=headers)
        html = await response.text()

        assert "2 сделки" in column(html, "NEW")
        assert "2\u202f500,00 RUB" in column(html, "NEW")

    async def test_anonymous_is_sent_to_the_login(self, api, world):
        """No session: the login page, coming back to the board afterwards."""
        response = await api.client.get("/crm/deals", allow_redirects=False)

        assert 302 == response.status
        assert response.headers["Location"].startswith("/login")


class TestMoveDeal:
    async def test_the_form_moves_the_deal_and_returns_to_the_board(self, api, world):
        """POST stage_id: 303 back to the board; the deal is in the new stage with a history row."""
        target = world["stages"]["EXECUTING"].id
        response = await post(
            api,
            f"/crm/deals/{world['ivan']}/stage",
            "ivan",
            {"stage_id": str(target), "back": "/crm/deals?pipeline=1"},
        )

        assert 303 == response.status
        assert "/crm/deals?pipeline=1" == response.headers["Location"]
        assert target == (await deal(api, world["ivan"])).stage_id

    async def test_a_failure_stage_asks_for_the_loss_reason(self, api, world):
        """Without a reason: 422 and a form asking for it; the deal has not moved."""
        lose = world["stages"]["LOSE"]
        response = await post(api, f"/crm/deals/{world['ivan']}/stage", "ivan", {"stage_id": str(lose.id)})
        html = await response.text()

        assert 422 == response.status
        assert 'name="loss_reason"' in html
        assert f'name="stage_id" value="{lose.id}"' in html
        assert "Deal lost" in html
        assert world["stages"]["NEW"].id == (await deal(api, world["ivan"])).stage_id

    async def test_with_the_reason_the_deal_is_lost(self, api, world):
        """The reason given on the form is kept on the deal, which is closed."""
        lose = world["stages"]["LOSE"]
        response = await post(
            api,
            f"/crm/deals/{world['ivan']}/stage",
            "ivan",
            {"stage_id": str(lose.id), "loss_reason": "Too expensive"},
        )

        assert 303 == response.status
        lost = await deal(api, world["ivan"])
        assert (lose.id, "Too expensive", True) == (lost.stage_id, lost.loss_reason, lost.closed)

    async def test_an_agent_may_not_move_a_colleagues_deal(self, api, world):
        """Ivan may read olga's deal but not change it: 403 and it stays."""
        target = world["stages"]["EXECUTING"].id
        response = await post(api, f"/crm/deals/{world['olga']}/stage", "ivan", {"stage_id": str(target)})

        assert 403 == response.status
        assert "You may not update this deal" in await response.text()
        assert world["stages"]["NEW"].id == (await deal(api, world["olga"])).stage_id

    async def test_without_the_csrf_token_nothing_moves(self, api, world):
        """A forged form post is refused by the CSRF check."""
        target = world["stages"]["EXECUTING"].id
        response = await post(
            api, f"/crm/deals/{world['ivan']}/stage", "ivan", {"stage_id": str(target)}, csrf=False
        )

        assert 403 == response.status
        assert world["stages"]["NEW"].id == (await deal(api, world["ivan"])).stage_id


class TestDealCard:
    async def test_rows_and_totals(self, api, world):
        """Two widgets at 1,000.00 with 20 % VAT included: 2,000.00 total of which 333.33 VAT."""
        status, html = await page(api, f"/crm/deals/{world['ivan']}", "ivan")

        assert 200 == status
        assert "Widget &lt;b&gt;" in html
        assert re.search(r'class="num total-tax">333.33<', html)
        assert re.search(r'class="num total-net">1,666.67<', html)
        assert re.search(r'class="num total">2,000.00<', html)

    async def test_another_departments_deal_is_403(self, api, world):
        """Ivan may not read petr's deal (Support)."""
        status, _ = await page(api, f"/crm/deals/{world['petr']}", "ivan")

        assert 403 == status

    async def test_unknown_deal_is_404(self, api, world):
        """A deal that does not exist."""
        status, _ = await page(api, "/crm/deals/999999", "root")

        assert 404 == status

    async def test_the_edit_form_saves(self, api, world):
        """Title, a hand-typed amount in the Russian way, close date and comments are saved."""
        status, html = await page(api, f"/crm/deals/{world['ivan']}/edit", "ivan")
        assert 200 == status
        assert 'value="Ivan&#39;s deal"' in html

        response = await post(
            api,
            f"/crm/deals/{world['ivan']}/edit",
            "ivan",
            {
                "title": "Bigger deal",
                "amount": "1 234,50",
                "close_date": "2026-12-31",
                "comments": "call Mon",
            },
        )

        assert 303 == response.status
        saved = await deal(api, world["ivan"])
        assert ("Bigger deal", Decimal("1234.50"), True, "call Mon") == (
            saved.title,
            saved.amount,
            saved.amount_manual,
            saved.comments,
        )

    async def test_a_bad_amount_is_named(self, api, world):
        """422: the form again with what was typed and the problem named; nothing changes."""
        response = await post(
            api, f"/crm/deals/{world['ivan']}/edit", "ivan", {"title": "X", "amount": "lots"}
        )

        html = await response.text()

        assert 422 == response.status
        assert "Amount is not a number: lots" in html
        assert 'value="lots"' in html
        assert 'value="X"' in html
        assert "Ivan's deal" == (await deal(api, world["ivan"])).title


class TestDocuments:
    async def test_make_a_quote_then_an_invoice_from_the_deal(self, api, world):
        """Each button makes the document and opens its printable page; the lists and the card link it."""
        response = await post(api, f"/crm/deals/{world['ivan']}/quote", "root", {})
        assert 303 == response.status
        quote_url = response.headers["Location"]
        assert re.fullmatch(r"/crm/quotes/\d+/print", quote_url)
        response = await post(api, f"/crm/deals/{world['ivan']}/invoice", "root", {})
        assert 303 == response.status
        invoice_url = response.headers["Location"]
        assert re.fullmatch(r"/crm/invoices/\d+/print", invoice_url)

        printed_status, printed = await page(api, quote_url, "root")
        assert 200 == printed_status
        assert "2,000.00" in printed
        _, quotes = await page(api, "/crm/quotes", "root")
        assert f'href="{quote_url}"' in quotes
        _, invoices = await page(api, "/crm/invoices", "root")
        assert f'href="{invoice_url}"' in invoices
        _, card = await page(api, f"/crm/deals/{world['ivan']}", "root")
        assert f'href="{quote_url}"' in card
        assert f'href="{invoice_url}"' in card

    async def test_an_agent_cannot_make_a_quote_for_a_colleagues_deal(self, api, world):
        """The quote service refuses (ivan may add quotes only as his own): 403, no quote."""
        response = await post(api, f"/crm/deals/{world['olga']}/quote", "ivan", {})

        assert 403 == response.status
        async with api.sessionmaker() as session:
            assert [] == list(await session.scalars(select(Quote.id)))


class TestProducts:
    async def test_the_catalogue_lists_and_searches(self, api, world):
        """Everyone reads the catalogue; the search narrows it by name."""
        status, html = await page(api, "/crm/products?q=widg", "ivan")

        assert 200 == status
        assert "Widget &lt;b&gt;" in html
        assert "1,000.00 RUB" in html
        assert "/crm/products/new" not in html
        _, none = await page(api, "/crm/products?q=nothing-like-it", "ivan")
        assert "No products found." in none

    async def test_an_admin_adds_and_edits_a_product(self, api, world):
        """New product from the form, then a changed price; both land in the catalogue."""
        form = {"name": "Service", "unit": "h", "price": "1 500,00", "currency": "rub", "vat_rate": ""}
        response = await post(api, "/crm/products", "root", {**form, "active": "1", "vat_included": "1"})
        assert 303 == response.status
        async with api.sessionmaker() as session:
            made = await session.scalar(select(Product).where(Product.name == "Service"))
        assert (Decimal("1500.00"), "RUB", None, True) == (
            made.price,
            made.currency,
            made.vat_rate,
            made.active,
        )

        response = await post(
            api, f"/crm/products/{made.id}/edit", "root", {**form, "price": "1600", "active": "1"}
        )
        assert 303 == response.status
        async with api.sessionmaker() as session:
            edited = await session.get(Product, made.id)
        assert (Decimal("1600.0000"), False) == (edited.price, edited.vat_included)

    async def test_an_agent_may_not_add_products(self, api, world):
        """The form and the post are refused: the catalogue is the admin's."""
        status, _ = await page(api, "/crm/products/new", "ivan")
        assert 403 == status
        response = await post(api, "/crm/products", "ivan", {"name": "Mine", "active": "1"})
        assert 403 == response.status


class TestFunnelPage:
    async def test_both_charts_are_server_rendered_svg(self, api, world):
        """The page holds the two SVG charts (no script): NEW counted 3 times, PREPARATION once."""
        status, html = await page(api, "/crm/funnel", "root")

        assert 200 == status
        assert "3 deals in the report" in html
        passed = re.search(r'<svg[^>]*data-variant="passed".*?</svg>', html, re.S).group(0)
        assert re.search(r'data-stage="NEW" data-count="3"', passed)
        assert re.search(r'data-stage="PREPARATION" data-count="1"', passed)
        conversion = re.search(r'<svg[^>]*data-variant="conversion".*?</svg>', html, re.S).group(0)
        assert re.search(r'data-stage="PREPARATION" data-count="1"', conversion)
        assert "<script" not in passed

    async def test_filters_by_responsible_and_period(self, api, world):
        """Only olga's deal for olga; a period before everything counts nothing."""
        _, olga = await page(api, f"/crm/funnel?responsible={api.ids['olga']}", "root")
        assert "1 deal in the report" in olga
        _, past = await page(api, "/crm/funnel?start=2001-01-01&end=2001-01-31", "root")
        assert "0 deals in the report" in past
        assert "No deals in this period." in past

    async def test_a_bad_date_is_named(self, api, world):
        """422 naming the value."""
        status, html = await page(api, "/crm/funnel?start=yesterday", "root")

        assert 422 == status
        assert "Not a date (YYYY-MM-DD): yesterday" in html
