"""Who is calling: the number -> CRM card lookup behind the screen-pop and the call log.

Order: a Contact, then a Company, then the most recent open Lead. Our own numbers, the exclusion
list and numbers that do not parse never match. It costs two indexed queries: one on
``phone.e164`` that picks the owner, one by primary key that reads the card.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, case, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cti.numbers import normalise

from .models import CLOSED_LEAD_STATUSES, Company, Contact, ExcludedNumber, Lead, Phone, PhoneOwner, User

__all__ = ["Card", "EntityKind", "find_card", "find_owner", "is_excluded"]

EntityKind = Literal["contact", "company", "lead"]


@dataclass(frozen=True, slots=True)
class Card:
    """What an agent sees when the phone rings: whose number it is."""

    entity: EntityKind
    id: int
    title: str
    "The contact's name, the company's title, or the lead's title."
    company: str | None
    "The contact's company, or the lead's company name; None for a company card."
    responsible: str | None
    "The responsible user's name."
    phone: str
    "The number in E.164."


async def is_excluded(session: AsyncSession, e164: str, own_numbers: Iterable[str], region: str) -> bool:
    """Return True when *e164* is one of our own numbers or on the exclusion list."""
    if e164 in {normalise(n, region).e164 for n in own_numbers}:
        return True
    return await session.scalar(select(ExcludedNumber.id).where(ExcludedNumber.e164 == e164)) is not None


async def find_owner(
    session: AsyncSession, e164: str, *, skip_excluded: bool = True
) -> tuple[EntityKind, int] | None:
    """Return the (kind, id) whose phone is *e164*: contact, else company, else newest open lead."""
    rank = case(
        (Phone.owner_type == PhoneOwner.CONTACT, 0),
        (Phone.owner_type == PhoneOwner.COMPANY, 1),
        else_=2,
    )
    # Oldest contact/company first (the original card, not a later duplicate), newest lead first.
    within = case((Phone.owner_type == PhoneOwner.LEAD, -Phone.owner_id), else_=Phone.owner_id)
    stmt = (
        select(Phone.owner_type, Phone.owner_id)
        .outerjoin(Contact, and_(Phone.owner_type == PhoneOwner.CONTACT, Contact.id == Phone.owner_id))
        .outerjoin(Company, and_(Phone.owner_type == PhoneOwner.COMPANY, Company.id == Phone.owner_id))
        .outerjoin(Lead, and_(Phone.owner_type == PhoneOwner.LEAD, Lead.id == Phone.owner_id))
        .where(Phone.e164 == e164)
        .where(
            or_(
                Contact.id.is_not(None),
                Company.id.is_not(None),
                and_(Lead.id.is_not(None), Lead.status.not_in(CLOSED_LEAD_STATUSES)),
            )
        )
        .order_by(rank, within)
        .limit(1)
    )
    if skip_excluded:
        stmt = stmt.where(~exists().where(ExcludedNumber.e164 == e164))
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    kind: EntityKind = row.owner_type
    return kind, row.owner_id


async def find_card(
    session: AsyncSession, number: str, *, region: str, own_numbers: Iterable[str] = ()
) -> Card | None:
    """Return the card for the caller's *number* as the PBX or a person wrote it, or None."""
    e164 = normalise(number, region).e164
    if e164 is None or e164 in {normalise(n, region).e164 for n in own_numbers}:
        return None
    owner = await find_owner(session, e164)
    if owner is None:
        return None
    kind, owner_id = owner
    responsible = aliased(User)
    company: str | None = None
    if kind == "contact":
        title, company, responsible_name = (
            await session.execute(
                select(Contact.name, Company.title, responsible.name)
                .outerjoin(Company, Company.id == Contact.company_id)
                .outerjoin(responsible, responsible.id == Contact.responsible_id)
                .where(Contact.id == owner_id)
            )
        ).one()
    elif kind == "company":
        title, responsible_name = (
            await session.execute(
                select(Company.title, responsible.name)
                .outerjoin(responsible, responsible.id == Company.responsible_id)
                .where(Company.id == owner_id)
            )
        ).one()
    else:
        title, company, responsible_name = (
            await session.execute(
                select(Lead.title, Lead.company_name, responsible.name)
                .outerjoin(responsible, responsible.id == Lead.responsible_id)
                .where(Lead.id == owner_id)
            )
        ).one()
    return Card(
        entity=kind, id=owner_id, title=title, company=company, responsible=responsible_name, phone=e164
    )
