"""Contacts: people, with typed phones and e-mails, working for any number of companies.

The first company given is the primary one (``contact.company_id``): the screen-pop shows it and a
call from the contact is logged on it too. Every company of the contact, primary included, is a
``contact_company`` row, so "the contacts of a company" is one indexed query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Company, Contact, ContactCompany
from ..rights import Action, Entity, Principal
from .base import CardService, check_user
from .errors import BadValue
from .schemas import ContactCreate, ContactOut, ContactUpdate

__all__ = ["ContactsResource", "add_company_link", "set_companies"]


async def _check_companies(
    session: AsyncSession, principal: Principal, company_ids: Sequence[int]
) -> list[int]:
    wanted = list(dict.fromkeys(company_ids))
    rows = await session.execute(select(Company.id, Company.responsible_id).where(Company.id.in_(wanted)))
    found = {company_id: responsible_id for company_id, responsible_id in rows}
    for index, company_id in enumerate(wanted):
        if company_id not in found:
            raise BadValue(f"company_ids[{index}]", company_id, f"no company with id {company_id}")
        principal.require(Entity.COMPANY, Action.READ, found[company_id])
    return wanted


async def set_companies(session: AsyncSession, contact: Contact, company_ids: Sequence[int]) -> None:
    """Make *company_ids* the contact's companies, the first one primary (ids checked by the caller)."""
    await session.execute(delete(ContactCompany).where(ContactCompany.contact_id == contact.id))
    session.add_all(ContactCompany(contact_id=contact.id, company_id=cid) for cid in company_ids)
    await session.flush()  # the links first: saving the primary company then finds its row there
    contact.company_id = company_ids[0] if company_ids else None


async def add_company_link(session: AsyncSession, contact: Contact, company_id: int) -> None:
    """Tie the contact to one more company; it becomes primary when the contact had none."""
    linked = await session.scalar(
        select(ContactCompany.company_id).where(
            ContactCompany.contact_id == contact.id, ContactCompany.company_id == company_id
        )
    )
    if linked is None:
        session.add(ContactCompany(contact_id=contact.id, company_id=company_id))
        await session.flush()
    if contact.company_id is None:
        contact.company_id = company_id


class ContactsResource(CardService[Contact, ContactOut]):
    entity: ClassVar[Entity] = Entity.CONTACT
    model: ClassVar[type] = Contact
    path: ClassVar[str] = "contacts"
    schema_out = ContactOut
    schema_create = ContactCreate
    schema_update = ContactUpdate
    filterable: ClassVar = {
        "id": int,
        "name": str,
        "phone": str,
        "email": str,
        "company_id": int,
        "responsible_id": int,
        "created_at": datetime,
        "updated_at": datetime,
    }
    sortable: ClassVar = ("id", "name", "created_at", "updated_at")

    async def create(self, session: AsyncSession, principal: Principal, data: ContactCreate) -> ContactOut:
        responsible_id = await self.responsible_for_new(session, principal, data.responsible_id)
        company_ids = await _check_companies(session, principal, data.company_ids)
        contact = Contact(name=data.name, responsible_id=responsible_id, comments=data.comments)
        session.add(contact)
        await session.flush()
        await set_companies(session, contact, company_ids)
        await self.write_channels(session, contact.id, data, create=True)
        await session.flush()
        return (await self._out_many(session, [contact]))[0]

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: ContactUpdate
    ) -> ContactOut:
        contact: Contact = await self.row(session, principal, id, Action.UPDATE)
        fields = data.model_fields_set
        if "name" in fields and data.name is not None:
            contact.name = data.name
        if "comments" in fields and data.comments is not None:
            contact.comments = data.comments
        if "responsible_id" in fields:
            await check_user(session, "responsible_id", data.responsible_id)
            contact.responsible_id = data.responsible_id
        if "company_ids" in fields:
            await set_companies(
                session, contact, await _check_companies(session, principal, data.company_ids or [])
            )
        await self.write_channels(session, contact.id, data, create=False)
        await session.flush()
        return (await self._out_many(session, [contact]))[0]

    async def _out_many(self, session: AsyncSession, rows: Sequence[Contact]) -> list[ContactOut]:
        ids = [row.id for row in rows]
        channels = await self.channels(session, ids)
        companies: dict[int, list[int]] = defaultdict(list)
        links = await session.execute(
            select(ContactCompany.contact_id, ContactCompany.company_id)
            .where(ContactCompany.contact_id.in_(ids))
            .order_by(ContactCompany.created_at, ContactCompany.company_id)
        )
        for contact_id, company_id in links:
            companies[contact_id].append(company_id)
        out = []
        for row in rows:
            linked = companies[row.id]
            if row.company_id in linked:  # primary first, as the client gave it
                linked = [row.company_id, *(c for c in linked if c != row.company_id)]
            phones, emails = channels[row.id]
            out.append(
                ContactOut(
                    id=row.id,
                    name=row.name,
                    company_id=row.company_id,
                    company_ids=linked,
                    responsible_id=row.responsible_id,
                    phones=phones,
                    emails=emails,
                    comments=row.comments,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
            )
        return out
