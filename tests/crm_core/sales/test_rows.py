"""Product rows: the rounding rules to the kopeck, and the totals of a deal with discounts and taxes."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from crm_core.models import Deal, ProductRow
from crm_core.rights import SYSTEM
from crm_core.sales import rows
from crm_core.sales.deals import create_deal, update_deal
from crm_core.sales.errors import BadValue
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import DealCreate, DealUpdate, ProductCreate, ProductUpdate, RowIn

from .builders import mixed_rows


class TestCompute:
    def test_percent_discount_with_vat_included(self):
        """
        1000.00 a unit with 20 % VAT inside, three units, 10 % off: 2700.00 of which 450.00 VAT.
        """
        amounts = rows.compute(
            quantity=D(3), price=D("1000.00"), discount_type="percent", discount_value=D(10), tax_rate=D(20)
        )

        assert (
            rows.RowAmounts(discount=D("300.00"), net=D("2250.00"), tax=D("450.00"), total=D("2700.00"))
            == amounts
        )

    def test_sum_discount_with_vat_added(self):
        """
        0.50 off each of seven units at 99.99, then 20 % VAT on top, rounded to the kopeck.
        """
        amounts = rows.compute(
            quantity=D(7),
            price=D("99.99"),
            discount_type="sum",
            discount_value=D("0.50"),
            tax_rate=D(20),
            tax_included=False,
        )

        assert (
            rows.RowAmounts(discount=D("3.50"), net=D("696.43"), tax=D("139.29"), total=D("835.72"))
            == amounts
        )

    def test_rounds_half_up_not_to_even(self):
        """
        Half a kopeck rounds up (0.125 -> 0.13), as accountants expect, not to even (0.12).
        """
        amounts = rows.compute(quantity=D(1), price=D("0.125"))

        assert D("0.13") == amounts.total

    def test_included_vat_is_extracted_from_the_line(self):
        """
        100.00 with 20 % VAT inside holds 16.67 VAT (100 * 20 / 120), leaving 83.33.
        """
        amounts = rows.compute(quantity=D(1), price=D("100.00"), tax_rate=D(20))

        assert (D("83.33"), D("16.67"), D("100.00")) == (amounts.net, amounts.tax, amounts.total)

    def test_fractional_quantity_and_added_vat(self):
        """
        2.5 kg at 199.90 is 499.75; 10 % VAT on top is 49.975, rounded half-up to 49.98.
        """
        amounts = rows.compute(quantity=D("2.5"), price=D("199.90"), tax_rate=D(10), tax_included=False)

        assert (D("499.75"), D("49.98"), D("549.73")) == (amounts.net, amounts.tax, amounts.total)

    def test_discount_is_rounded_once_per_row(self):
        """
        15 % off three units at 33.3333: the line (84.999915) rounds to 85.00, the discount is 15.00.
        """
        amounts = rows.compute(
            quantity=D(3), price=D("33.3333"), discount_type="percent", discount_value=D(15)
        )

        assert (D("15.00"), D("85.00")) == (amounts.discount, amounts.total)

    def test_no_rate_means_no_tax(self):
        """
        A row without a tax rate has no tax, included or not.
        """
        amounts = rows.compute(quantity=D(2), price=D("10.00"), tax_rate=None, tax_included=False)

        assert (D("0.00"), D("20.00")) == (amounts.tax, amounts.total)

    def test_discount_above_the_price_is_refused(self):
        """
        An amount off each unit larger than the unit price would make a negative row.
        """
        with pytest.raises(BadValue, match="between 0 and the price"):
            rows.compute(quantity=D(1), price=D("10.00"), discount_type="sum", discount_value=D("10.01"))

    def test_percentage_above_100_is_refused(self):
        """
        A discount of more than 100 % is refused.
        """
        with pytest.raises(BadValue, match="between 0 and 100"):
            rows.compute(quantity=D(1), price=D("10.00"), discount_type="percent", discount_value=D("100.5"))


class TestDealTotals:
    async def test_totals_with_discounts_and_taxes_to_the_kopeck(self, session, people, router):
        """
        % and sum discounts, VAT included and added: each row to the kopeck, totals their exact sums.
        """
        deal = await create_deal(
            session, people.ivanov, DealCreate(title="Office network", rows=mixed_rows(router.id))
        )
        await session.commit()

        totals = await rows.totals(session, ("deal", deal.id))
        assert D("4085.45") == deal.amount
        assert rows.RowAmounts(
            discount=D("303.50"), net=D("3446.18"), tax=D("639.27"), total=D("4085.45")
        ) == (rows.RowAmounts(discount=totals.discount, net=totals.net, tax=totals.tax, total=totals.total))
        assert [D("2700.00"), D("835.72"), D("549.73")] == [row.total for row in deal.rows]

    async def test_catalogue_values_are_copied_into_the_row(self, session, people, router):
        """
        A row from the catalogue copies the product's name, unit, price and VAT; editing the product later
        does not change the row.
        """
        deal = await create_deal(
            session, people.ivanov, DealCreate(title="Router", rows=[RowIn(product_id=router.id)])
        )
        await ProductsResource().update(session, SYSTEM, router.id, ProductUpdate(price=D("1500.00")))
        await session.commit()

        row = await session.scalar(select(ProductRow).where(ProductRow.owner_id == deal.id))
        assert ("Router", "pcs", D("1000.0000"), D("20.0000"), True) == (
            row.name,
            row.unit,
            row.price,
            row.tax_rate,
            row.tax_included,
        )

    async def test_rows_read_back_exactly(self, sessionmaker, people, router):
        """
        Amounts survive a round trip through the database unchanged (no float on SQLite either).
        """
        async with sessionmaker() as session:
            deal = await create_deal(
                session, people.ivanov, DealCreate(title="Net", rows=mixed_rows(router.id))
            )
            await session.commit()
        async with sessionmaker() as session:
            stored = await session.get(Deal, deal.id)
            assert D("4085.45") == stored.amount

    async def test_a_bad_row_names_itself_and_writes_nothing(self, session, people, router):
        """
        An impossible discount in the second row is refused naming rows[1]; the deal keeps its rows.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net", rows=mixed_rows(router.id)))
        bad = [
            RowIn(name="A", price=D(5)),
            RowIn(name="B", price=D(5), discount_type="sum", discount_value=D(6)),
        ]

        with pytest.raises(BadValue, match=r"rows\[1\]\.discount_value"):
            await update_deal(session, people.ivanov, deal.id, DealUpdate(rows=bad))

        assert 3 == len(await rows.load_rows(session, ("deal", deal.id)))

    async def test_product_in_another_currency_needs_a_price(self, session, people):
        """
        A USD product in a RUB deal is refused unless the row gives its price in RUB.
        """
        product = await ProductsResource().create(
            session, SYSTEM, ProductCreate(name="Licence", price=D("100.00"), currency="USD")
        )

        with pytest.raises(BadValue, match="priced in USD"):
            await create_deal(
                session, people.ivanov, DealCreate(title="L", rows=[RowIn(product_id=product.id)])
            )
        deal = await create_deal(
            session,
            people.ivanov,
            DealCreate(title="L", rows=[RowIn(product_id=product.id, price=D("9000.00"))]),
        )
        assert D("9000.00") == deal.amount


class TestCatalogueLinks:
    async def test_inactive_product_is_refused(self, session, people, router):
        """
        A product switched off in the catalogue cannot be put on a new row.
        """
        await ProductsResource().update(session, SYSTEM, router.id, ProductUpdate(active=False))

        with pytest.raises(BadValue, match=r"rows\[0\]\.product_id: product 'Router' is inactive"):
            await create_deal(
                session, people.ivanov, DealCreate(title="L", rows=[RowIn(product_id=router.id)])
            )

    async def test_deleting_a_product_keeps_its_rows(self, session, people, router):
        """
        Rows copied what they need: the product's deletion leaves them whole, without the link.
        """
        deal = await create_deal(
            session, people.ivanov, DealCreate(title="L", rows=[RowIn(product_id=router.id)])
        )

        await ProductsResource().delete(session, SYSTEM, router.id)
        session.expire_all()

        (row,) = await rows.load_rows(session, ("deal", deal.id))
        assert (None, "Router", D("1000.00")) == (row.product_id, row.name, row.total)


class TestCopyRows:
    async def test_copies_every_value_and_refreshes_the_target(self, session, people, router):
        """
        copy_rows appends the source's rows to the target and the target's amount follows.
        """
        source = await create_deal(session, people.ivanov, DealCreate(title="A", rows=mixed_rows(router.id)))
        target = await create_deal(
            session, people.ivanov, DealCreate(title="B", rows=[RowIn(name="X", price=D(1))])
        )

        copied = await rows.copy_rows(session, ("deal", source.id), ("deal", target.id))

        assert 3 == copied
        target_rows = await rows.load_rows(session, ("deal", target.id))
        assert ["X", "Router", "Installation", "Cable"] == [row.name for row in target_rows]
        assert D("4086.45") == (await session.get(Deal, target.id)).amount

    async def test_refuses_different_currencies(self, session, people, router):
        """
        Rows cannot move between a RUB deal and a USD deal: there is no rate to convert with.
        """
        source = await create_deal(session, people.ivanov, DealCreate(title="A", rows=mixed_rows(router.id)))
        target = await create_deal(session, people.ivanov, DealCreate(title="B", currency="USD"))

        with pytest.raises(BadValue, match="is in RUB"):
            await rows.copy_rows(session, ("deal", source.id), ("deal", target.id))
