"""What sales clients send and receive (pydantic: validation and the OpenAPI schemas in one place).

Money travels as decimal strings in JSON (``"1234.50"``), never as floats. Update schemas leave
every field optional; services change only the fields a client sent (``model_fields_set``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..models import DiscountType, StatusSemantic

__all__ = [
    "Currency",
    "DealCreate",
    "DealOut",
    "DealUpdate",
    "FieldType",
    "FunnelReport",
    "FunnelStage",
    "InvoiceCreate",
    "InvoiceOut",
    "InvoiceUpdate",
    "PipelineCreate",
    "PipelineOut",
    "PipelineUpdate",
    "ProductCreate",
    "ProductOut",
    "ProductUpdate",
    "QuoteCreate",
    "QuoteOut",
    "QuoteUpdate",
    "RowIn",
    "RowOut",
    "SectionCreate",
    "SectionField",
    "SectionOut",
    "SectionUpdate",
    "StageHistoryOut",
    "StageIn",
    "StageOut",
    "Totals",
]

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"ISO 4217 code: RUB, USD, EUR..."
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Money = Annotated[Decimal, Field(max_digits=18, decimal_places=2, ge=0)]
Price = Annotated[Decimal, Field(max_digits=18, decimal_places=4, ge=0)]
Quantity = Annotated[Decimal, Field(max_digits=18, decimal_places=3, gt=0)]
Percent = Annotated[Decimal, Field(max_digits=9, decimal_places=4, ge=0, le=100)]
FieldType = Literal["string", "number", "boolean", "date"]

_OUT = ConfigDict(from_attributes=True)
_IN = ConfigDict(extra="forbid")


# -- catalogue -------------------------------------------------------------------------------------


class SectionField(BaseModel):
    """One custom field of a section's products."""

    model_config = _IN

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
    name: Name
    type: FieldType = "string"
    required: bool = False


class SectionCreate(BaseModel):
    model_config = _IN

    name: Name
    parent_id: int | None = None
    sort: int = 500
    fields: list[SectionField] = []


class SectionUpdate(BaseModel):
    model_config = _IN

    name: Name | None = None
    parent_id: int | None = None
    sort: int | None = None
    fields: list[SectionField] | None = None


class SectionOut(BaseModel):
    model_config = _OUT

    id: int
    name: str
    parent_id: int | None
    sort: int
    fields: list[SectionField]


class ProductCreate(BaseModel):
    model_config = _IN

    name: Name
    section_id: int | None = None
    description: str = ""
    unit: Unit = "pcs"
    price: Price = Decimal(0)
    currency: Currency = "RUB"
    vat_rate: Percent | None = None
    "None: no VAT at all (not the same as a 0 % rate)."
    vat_included: bool = True
    active: bool = True
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    sort: int = 500
    properties: dict[str, Any] = {}


class ProductUpdate(BaseModel):
    model_config = _IN

    name: Name | None = None
    section_id: int | None = None
    description: str | None = None
    unit: Unit | None = None
    price: Price | None = None
    currency: Currency | None = None
    vat_rate: Percent | None = None
    vat_included: bool | None = None
    active: bool | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    sort: int | None = None
    properties: dict[str, Any] | None = None


class ProductOut(BaseModel):
    model_config = _OUT

    id: int
    name: str
    section_id: int | None
    description: str
    unit: str
    price: Decimal
    currency: str
    vat_rate: Decimal | None
    vat_included: bool
    active: bool
    external_id: str | None
    sort: int
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# -- product rows ----------------------------------------------------------------------------------


class RowIn(BaseModel):
    """A row as a client sends it; what is left out comes from the product (name, unit, price, VAT)."""

    model_config = _IN

    product_id: int | None = None
    name: Name | None = None
    unit: Unit | None = None
    quantity: Quantity = Decimal(1)
    price: Price | None = None
    "Per unit, VAT included when ``tax_included``; the product's price when left out."
    discount_type: DiscountType = DiscountType.NONE
    discount_value: Price = Decimal(0)
    "A percentage, or the amount off each unit, per ``discount_type``."
    tax_rate: Percent | None = None
    tax_included: bool = True


class RowOut(BaseModel):
    model_config = _OUT

    id: int
    sort: int
    product_id: int | None
    name: str
    unit: str
    quantity: Decimal
    price: Decimal
    discount_type: DiscountType
    discount_value: Decimal
    tax_rate: Decimal | None
    tax_included: bool
    discount_amount: Decimal
    net_amount: Decimal
    tax_amount: Decimal
    total: Decimal


class Totals(BaseModel):
    """Sums of the rows' rounded amounts."""

    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


# -- pipelines -------------------------------------------------------------------------------------


class StageIn(BaseModel):
    """A stage as sent in a pipeline; ``id`` names an existing stage to keep (and edit)."""

    model_config = _IN

    id: int | None = None
    code: Code
    name: Name
    semantic: StatusSemantic = StatusSemantic.PROCESS
    probability: Annotated[int, Field(ge=0, le=100)] = 0


class StageOut(BaseModel):
    model_config = _OUT

    id: int
    code: str
    name: str
    sort: int
    semantic: StatusSemantic
    probability: int


class PipelineCreate(BaseModel):
    model_config = _IN

    name: Name
    sort: int = 500
    is_default: bool = False
    stages: list[StageIn] | None = None
    "In funnel order; left out: the standard stages (NEW ... FINAL_INVOICE, WON, LOSE)."


class PipelineUpdate(BaseModel):
    model_config = _IN

    name: Name | None = None
    sort: int | None = None
    is_default: bool | None = None
    stages: list[StageIn] | None = None
    "The whole list in funnel order; existing stages left out are deleted (refused while in use)."


class PipelineOut(BaseModel):
    model_config = _OUT

    id: int
    name: str
    sort: int
    is_default: bool
    stages: list[StageOut]


# -- deals -----------------------------------------------------------------------------------------


class DealCreate(BaseModel):
    """A new deal; the default pipeline's first stage unless a stage is given."""

    model_config = _IN

    title: Name
    stage_id: int | None = None
    "Also chooses the pipeline."
    currency: Currency = "RUB"
    amount: Money | None = None
    "Typed by hand; left out: the rows' total, kept up to date."
    responsible_id: int | None = None
    "Left out: the user creating the deal."
    company_id: int | None = None
    contact_ids: list[int] = []
    "The first is the main contact."
    source_lead_id: int | None = None
    loss_reason: str | None = None
    close_date: date | None = None
    comments: str = ""
    rows: list[RowIn] = []


class DealUpdate(BaseModel):
    model_config = _IN

    title: Name | None = None
    stage_id: int | None = None
    "Moving a deal writes its stage history; a stage of another pipeline moves it there."
    currency: Currency | None = None
    amount: Money | None = None
    "A number: typed by hand from now on; null: the rows' total again."
    responsible_id: int | None = None
    company_id: int | None = None
    contact_ids: list[int] | None = None
    loss_reason: str | None = None
    close_date: date | None = None
    comments: str | None = None
    rows: list[RowIn] | None = None
    "The whole list of rows (replaces them)."


class DealOut(BaseModel):
    id: int
    title: str
    pipeline_id: int
    stage_id: int
    stage_code: str
    stage_semantic: StatusSemantic
    currency: str
    amount: Decimal
    amount_manual: bool
    responsible_id: int | None
    company_id: int | None
    contact_ids: list[int]
    source_lead_id: int | None
    loss_reason: str | None
    closed: bool
    closed_at: datetime | None
    close_date: date | None
    comments: str
    created_at: datetime
    updated_at: datetime
    rows: list[RowOut] | None = None
    "Given by get, create and update; None in lists (ask for the deal to see them)."


class StageHistoryOut(BaseModel):
    model_config = _OUT

    stage_id: int
    semantic: StatusSemantic
    entered_at: datetime
    left_at: datetime | None
    responsible_id: int | None
    changed_by_id: int | None
    loss_reason: str | None


# -- quotes and invoices ---------------------------------------------------------------------------


class QuoteCreate(BaseModel):
    """A quote made from a deal: the deal's rows, customer and currency are copied."""

    model_config = _IN

    deal_id: int
    title: Name | None = None
    status: Code | None = None
    "A quote status code; left out: the first in the list (DRAFT)."
    valid_until: date | None = None
    issued_on: date | None = None
    responsible_id: int | None = None
    "Left out: the deal's responsible."
    comments: str = ""


class QuoteUpdate(BaseModel):
    model_config = _IN

    title: Name | None = None
    status: Code | None = None
    valid_until: date | None = None
    issued_on: date | None = None
    responsible_id: int | None = None
    comments: str | None = None
    rows: list[RowIn] | None = None


class InvoiceCreate(BaseModel):
    """An invoice made from a deal (its rows), or from one of the deal's quotes (the quote's rows)."""

    model_config = _IN

    deal_id: int
    quote_id: int | None = None
    title: Name | None = None
    status: Code | None = None
    due_on: date | None = None
    issued_on: date | None = None
    responsible_id: int | None = None
    comments: str = ""


class InvoiceUpdate(BaseModel):
    model_config = _IN

    title: Name | None = None
    status: Code | None = None
    "Reaching the success status (PAID) records when it was paid."
    due_on: date | None = None
    issued_on: date | None = None
    responsible_id: int | None = None
    comments: str | None = None
    rows: list[RowIn] | None = None


class _DocumentOut(BaseModel):
    id: int
    number: str
    title: str
    deal_id: int | None
    company_id: int | None
    contact_id: int | None
    responsible_id: int | None
    status: str
    status_semantic: StatusSemantic
    currency: str
    issued_on: date
    discount_total: Decimal
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    comments: str
    created_at: datetime
    updated_at: datetime
    rows: list[RowOut] | None = None
    "Given by get, create and update; None in lists."


class QuoteOut(_DocumentOut):
    valid_until: date | None


class InvoiceOut(_DocumentOut):
    quote_id: int | None
    due_on: date | None
    paid_at: datetime | None


# -- funnel ----------------------------------------------------------------------------------------


class FunnelStage(BaseModel):
    """One step of the funnel: how many deals counted there, their sums, and the conversions."""

    stage_id: int
    code: str
    name: str
    semantic: StatusSemantic
    count: int
    amounts: dict[str, Decimal]
    "Sum of the deals' amounts per currency (amounts in different currencies are never added)."
    conversion: Decimal | None
    "Percent of the deals counted at the first stage, one decimal; None when the first stage is empty."
    step_conversion: Decimal | None
    "Percent of the deals counted at the previous in-progress stage (the last one for won and lost)."


class FunnelReport(BaseModel):
    pipeline_id: int
    variant: Literal["passed", "conversion"]
    start: datetime | None
    end: datetime | None
    responsible_ids: list[int] | None
    deals: int
    "Deals in the report's scope (created in the period, by the responsibles, visible to the user)."
    stages: list[FunnelStage]
