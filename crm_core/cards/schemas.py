"""What clients send and get back for leads, contacts, companies, activities and the dictionaries.

Create schemas validate shape and ranges; rules that need the database (a status that exists, a
company the user may see) are the services' job. Update schemas make every field optional: only the
fields a client sent change (``model_fields_set``); a list sent (phones, e-mails, companies)
replaces the whole list.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..models import ActivityKind, BindingOwner, EmailKind, PhoneKind, StatusSemantic
from ..sales.schemas import RowIn, RowOut

__all__ = [
    "ActivityCreate",
    "ActivityOut",
    "ActivityUpdate",
    "Binding",
    "CompanyCreate",
    "CompanyOut",
    "CompanyUpdate",
    "ContactCreate",
    "ContactOut",
    "ContactUpdate",
    "EmailIn",
    "EmailOut",
    "LeadCreate",
    "LeadOut",
    "LeadSourceCreate",
    "LeadSourceOut",
    "LeadSourceUpdate",
    "LeadStatusCreate",
    "LeadStatusOut",
    "LeadStatusUpdate",
    "LeadUpdate",
    "PhoneIn",
    "PhoneOut",
]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z][A-Z0-9_]{0,19}$")]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Text = Annotated[str, Field(max_length=20_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PhoneIn(_In):
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    "As a person writes it: ``8 (916) 123-45-67 доб. 12``."
    kind: PhoneKind = PhoneKind.WORK


class PhoneOut(_Out):
    raw: str
    e164: str | None
    extension: str | None
    kind: str


class EmailIn(_In):
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    kind: EmailKind = EmailKind.WORK


class EmailOut(_Out):
    value: str
    kind: str


class _Card(_In):
    responsible_id: int | None = None
    "Defaults to the user who creates the card."
    phones: list[PhoneIn] = Field(default_factory=list, max_length=50)
    emails: list[EmailIn] = Field(default_factory=list, max_length=50)
    comments: Text = ""


class ContactCreate(_Card):
    name: Name
    company_ids: list[int] = Field(default_factory=list, max_length=100)
    "The companies the person works for; the first is the primary one (shown when they call)."


class ContactUpdate(_In):
    name: Name | None = None
    company_ids: list[int] | None = None
    responsible_id: int | None = None
    phones: list[PhoneIn] | None = None
    emails: list[EmailIn] | None = None
    comments: Text | None = None


class ContactOut(_Out):
    id: int
    name: str
    company_id: int | None
    "The primary company."
    company_ids: list[int]
    responsible_id: int | None
    phones: list[PhoneOut]
    emails: list[EmailOut]
    comments: str
    created_at: datetime
    updated_at: datetime


class CompanyCreate(_Card):
    title: Name


class CompanyUpdate(_In):
    title: Name | None = None
    responsible_id: int | None = None
    phones: list[PhoneIn] | None = None
    emails: list[EmailIn] | None = None
    comments: Text | None = None


class CompanyOut(_Out):
    id: int
    title: str
    responsible_id: int | None
    contact_ids: list[int]
    phones: list[PhoneOut]
    emails: list[EmailOut]
    comments: str
    created_at: datetime
    updated_at: datetime


class LeadCreate(_Card):
    title: Name
    name: Name | None = None
    "The person's full name."
    company_name: Name | None = None
    status: Code = "NEW"
    source: Code = "OTHER"
    amount: Amount | None = None
    "Typed by hand; left out: the product rows' total (0 without rows), kept up to date."
    currency: Currency = "RUB"
    "Also the rows' currency."
    contact_id: int | None = None
    company_id: int | None = None
    rows: list[RowIn] | None = None
    "The product rows, in order (left out or empty: none)."


class LeadUpdate(_In):
    title: Name | None = None
    name: Name | None = None
    company_name: Name | None = None
    status: Code | None = None
    source: Code | None = None
    amount: Amount | None = None
    "A number: typed by hand from now on; null: the product rows' total again."
    currency: Currency | None = None
    "A lead with rows changes currency only with its rows sent in the new one."
    responsible_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    phones: list[PhoneIn] | None = None
    emails: list[EmailIn] | None = None
    comments: Text | None = None
    rows: list[RowIn] | None = None
    "The whole list of product rows (replaces them; an empty list removes them all)."


class LeadOut(_Out):
    id: int
    title: str
    name: str | None
    company_name: str | None
    status: str
    semantic: StatusSemantic
    "What the status means: open (process), converted (success) or junk (failure)."
    source: str
    amount: Decimal
    amount_manual: bool
    "True when the amount was typed; False when it is the product rows' total."
    currency: str
    responsible_id: int | None
    contact_id: int | None
    company_id: int | None
    deal_ids: list[int]
    "The deals made from this lead (their ``source_lead_id``) that the reader may read, oldest first."
    converted_at: datetime | None
    phones: list[PhoneOut]
    emails: list[EmailOut]
    comments: str
    created_at: datetime
    updated_at: datetime
    rows: list[RowOut]
    "The product rows in order (in lists too)."


class Binding(_In):
    """One card an activity shows on."""

    model_config = ConfigDict(extra="forbid", from_attributes=True, frozen=True)

    owner_type: BindingOwner
    owner_id: int


class ActivityCreate(_In):
    kind: ActivityKind
    subject: Name
    description: Text = ""
    direction: Literal["inbound", "outbound"] | None = None
    start_at: datetime
    end_at: datetime | None = None
    completed: bool = False
    responsible_id: int | None = None
    bindings: list[Binding] = Field(min_length=1, max_length=20)
    "At least one card: an activity about nobody belongs in a personal to-do list, not the CRM."


class ActivityUpdate(_In):
    subject: Name | None = None
    description: Text | None = None
    direction: Literal["inbound", "outbound"] | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    completed: bool | None = None
    responsible_id: int | None = None
    bindings: list[Binding] | None = Field(None, min_length=1, max_length=20)


class ActivityOut(_Out):
    id: int
    kind: str
    subject: str
    description: str
    direction: str | None
    start_at: datetime
    end_at: datetime | None
    completed: bool
    responsible_id: int | None
    created_by_id: int | None
    call_pk: int | None
    bindings: list[Binding]
    created_at: datetime
    updated_at: datetime


class LeadStatusCreate(_In):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    sort: int = 100
    semantic: Literal["process", "failure"] = "process"
    "New statuses are open or junk; the one success status (CONVERTED) is built in."


class LeadStatusUpdate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    sort: int | None = None
    semantic: Literal["process", "failure"] | None = None


class LeadStatusOut(_Out):
    id: int
    code: str
    name: str
    sort: int
    semantic: StatusSemantic


class LeadSourceCreate(_In):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    sort: int = 100


class LeadSourceUpdate(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    sort: int | None = None


class LeadSourceOut(_Out):
    id: int
    code: str
    name: str
    sort: int
