"""Product rows on leads: exact totals, the amount following them unless typed, currency, rights,
lists, conversion to a deal, the revision that adds ``lead.amount_manual``, and imports."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy import event, insert, select

from crm_core.cards.conversion import LeadConversion, convert_lead
from crm_core.cards.schemas import LeadCreate, LeadUpdate
from crm_core.crud import ListQuery
from crm_core.db import UtcDateTime, make_sessionmaker, utc_now
from crm_core.errors import BadValue
from crm_core.migrate import upgrade
from crm_core.models import Deal, Lead, ProductRow
from crm_core.models.money import Money
from crm_core.rights import SYSTEM, Forbidden
from crm_core.sales.products import ProductsResource
from crm_core.sales.rows import load_rows, totals
from crm_core.sales.schemas import ProductCreate, RowIn
from crm_core.transfer.importer import import_table
from crm_core.transfer.mapping import ImportKind
from tests.crm_core.transfer.conftest import csv_table, mapping_for

TOTAL = D("4085.45")
"What :func:`three_rows` add up to: 2700.00 + 835.72 + 549.73."


@pytest.fixture(name="router_id")
async def _router_id(session) -> int:
    """A catalogue product: 1000.00 a unit, 20 % VAT included."""
    product = await ProductsResource().create(
        session, SYSTEM, ProductCreate(name="Router", price=D("1000.00"), vat_rate=D(20), vat_included=True)
    )
    await session.commit()
    return product.id


def three_rows(router_id: int) -> list[RowIn]:
    """The router x3 at 10 % off (VAT inside), 7 h at 0.50 off each (VAT added), cable (VAT 10 % added)."""
    return [
        RowIn(product_id=router_id, quantity=D(3), discount_type="percent", discount_value=D(10)),
        RowIn(
            name="Installation",
            unit="h",
            quantity=D(7),
            price=D("99.99"),
            discount_type="sum",
            discount_value=D("0.50"),
            tax_rate=D(20),
            tax_included=False,
        ),
        RowIn(
            name="Cable", unit="kg", quantity=D("2.5"), price=D("199.90"), tax_rate=D(10), tax_included=False
        ),
    ]


def money(out) -> list[tuple[str, D, D, D, D]]:
    return [(r.name, r.discount_amount, r.net_amount, r.tax_amount, r.total) for r in out.rows]


class TestTotals:
    async def test_rows_to_the_kopeck_with_discounts_and_vat(self, session, people, leads, router_id):
        """
        Each row is rounded on its own (discount %, discount per unit, VAT inside or on top); the lead's
        amount and totals are the sums of the rounded rows.
        """
        out = await leads.create(
            session, people.ivanov, LeadCreate(title="Office", rows=three_rows(router_id))
        )

        got = await leads.get(session, people.ivanov, out.id)
        assert [
            ("Router", D("300.00"), D("2250.00"), D("450.00"), D("2700.00")),
            ("Installation", D("3.50"), D("696.43"), D("139.29"), D("835.72")),
            ("Cable", D("0.00"), D("499.75"), D("49.98"), D("549.73")),
        ] == money(got)
        assert (TOTAL, False, "RUB") == (got.amount, got.amount_manual, got.currency)
        sums = await totals(session, ("lead", out.id))
        assert (D("303.50"), D("3446.18"), D("639.27"), TOTAL) == (
            sums.discount,
            sums.net,
            sums.tax,
            sums.total,
        )
        assert [10, 20, 30] == [r.sort for r in got.rows]


class TestAmount:
    async def test_follows_the_rows_replaced_and_cleared(self, session, people, leads, router_id):
        """
        Without a typed amount the lead's amount is the rows' total: after create, replace, and clear.
        """
        out = await leads.create(
            session, people.ivanov, LeadCreate(title="Office", rows=three_rows(router_id))
        )

        replaced = await leads.update(
            session,
            people.ivanov,
            out.id,
            LeadUpdate(rows=[RowIn(name="Box", quantity=D(3), price=D("333.33"))]),
        )
        kept = await leads.update(session, people.ivanov, out.id, LeadUpdate(title="Office, 2nd floor"))
        cleared = await leads.update(session, people.ivanov, out.id, LeadUpdate(rows=[]))

        assert (TOTAL, ["Box"], D("999.99")) == (out.amount, [r.name for r in replaced.rows], replaced.amount)
        assert (["Box"], D("999.99")) == ([r.name for r in kept.rows], kept.amount)
        assert ([], D("0.00"), False) == (cleared.rows, cleared.amount, cleared.amount_manual)
        assert [] == await load_rows(session, ("lead", out.id))

    async def test_a_typed_amount_sticks_until_null(self, session, people, leads, router_id):
        """
        An amount sent is kept whatever the rows do; ``amount: null`` goes back to the rows' total.
        """
        out = await leads.create(
            session,
            people.ivanov,
            LeadCreate(title="Office", amount=D("5000.00"), rows=three_rows(router_id)),
        )
        after_rows = await leads.update(
            session, people.ivanov, out.id, LeadUpdate(rows=[RowIn(name="Box", price=D("10.00"))])
        )
        typed_again = await leads.update(session, people.ivanov, out.id, LeadUpdate(amount=D("7.77")))

        back = await leads.update(session, people.ivanov, out.id, LeadUpdate(amount=None))

        assert (D("5000.00"), True) == (out.amount, out.amount_manual)
        assert (D("5000.00"), True) == (after_rows.amount, after_rows.amount_manual)
        assert (D("7.77"), True) == (typed_again.amount, typed_again.amount_manual)
        assert (D("10.00"), False) == (back.amount, back.amount_manual)

    async def test_null_amount_with_rows_in_one_update(self, session, people, leads):
        """
        ``amount: null`` sent with new rows: the amount is the new rows' total.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="Office", amount=D("1.00")))

        got = await leads.update(
            session,
            people.ivanov,
            out.id,
            LeadUpdate(amount=None, rows=[RowIn(name="Box", quantity=D(2), price=D("0.005"))]),
        )

        assert (D("0.01"), False) == (got.amount, got.amount_manual)

    async def test_a_lead_without_rows_or_amount_is_zero_and_follows(self, session, people, leads):
        """
        Left out, the amount is 0.00 and not typed: rows added later set it.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="Call"))
        got = await leads.update(
            session, people.ivanov, out.id, LeadUpdate(rows=[RowIn(name="Visit", price=D("1500.00"))])
        )

        assert (D("0.00"), False, []) == (out.amount, out.amount_manual, out.rows)
        assert D("1500.00") == got.amount


class TestCurrency:
    async def test_rows_are_in_the_leads_currency(self, session, people, leads, router_id):
        """
        A catalogue product priced in RUB needs a price on a USD lead; a free row is in USD.
        """
        with pytest.raises(BadValue) as caught:
            await leads.create(
                session,
                people.ivanov,
                LeadCreate(title="x", currency="USD", rows=[RowIn(product_id=router_id)]),
            )
        out = await leads.create(
            session,
            people.ivanov,
            LeadCreate(title="y", currency="USD", rows=[RowIn(product_id=router_id, price=D("12.00"))]),
        )

        assert "rows[0].price" == caught.value.field
        assert ("USD", D("12.00")) == (out.currency, out.amount)

    async def test_currency_changes_only_with_rows_sent(self, session, people, leads):
        """
        A lead with rows refuses a new currency alone (the prices would change meaning); with rows
        sent in the new currency it is accepted. A lead without rows changes freely.
        """
        with_rows = await leads.create(
            session, people.ivanov, LeadCreate(title="x", rows=[RowIn(name="Box", price=D("100.00"))])
        )
        without = await leads.create(session, people.ivanov, LeadCreate(title="y", amount=D("5.00")))

        with pytest.raises(BadValue) as caught:
            await leads.update(session, people.ivanov, with_rows.id, LeadUpdate(currency="EUR"))
        moved = await leads.update(
            session,
            people.ivanov,
            with_rows.id,
            LeadUpdate(currency="EUR", rows=[RowIn(name="Box", price=D("1.10"))]),
        )
        free = await leads.update(session, people.ivanov, without.id, LeadUpdate(currency="EUR"))

        assert ("currency", "EUR") == (caught.value.field, caught.value.value)
        assert "priced in RUB" in str(caught.value)
        assert ("EUR", D("1.10")) == (moved.currency, moved.amount)
        assert ("EUR", D("5.00")) == (free.currency, free.amount)


class TestValidation:
    async def test_unknown_product_names_the_row(self, session, people, leads, router_id):
        """
        A product id that does not exist is refused naming ``rows[1].product_id``; nothing changes.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="x", rows=three_rows(router_id)))

        with pytest.raises(BadValue) as caught:
            await leads.update(
                session,
                people.ivanov,
                out.id,
                LeadUpdate(rows=[RowIn(product_id=router_id), RowIn(product_id=router_id + 999)]),
            )

        assert ("rows[1].product_id", router_id + 999) == (caught.value.field, caught.value.value)
        assert (3, TOTAL) == (
            len(await load_rows(session, ("lead", out.id))),
            (await session.get(Lead, out.id)).amount,
        )

    def test_negative_quantity_names_the_field(self):
        """
        A quantity below zero is refused by the schema at ``rows.0.quantity``.
        """
        with pytest.raises(ValidationError) as caught:
            LeadUpdate.model_validate({"rows": [{"name": "Box", "price": "1", "quantity": "-1"}]})

        assert [("rows", 0, "quantity")] == [e["loc"] for e in caught.value.errors()]

    async def test_a_discount_over_the_price_names_the_row(self, session, people, leads):
        """
        A discount per unit above the price is refused by the rounding rules, naming the row.
        """
        rows = [RowIn(name="Box", price=D("10.00"), discount_type="sum", discount_value=D("11.00"))]

        with pytest.raises(BadValue) as caught:
            await leads.create(session, people.ivanov, LeadCreate(title="x", rows=rows))

        assert "rows[0].discount_value" == caught.value.field


class TestRights:
    async def test_own_update_cannot_set_rows_on_a_colleagues_lead(self, session, people, leads):
        """
        An agent updating only their own leads gets Forbidden for a colleague's rows, which stay.
        """
        out = await leads.create(
            session, people.ivanov, LeadCreate(title="x", rows=[RowIn(name="Box", price=D("100.00"))])
        )
        await session.commit()

        with pytest.raises(Forbidden):
            await leads.update(
                session, people.petrov, out.id, LeadUpdate(rows=[RowIn(name="Mine", price=D("1.00"))])
            )

        assert ["Box"] == [r.name for r in (await leads.get(session, people.petrov, out.id)).rows]


class TestList:
    async def test_a_page_loads_its_rows_in_one_query(self, engine, session, people, leads):
        """
        Listed leads carry their rows, read for the whole page by one statement.
        """
        for n in range(3):
            await leads.create(
                session,
                people.ivanov,
                LeadCreate(
                    title=f"Lead {n}", rows=[RowIn(name=f"Item {n}.{i}", price=D(n + 1)) for i in range(2)]
                ),
            )
        await leads.create(session, people.ivanov, LeadCreate(title="Lead 3"))
        await session.commit()
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            page = await leads.list(session, people.ivanov, ListQuery(sort=("title",)))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)

        assert [["Item 0.0", "Item 0.1"], ["Item 1.0", "Item 1.1"], ["Item 2.0", "Item 2.1"], []] == [
            [r.name for r in item.rows] for item in page.items
        ]
        assert [D("2.00"), D("4.00"), D("6.00"), D("0.00")] == [item.amount for item in page.items]
        assert 1 == sum("FROM product_row" in s for s in statements)


class TestConversion:
    async def test_rows_made_through_the_service_go_to_the_deal(self, session, people, leads, router_id):
        """
        A lead created with rows and converted: the deal has equal rows and the same total.
        """
        out = await leads.create(
            session, people.ivanov, LeadCreate(title="Office", rows=three_rows(router_id))
        )

        result = await convert_lead(session, people.ivanov, out.id, LeadConversion(deal=True))

        deal = await session.get(Deal, result.deal_id)
        deal_rows = await load_rows(session, ("deal", deal.id))
        fields = ("product_id", "name", "unit", "quantity", "price", "discount_type", "discount_value")
        fields += ("tax_rate", "tax_included", "discount_amount", "net_amount", "tax_amount", "total")
        assert [tuple(getattr(r, f) for f in fields) for r in await load_rows(session, ("lead", out.id))] == [
            tuple(getattr(r, f) for f in fields) for r in deal_rows
        ]
        assert (3, TOTAL, False) == (result.rows_copied, deal.amount, deal.amount_manual)
        assert (await totals(session, ("lead", out.id))) == (await totals(session, ("deal", deal.id)))

    async def test_a_typed_amount_goes_to_the_deal_typed(self, session, people, leads, router_id):
        """
        A lead whose amount was typed over its rows gives the deal that amount, typed too, and the rows.
        """
        out = await leads.create(
            session,
            people.ivanov,
            LeadCreate(title="Office", amount=D("3000.00"), rows=three_rows(router_id)),
        )

        result = await convert_lead(session, people.ivanov, out.id, LeadConversion(deal=True))

        deal = await session.get(Deal, result.deal_id)
        assert (3, D("3000.00"), True) == (result.rows_copied, deal.amount, deal.amount_manual)


class TestRevision:
    async def test_typed_amounts_without_rows_become_manual(self, blank_engine):
        """
        At 0009 the leads with an amount and no rows keep it as typed; leads with rows or 0 follow rows.
        """
        await upgrade(blank_engine, "0008")
        lead = sa.table(
            "lead",
            sa.column("id", sa.Integer()),
            sa.column("title", sa.String()),
            sa.column("source", sa.String()),
            sa.column("status", sa.String()),
            sa.column("amount", Money()),
            sa.column("created_at", UtcDateTime()),
            sa.column("updated_at", UtcDateTime()),
        )
        now = utc_now()
        async with blank_engine.begin() as conn:
            for id, amount in ((1, D("5000.00")), (2, D("999.99")), (3, D("0.00"))):
                await conn.execute(
                    insert(lead).values(
                        id=id,
                        title=f"L{id}",
                        source="OTHER",
                        status="NEW",
                        amount=amount,
                        created_at=now,
                        updated_at=now,
                    )
                )
            row = {
                "name": "Box",
                "unit": "pcs",
                "quantity": D(3),
                "price": D("333.33"),
                "discount_type": "none",
            }
            money_ = {
                "discount_amount": D(0),
                "net_amount": D("999.99"),
                "tax_amount": D(0),
                "total": D("999.99"),
            }
            await conn.execute(
                insert(ProductRow.__table__).values(
                    owner_type="lead",
                    owner_id=2,
                    sort=10,
                    discount_value=D(0),
                    tax_included=True,
                    **row,
                    **money_,
                )
            )

        await upgrade(blank_engine)

        async with make_sessionmaker(blank_engine)() as session:
            got = dict((await session.execute(select(Lead.id, Lead.amount_manual).order_by(Lead.id))).all())
            amounts = list(await session.scalars(select(Lead.amount).order_by(Lead.id)))
        assert {1: True, 2: False, 3: False} == got
        assert [D("5000.00"), D("999.99"), D("0.00")] == amounts


class TestImport:
    async def test_an_amount_column_is_typed(self, session, people):
        """
        Imported leads keep working: an amount in the file is typed by hand; none follows the (no) rows.
        """
        table = csv_table("Название;Сумма\nС суммой;1 234,50\nБез суммы;\n")

        report = await import_table(session, people.admin, table, mapping_for(ImportKind.LEADS, table))

        got = dict((await session.execute(select(Lead.title, Lead.amount_manual).order_by(Lead.title))).all())
        assert (2, []) == (report.created, report.errors)
        assert {"С суммой": True, "Без суммы": False} == got
