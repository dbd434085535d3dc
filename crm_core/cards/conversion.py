"""Lead conversion: a lead becomes a contact and/or a company and/or a deal, offering duplicates first.

The flow the API and pages follow: :func:`conversion_offer` lists the existing contacts and
companies that look like the lead; the user picks one of them (``contact=<id>``) or asks for a new
card (``contact="create"``); :func:`convert_lead` does it in the caller's transaction. Asking to
create a card while duplicates exist raises :class:`DuplicatesFound` (listing them) unless
``create_despite_duplicates`` says the user saw them.

What is carried over: the lead's phones and e-mails (to the new contact, or to the new company when
no contact is involved), its product rows (copied to the deal), its activities (also bound to
every card it became), and its calls and call-back tasks (they get the contact and company, so the
client's card shows the history that began as a lead). The lead keeps its links: its status
becomes the success status, ``contact_id``/``company_id`` point at the client, ``converted_at`` is
set, and the deal's ``source_lead_id`` points back at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..db import utc_now
from ..errors import NotFound
from ..models import (
    ActivityBinding,
    CallActivity,
    Company,
    Contact,
    Email,
    Lead,
    Phone,
    ProductRow,
    Task,
)
from ..rights import Action, Entity, Principal
from ..sales.deals import create_deal
from ..sales.rows import copy_rows
from ..sales.schemas import DealCreate
from .activities import bind
from .base import check_user
from .contacts import add_company_link
from .dictionaries import success_status
from .duplicates import Duplicate, find_duplicates
from .errors import AlreadyConverted, BadValue, DuplicatesFound
from .exclusions import refuse_excluded

__all__ = ["ConversionOffer", "ConversionResult", "LeadConversion", "conversion_offer", "convert_lead"]

log = structlog.get_logger(__name__)


class LeadConversion(BaseModel):
    """What the lead becomes: for contact and company, an existing card's id or ``"create"``."""

    model_config = ConfigDict(extra="forbid")

    contact: Literal["create"] | int | None = None
    company: Literal["create"] | int | None = None
    deal: bool = False
    deal_stage_id: int | None = None
    "The deal's first stage (and so its pipeline); the default pipeline's first stage if left out."
    create_despite_duplicates: bool = False


class ConversionOffer(BaseModel):
    """The existing cards a lead looks like: link one of them instead of creating a duplicate."""

    lead_id: int
    contacts: list[Duplicate]
    companies: list[Duplicate]


class ConversionResult(BaseModel):
    lead_id: int
    status: str
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    created: list[Literal["contact", "company", "deal"]]
    rows_copied: int
    activities_bound: int
    calls_linked: int


async def conversion_offer(
    session: AsyncSession, principal: Principal, lead_id: int, *, region: str = "RU"
) -> ConversionOffer:
    """The contacts and companies that look like the lead (phone, e-mail, person or company name)."""
    lead = await _lead(session, principal, lead_id, Action.READ)
    phones, emails = await _channel_values(session, lead.id)
    contacts = await find_duplicates(
        session, principal, phones=phones, emails=emails, name=lead.name, entities=("contact",), region=region
    )
    companies = await find_duplicates(
        session,
        principal,
        phones=phones,
        emails=emails,
        company_name=lead.company_name,
        entities=("company",),
        region=region,
    )
    return ConversionOffer(lead_id=lead.id, contacts=contacts, companies=companies)


async def convert_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: int,
    request: LeadConversion,
    *,
    region: str = "RU",
    own_numbers: Sequence[str] = (),
) -> ConversionResult:
    """Convert the lead as *request* says; the caller commits (all of it or, on any error, none).

    A new contact or company gets the lead's phones and e-mails, so one of them on the exclusion
    list or among *own_numbers* (``crm.own_numbers``) refuses the conversion (:class:`ExcludedValue`).
    """
    lead = await _lead(session, principal, lead_id, Action.UPDATE)
    if lead.converted_at is not None:
        raise AlreadyConverted(lead.id)
    if request.contact is None and request.company is None and not request.deal:
        raise BadValue("conversion", None, "choose at least one of contact, company and deal")
    if "create" in (request.contact, request.company):
        phones, emails = await _channel_values(session, lead.id)
        await refuse_excluded(session, phones=phones, emails=emails, own_numbers=own_numbers, region=region)
    if not request.create_despite_duplicates:
        await _refuse_duplicates(session, principal, lead.id, request, region)
    created: list[Literal["contact", "company", "deal"]] = []
    contact_id = lead.contact_id
    company_id = lead.company_id

    if request.company == "create":
        company = Company(
            title=lead.company_name or lead.title,
            responsible_id=await _new_owner(session, principal, Entity.COMPANY, lead),
        )
        session.add(company)
        await session.flush()
        company_id = company.id
        created.append("company")
        if request.contact is None:
            await _copy_channels(session, lead.id, "company", company.id)
    elif request.company is not None:
        company_id = await _existing(session, principal, Entity.COMPANY, Company, request.company)

    if request.contact == "create":
        contact = Contact(
            name=lead.name or lead.title,
            responsible_id=await _new_owner(session, principal, Entity.CONTACT, lead),
        )
        session.add(contact)
        await session.flush()
        created.append("contact")
        await _copy_channels(session, lead.id, "contact", contact.id)
        contact_id = contact.id
    elif request.contact is not None:
        contact_id = await _existing(session, principal, Entity.CONTACT, Contact, request.contact)
    if contact_id is not None and company_id is not None:
        contact_row = await session.get(Contact, contact_id)
        if contact_row is not None:
            await add_company_link(session, contact_row, company_id)

    deal_id, rows_copied = None, 0
    if request.deal:
        has_rows = bool(
            await session.scalar(
                select(func.count())
                .select_from(ProductRow)
                .where(ProductRow.owner_type == "lead", ProductRow.owner_id == lead.id)
            )
        )
        deal = await create_deal(
            session,
            principal,
            DealCreate(
                title=lead.title,
                stage_id=request.deal_stage_id,
                currency=lead.currency,
                amount=lead.amount if lead.amount_manual or not has_rows else None,
                responsible_id=lead.responsible_id,
                company_id=company_id,
                contact_ids=[contact_id] if contact_id is not None else [],
                source_lead_id=lead.id,
                comments=lead.comments,
            ),
        )
        deal_id = deal.id
        created.append("deal")
        if has_rows:
            rows_copied = await copy_rows(session, ("lead", lead.id), ("deal", deal_id))

    activity_ids = list(
        await session.scalars(
            select(ActivityBinding.activity_id).where(
                ActivityBinding.owner_type == "lead", ActivityBinding.owner_id == lead.id
            )
        )
    )
    bound = 0
    for kind, card_id in (("contact", contact_id), ("company", company_id), ("deal", deal_id)):
        if card_id is not None:
            bound += await bind(session, activity_ids, kind, card_id)
    calls_linked = await _link_history(session, lead.id, contact_id, company_id)

    lead.status = await success_status(session)
    lead.contact_id = contact_id
    lead.company_id = company_id
    lead.converted_at = utc_now()
    await session.flush()
    result = ConversionResult(
        lead_id=lead.id,
        status=lead.status,
        contact_id=contact_id,
        company_id=company_id,
        deal_id=deal_id,
        created=created,
        rows_copied=rows_copied,
        activities_bound=bound,
        calls_linked=calls_linked,
    )
    await audit.record(
        session,
        action="lead.convert",
        actor=principal.login,
        user_id=principal.user_id,
        target=f"lead:{lead.id}",
        details=result.model_dump(mode="json"),
    )
    log.info("lead_converted", lead_id=lead.id, created=created, deal_id=deal_id, by=principal.login)
    return result


async def _lead(session: AsyncSession, principal: Principal, lead_id: int, action: Action) -> Lead:
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    principal.require(Entity.LEAD, action, lead.responsible_id)
    return lead


async def _new_owner(session: AsyncSession, principal: Principal, entity: Entity, lead: Lead) -> int | None:
    """The new card belongs to the lead's responsible user (the principal if the lead had none)."""
    owner = lead.responsible_id if lead.responsible_id is not None else principal.user_id
    principal.require(entity, Action.ADD, owner)
    await check_user(session, "responsible_id", owner)
    return owner


async def _existing(session: AsyncSession, principal: Principal, entity: Entity, model: type, id: int) -> int:
    row = (await session.execute(select(model.responsible_id).where(model.id == id))).first()
    if row is None:
        raise BadValue(entity.value, id, f"no {entity.value} with id {id}")
    principal.require(entity, Action.READ, row[0])
    return id


async def _channel_values(session: AsyncSession, lead_id: int) -> tuple[list[str], list[str]]:
    phones = await session.scalars(
        select(Phone.e164).where(
            Phone.owner_type == "lead", Phone.owner_id == lead_id, Phone.e164.is_not(None)
        )
    )
    emails = await session.scalars(
        select(Email.value).where(Email.owner_type == "lead", Email.owner_id == lead_id)
    )
    return [p for p in phones if p], list(emails)


async def _refuse_duplicates(
    session: AsyncSession, principal: Principal, lead_id: int, request: LeadConversion, region: str
) -> None:
    if "create" not in (request.contact, request.company):
        return
    offer = await conversion_offer(session, principal, lead_id, region=region)
    found = (offer.contacts if request.contact == "create" else []) + (
        offer.companies if request.company == "create" else []
    )
    if found:
        raise DuplicatesFound("lead conversion", found)


async def _copy_channels(session: AsyncSession, lead_id: int, owner_type: str, owner_id: int) -> None:
    """Copy the lead's phones and e-mails as they are (already normalised when the lead got them)."""
    for phone in await session.scalars(
        select(Phone).where(Phone.owner_type == "lead", Phone.owner_id == lead_id).order_by(Phone.id)
    ):
        session.add(
            Phone(
                owner_type=owner_type,
                owner_id=owner_id,
                raw=phone.raw,
                e164=phone.e164,
                extension=phone.extension,
                kind=phone.kind,
            )
        )
    for email in await session.scalars(
        select(Email).where(Email.owner_type == "lead", Email.owner_id == lead_id).order_by(Email.id)
    ):
        session.add(Email(owner_type=owner_type, owner_id=owner_id, value=email.value, kind=email.kind))
    await session.flush()


async def _link_history(
    session: AsyncSession, lead_id: int, contact_id: int | None, company_id: int | None
) -> int:
    """Give the lead's calls and tasks the client's contact and company where they have none.

    Return how many calls the lead has (all of them now show on the client's cards too).
    """
    for model in (CallActivity, Task):
        for column, value in ((model.contact_id, contact_id), (model.company_id, company_id)):
            if value is None:
                continue
            await session.execute(
                update(model)
                .where(model.lead_id == lead_id, column.is_(None))
                .values({column.key: value})
                .execution_options(synchronize_session=False)
            )
    calls = await session.scalar(
        select(func.count()).select_from(CallActivity).where(CallActivity.lead_id == lead_id)
    )
    return int(calls or 0)
