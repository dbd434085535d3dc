"""Row sets with known totals, shared by the sales tests."""

from __future__ import annotations

from decimal import Decimal as D

from crm_core.sales.schemas import RowIn

MIXED_TOTAL = D("4085.45")
"What :func:`mixed_rows` add up to: 2700.00 + 835.72 + 549.73."


def mixed_rows(router_id: int) -> list[RowIn]:
    """The router from the catalogue (1000.00, 20 % VAT inside) x3 at 10 % off, and two free rows."""
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
