"""Product rows of leads, deals, quotes and invoices, and their exact totals.

Rounding rules (money is :class:`~decimal.Decimal` throughout, never float):

- Each row is rounded on its own, half-up to the kopeck (0.01); owner totals are the sums of the
  rounded row values, so a printed invoice always adds up line by line.
- The unit price after discount is kept exact: ``price * (1 - percent / 100)`` for a percentage,
  ``price - sum`` for an amount off each unit (which may not exceed the price).
- ``line = round(unit price after discount * quantity)``; the row's ``discount_amount`` is
  ``round(price * quantity) - line``.
- Tax included (the price already contains it): ``tax = round(line * rate / (100 + rate))``,
  ``net = line - tax``, ``total = line``.
- Tax added on top: ``net = line``, ``tax = round(line * rate / 100)``, ``total = line + tax``.
- No tax rate (None): ``tax = 0``, ``net = total = line``.

Rows are in the owner's currency. A row taken from the catalogue copies the product's name, unit,
price and VAT at that moment, so editing the catalogue never changes an existing deal or invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import Deal, DiscountType, Invoice, Lead, Product, ProductRow, Quote, RowOwner
from .errors import BadValue
from .schemas import RowIn, RowOut, Totals

__all__ = [
    "OwnerKey",
    "RowAmounts",
    "compute",
    "copy_rows",
    "load_rows",
    "load_rows_of",
    "replace_rows",
    "row_out",
    "totals",
]

log = structlog.get_logger(__name__)

OwnerKey = tuple[str, int]
"""``("deal", 42)``: the owner's type (a :class:`RowOwner` value) and id."""

KOPECK: Final = Decimal("0.01")
_HUNDRED: Final = Decimal(100)
_ZERO: Final = Decimal("0.00")
_OWNERS: Final = {
    RowOwner.LEAD: Lead,
    RowOwner.DEAL: Deal,
    RowOwner.QUOTE: Quote,
    RowOwner.INVOICE: Invoice,
}


def _round(value: Decimal) -> Decimal:
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class RowAmounts:
    """The computed money of one row, each rounded to the kopeck."""

    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


def compute(
    *,
    quantity: Decimal,
    price: Decimal,
    discount_type: str = DiscountType.NONE,
    discount_value: Decimal = _ZERO,
    tax_rate: Decimal | None = None,
    tax_included: bool = True,
) -> RowAmounts:
    """Apply the module's rounding rules to one row; raise :class:`BadValue` for an impossible discount."""
    match DiscountType(discount_type):
        case DiscountType.NONE:
            unit = price
        case DiscountType.PERCENT:
            if not _ZERO <= discount_value <= _HUNDRED:
                raise BadValue(
                    "discount_value", str(discount_value), "a percentage must be between 0 and 100"
                )
            unit = price * (_HUNDRED - discount_value) / _HUNDRED
        case DiscountType.SUM:
            if not _ZERO <= discount_value <= price:
                raise BadValue(
                    "discount_value",
                    str(discount_value),
                    f"the amount off each unit must be between 0 and the price ({price})",
                )
            unit = price - discount_value
    line = _round(unit * quantity)
    discount = _round(price * quantity) - line
    if tax_rate is None or tax_rate == 0:
        return RowAmounts(discount=discount, net=line, tax=_ZERO, total=line)
    if tax_included:
        tax = _round(line * tax_rate / (_HUNDRED + tax_rate))
        return RowAmounts(discount=discount, net=line - tax, tax=tax, total=line)
    tax = _round(line * tax_rate / _HUNDRED)
    return RowAmounts(discount=discount, net=line, tax=tax, total=line + tax)


def _owner(owner: OwnerKey) -> tuple[RowOwner, int]:
    kind, owner_id = owner
    try:
        return RowOwner(kind), owner_id
    except ValueError:
        allowed = tuple(RowOwner)
        raise BadValue("owner_type", kind, "rows belong to a lead, deal, quote or invoice", allowed) from None


async def owner_currency(session: AsyncSession, owner: OwnerKey) -> str:
    """The currency of the rows' owner; raise :class:`NotFound` when there is no such owner."""
    kind, owner_id = _owner(owner)
    model = _OWNERS[kind]
    currency = await session.scalar(select(model.currency).where(model.id == owner_id))
    if currency is None:
        raise NotFound(kind.value, owner_id)
    return currency


def row_out(row: ProductRow) -> RowOut:
    return RowOut.model_validate(row, from_attributes=True)


async def load_rows(session: AsyncSession, owner: OwnerKey) -> list[ProductRow]:
    """The owner's rows in their order."""
    kind, owner_id = _owner(owner)
    stmt = (
        select(ProductRow)
        .where(ProductRow.owner_type == kind.value, ProductRow.owner_id == owner_id)
        .order_by(ProductRow.sort, ProductRow.id)
    )
    return list(await session.scalars(stmt))


async def load_rows_of(
    session: AsyncSession, kind: str, owner_ids: Sequence[int]
) -> dict[int, list[ProductRow]]:
    """The rows of many owners of one type in one query (a page of a list): owner id -> its rows in order."""
    owner_kind, _ = _owner((kind, 0))
    found: dict[int, list[ProductRow]] = {owner_id: [] for owner_id in owner_ids}
    if owner_ids:
        stmt = (
            select(ProductRow)
            .where(ProductRow.owner_type == owner_kind.value, ProductRow.owner_id.in_(owner_ids))
            .order_by(ProductRow.owner_id, ProductRow.sort, ProductRow.id)
        )
        for row in await session.scalars(stmt):
            found[row.owner_id].append(row)
    return found


async def totals(session: AsyncSession, owner: OwnerKey) -> Totals:
    """The owner's totals: exact sums of its rounded rows, computed by the database."""
    kind, owner_id = _owner(owner)
    stmt = select(
        func.coalesce(func.sum(ProductRow.discount_amount), 0),
        func.coalesce(func.sum(ProductRow.net_amount), 0),
        func.coalesce(func.sum(ProductRow.tax_amount), 0),
        func.coalesce(func.sum(ProductRow.total), 0),
    ).where(ProductRow.owner_type == kind.value, ProductRow.owner_id == owner_id)
    # The sums come back as exact Decimals through the columns' type (an owner without rows: 0.00).
    discount, net, tax, total = (await session.execute(stmt)).one()
    return Totals(discount=discount, net=net, tax=tax, total=total)


async def _build(
    session: AsyncSession, kind: RowOwner, owner_id: int, rows: Sequence[RowIn], currency: str
) -> list[ProductRow]:
    product_ids = {row.product_id for row in rows if row.product_id is not None}
    products: dict[int, Product] = {}
    if product_ids:
        found = await session.scalars(select(Product).where(Product.id.in_(product_ids)))
        products = {product.id: product for product in found}
    built = []
    for index, row in enumerate(rows):
        where = f"rows[{index}]"
        sent = row.model_fields_set
        product = None
        if row.product_id is not None:
            product = products.get(row.product_id)
            if product is None:
                raise BadValue(f"{where}.product_id", row.product_id, f"no product with id {row.product_id}")
            if not product.active:
                raise BadValue(f"{where}.product_id", row.product_id, f"product {product.name!r} is inactive")
        name = row.name if row.name is not None else (product.name if product else None)
        if not name:
            raise BadValue(f"{where}.name", None, "a row without a product needs a name")
        if row.price is not None:
            price = row.price
        elif product is not None:
            if product.currency != currency:
                raise BadValue(
                    f"{where}.price",
                    None,
                    f"product {product.name!r} is priced in {product.currency}, the rows are in {currency}; "
                    "give the price",
                )
            price = product.price
        else:
            raise BadValue(f"{where}.price", None, "a row without a product needs a price")
        tax_rate = row.tax_rate if "tax_rate" in sent or product is None else product.vat_rate
        tax_included = row.tax_included if "tax_included" in sent or product is None else product.vat_included
        unit = row.unit if row.unit is not None else (product.unit if product else "pcs")
        try:
            amounts = compute(
                quantity=row.quantity,
                price=price,
                discount_type=row.discount_type,
                discount_value=row.discount_value,
                tax_rate=tax_rate,
                tax_included=tax_included,
            )
        except BadValue as exc:
            raise BadValue(f"{where}.{exc.field}", exc.value, str(exc).partition(": ")[2]) from None
        built.append(
            ProductRow(
                owner_type=kind.value,
                owner_id=owner_id,
                sort=(index + 1) * 10,
                product_id=row.product_id,
                name=name,
                unit=unit,
                quantity=row.quantity,
                price=price,
                discount_type=row.discount_type,
                discount_value=row.discount_value,
                tax_rate=tax_rate,
                tax_included=tax_included,
                discount_amount=amounts.discount,
                net_amount=amounts.net,
                tax_amount=amounts.tax,
                total=amounts.total,
            )
        )
    return built


async def replace_rows(session: AsyncSession, owner: OwnerKey, rows: Sequence[RowIn]) -> Totals:
    """Replace all the owner's rows with *rows* and refresh the owner's amounts; return the totals.

    Like Bitrix24's ``productrows.set``: the list sent is the whole list. Nothing is written when a
    row is invalid (the error names it: ``rows[2].discount_value: ...``).
    """
    kind, owner_id = _owner(owner)
    currency = await owner_currency(session, owner)
    built = await _build(session, kind, owner_id, rows, currency)
    await delete_rows(session, owner)
    session.add_all(built)
    await session.flush()
    result = await refresh_owner(session, owner)
    log.info("product_rows_replaced", owner_type=kind.value, owner_id=owner_id, rows=len(built))
    return result


async def delete_rows(session: AsyncSession, owner: OwnerKey) -> None:
    """Delete the owner's rows (the owner is being deleted, or its rows replaced)."""
    kind, owner_id = _owner(owner)
    await session.execute(
        delete(ProductRow).where(ProductRow.owner_type == kind.value, ProductRow.owner_id == owner_id)
    )


async def copy_rows(session: AsyncSession, src: OwnerKey, dst: OwnerKey) -> int:
    """Append copies of *src*'s rows to *dst*'s (lead -> deal, deal -> quote...); return how many.

    The copies keep every input and computed amount as they are (the same rules made them), and
    *dst*'s amounts are refreshed. Both owners must use the same currency: there is no exchange
    rate to convert with, and silently keeping the numbers would change the money.
    """
    src_kind, src_id = _owner(src)
    dst_kind, dst_id = _owner(dst)
    src_currency = await owner_currency(session, src)
    dst_currency = await owner_currency(session, dst)
    if src_currency != dst_currency:
        raise BadValue(
            "currency",
            dst_currency,
            f"{src_kind.value} {src_id} is in {src_currency}, {dst_kind.value} {dst_id} in {dst_currency}",
        )
    existing = await session.scalar(
        select(func.coalesce(func.max(ProductRow.sort), 0)).where(
            ProductRow.owner_type == dst_kind.value, ProductRow.owner_id == dst_id
        )
    )
    copies = [
        ProductRow(
            owner_type=dst_kind.value,
            owner_id=dst_id,
            sort=int(existing or 0) + (index + 1) * 10,
            product_id=row.product_id,
            name=row.name,
            unit=row.unit,
            quantity=row.quantity,
            price=row.price,
            discount_type=row.discount_type,
            discount_value=row.discount_value,
            tax_rate=row.tax_rate,
            tax_included=row.tax_included,
            discount_amount=row.discount_amount,
            net_amount=row.net_amount,
            tax_amount=row.tax_amount,
            total=row.total,
        )
        for index, row in enumerate(await load_rows(session, src))
    ]
    session.add_all(copies)
    await session.flush()
    await refresh_owner(session, dst)
    log.info(
        "product_rows_copied",
        src=f"{src_kind.value}:{src_id}",
        dst=f"{dst_kind.value}:{dst_id}",
        rows=len(copies),
    )
    return len(copies)


async def refresh_owner(session: AsyncSession, owner: OwnerKey) -> Totals:
    """Write the rows' totals onto the owner and return them.

    A lead's or a deal's amount becomes the total unless someone typed it (``amount_manual``); a
    quote's or an invoice's totals are always the rows'.
    """
    kind, owner_id = _owner(owner)
    result = await totals(session, owner)
    if kind in (RowOwner.LEAD, RowOwner.DEAL):
        card: Lead | Deal | None = await session.get(Lead if kind is RowOwner.LEAD else Deal, owner_id)
        if card is not None and not card.amount_manual:
            card.amount = result.total
    elif kind in (RowOwner.QUOTE, RowOwner.INVOICE):
        document = await session.get(_OWNERS[kind], owner_id)
        if document is not None:
            document.discount_total = result.discount
            document.net_total = result.net
            document.tax_total = result.tax
            document.total = result.total
    await session.flush()
    return result
