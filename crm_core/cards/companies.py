"""Companies: client organisations with typed phones and e-mails, and the contacts working there."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Company, ContactCompany
from ..rights import Action, Entity, Principal
from .base import CardService, check_user
from .schemas import CompanyCreate, CompanyOut, CompanyUpdate

__all__ = ["CompaniesResource"]


class CompaniesResource(CardService[Company, CompanyOut]):
    entity: ClassVar[Entity] = Entity.COMPANY
    model: ClassVar[type] = Company
    path: ClassVar[str] = "companies"
    schema_out = CompanyOut
    schema_create = CompanyCreate
    schema_update = CompanyUpdate
    filterable: ClassVar = {
        "id": int,
        "title": str,
        "phone": str,
        "email": str,
        "responsible_id": int,
        "created_at": datetime,
        "updated_at": datetime,
    }
    sortable: ClassVar = ("id", "title", "created_at", "updated_at")

    async def create(self, session: AsyncSession, principal: Principal, data: CompanyCreate) -> CompanyOut:
        responsible_id = await self.responsible_for_new(session, principal, data.responsible_id)
        company = Company(title=data.title, responsible_id=responsible_id, comments=data.comments)
        session.add(company)
        await session.flush()
        await self.write_channels(session, company.id, data, create=True)
        await session.flush()
        return (await self._out_many(session, [company]))[0]

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: CompanyUpdate
    ) -> CompanyOut:
        company: Company = await self.row(session, principal, id, Action.UPDATE)
        fields = data.model_fields_set
        if "title" in fields and data.title is not None:
            company.title = data.title
        if "comments" in fields and data.comments is not None:
            company.comments = data.comments
        if "responsible_id" in fields:
            await check_user(session, "responsible_id", data.responsible_id)
            company.responsible_id = data.responsible_id
        await self.write_channels(session, company.id, data, create=False)
        await session.flush()
        return (await self._out_many(session, [company]))[0]

    async def _out_many(self, session: AsyncSession, rows: Sequence[Company]) -> list[CompanyOut]:
        ids = [row.id for row in rows]
        channels = await self.channels(session, ids)
        contacts: dict[int, list[int]] = defaultdict(list)
        links = await session.execute(
            select(ContactCompany.company_id, ContactCompany.contact_id)
            .where(ContactCompany.company_id.in_(ids))
            .order_by(ContactCompany.contact_id)
        )
        for company_id, contact_id in links:
            contacts[company_id].append(contact_id)
        out = []
        for row in rows:
            phones, emails = channels[row.id]
            out.append(
                CompanyOut(
                    id=row.id,
                    title=row.title,
                    responsible_id=row.responsible_id,
                    contact_ids=contacts[row.id],
                    phones=phones,
                    emails=emails,
                    comments=row.comments,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
            )
        return out
