"""Leads: prospects with a status and source from the dictionaries, an amount, product rows, phones
and e-mails.

A lead's status says whether it is open (calls bind to it) by its semantic in the dictionary. The
success status is reached only through conversion (:mod:`.conversion`), which also sets the
lead's links to what it became; an update cannot fake it, and a converted lead's status is final.

Amount and rows follow the deals' rules (:mod:`crm_core.sales.deals`): the amount is the product
rows' total unless someone typed it (a null amount goes back to the rows' total); the rows are in
the lead's currency, which changes only together with rows sent in the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Company, Contact, Deal, Lead, RowOwner, StatusSemantic
from ..rights import SYSTEM, Action, Entity, Level, Principal
from ..sales import rows as product_rows
from .base import CardService, check_user
from .dictionaries import source_codes, status_semantics
from .errors import BadValue
from .schemas import LeadCreate, LeadOut, LeadUpdate

__all__ = ["LeadsResource"]


async def _check_link(
    session: AsyncSession, principal: Principal, field: str, entity: Entity, model: type, id: int | None
) -> None:
    if id is None:
        return
    responsible = await session.execute(select(model.responsible_id).where(model.id == id))
    row = responsible.first()
    if row is None:
        raise BadValue(field, id, f"no {entity.value} with id {id}")
    principal.require(entity, Action.READ, row[0])


async def _deal_ids(
    session: AsyncSession, reader: Principal, lead_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The deals made from each lead that *reader* may read, oldest first, in one statement."""
    found: dict[int, list[int]] = {id: [] for id in lead_ids}
    if not lead_ids or reader.level(Entity.DEAL, Action.READ) is Level.NONE:
        return found
    rows = await session.execute(
        select(Deal.source_lead_id, Deal.id)
        .where(
            Deal.source_lead_id.in_(lead_ids),
            reader.visible(Entity.DEAL, Action.READ, Deal.responsible_id),
        )
        .order_by(Deal.created_at, Deal.id)
    )
    for lead_id, deal_id in rows:
        found[lead_id].append(deal_id)
    return found


class LeadsResource(CardService[Lead, LeadOut]):
    entity: ClassVar[Entity] = Entity.LEAD
    model: ClassVar[type] = Lead
    path: ClassVar[str] = "leads"
    schema_out = LeadOut
    schema_create = LeadCreate
    schema_update = LeadUpdate
    filterable: ClassVar = {
        "id": int,
        "title": str,
        "phone": str,
        "email": str,
        "name": str,
        "company_name": str,
        "status": str,
        "source": str,
        "amount": Decimal,
        "currency": str,
        "responsible_id": int,
        "contact_id": int,
        "company_id": int,
        "converted_at": datetime,
        "created_at": datetime,
        "updated_at": datetime,
    }
    sortable: ClassVar = ("id", "title", "status", "amount", "created_at", "updated_at")

    async def create(self, session: AsyncSession, principal: Principal, data: LeadCreate) -> LeadOut:
        """A new lead; it may start in any status but the success one (that takes a conversion)."""
        responsible_id = await self.responsible_for_new(session, principal, data.responsible_id)
        semantics = await status_semantics(session)
        await self._check_status(session, data.status, semantics)
        await self._check_source(session, data.source)
        await _check_link(session, principal, "contact_id", Entity.CONTACT, Contact, data.contact_id)
        await _check_link(session, principal, "company_id", Entity.COMPANY, Company, data.company_id)
        lead = Lead(
            title=data.title,
            name=data.name,
            company_name=data.company_name,
            status=data.status,
            source=data.source,
            amount=data.amount if data.amount is not None else Decimal("0.00"),
            amount_manual=data.amount is not None,
            currency=data.currency,
            responsible_id=responsible_id,
            contact_id=data.contact_id,
            company_id=data.company_id,
            comments=data.comments,
        )
        session.add(lead)
        await session.flush()
        await self.write_channels(session, lead.id, data, create=True)
        if data.rows:
            await product_rows.replace_rows(session, (RowOwner.LEAD, lead.id), data.rows)
        await session.flush()
        return (await self._out_many(session, [lead], principal))[0]

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: LeadUpdate) -> LeadOut:
        lead: Lead = await self.row(session, principal, id, Action.UPDATE)
        changes = {
            k: v
            for k, v in data.model_dump(exclude_unset=True).items()
            if k not in ("phones", "emails", "rows", "amount")
        }
        for required in ("title", "status", "source", "currency", "comments"):
            if required in changes and changes[required] is None:
                raise BadValue(required, None, "cannot be empty")
        currency = changes.get("currency", lead.currency)
        if (
            currency != lead.currency
            and data.rows is None
            and await product_rows.load_rows(session, (RowOwner.LEAD, lead.id))
        ):
            why = f"the rows are priced in {lead.currency}; send the rows in {currency} with it"
            raise BadValue("currency", currency, why)
        if "status" in changes and changes["status"] != lead.status:
            if lead.converted_at is not None:
                raise BadValue("status", changes["status"], f"lead {id} is converted; its status is final")
            await self._check_status(session, changes["status"], await status_semantics(session))
        if "source" in changes:
            await self._check_source(session, changes["source"])
        if "responsible_id" in changes:
            await check_user(session, "responsible_id", changes["responsible_id"])
        if "contact_id" in changes:
            await _check_link(
                session, principal, "contact_id", Entity.CONTACT, Contact, changes["contact_id"]
            )
        if "company_id" in changes:
            await _check_link(
                session, principal, "company_id", Entity.COMPANY, Company, changes["company_id"]
            )
        for key, value in changes.items():
            setattr(lead, key, value)
        sent = data.model_fields_set
        if "amount" in sent:
            lead.amount_manual = data.amount is not None
            if data.amount is not None:
                lead.amount = data.amount
        await self.write_channels(session, lead.id, data, create=False)
        if data.rows is not None:
            await product_rows.replace_rows(session, (RowOwner.LEAD, lead.id), data.rows)
        elif "amount" in sent and data.amount is None:
            await product_rows.refresh_owner(session, (RowOwner.LEAD, lead.id))
        await session.flush()
        return (await self._out_many(session, [lead], principal))[0]

    async def _check_status(self, session: AsyncSession, status: str, semantics: dict[str, str]) -> None:
        allowed = tuple(code for code, semantic in semantics.items() if semantic != StatusSemantic.SUCCESS)
        if semantics.get(status) == StatusSemantic.SUCCESS:
            raise BadValue(
                "status", status, f"a lead becomes {status} by conversion, not by an edit", allowed
            )
        if status not in semantics:
            raise BadValue("status", status, f"{status!r} is not one of {', '.join(allowed)}", allowed)

    async def _check_source(self, session: AsyncSession, source: str) -> None:
        allowed = await source_codes(session)
        if source not in allowed:
            raise BadValue("source", source, f"{source!r} is not one of {', '.join(allowed)}", allowed)

    async def _out_for(
        self, session: AsyncSession, principal: Principal, rows: Sequence[Lead]
    ) -> list[LeadOut]:
        return await self._out_many(session, rows, principal)

    async def _out_many(
        self, session: AsyncSession, rows: Sequence[Lead], reader: Principal = SYSTEM
    ) -> list[LeadOut]:
        """The leads as *reader* sees them: ``deal_ids`` lists only the deals *reader* may read.

        Left out, *reader* is the system (every deal), as for the merge's snapshot in the audit.
        """
        ids = [row.id for row in rows]
        channels = await self.channels(session, ids)
        product_rows_of = await product_rows.load_rows_of(session, RowOwner.LEAD, ids)
        semantics = await status_semantics(session)
        deal_ids = await _deal_ids(session, reader, ids)
        out = []
        for row in rows:
            phones, emails = channels[row.id]
            out.append(
                LeadOut(
                    id=row.id,
                    title=row.title,
                    name=row.name,
                    company_name=row.company_name,
                    status=row.status,
                    semantic=semantics.get(row.status, StatusSemantic.PROCESS),
                    source=row.source,
                    amount=row.amount,
                    amount_manual=row.amount_manual,
                    currency=row.currency,
                    responsible_id=row.responsible_id,
                    contact_id=row.contact_id,
                    company_id=row.company_id,
                    deal_ids=deal_ids[row.id],
                    converted_at=row.converted_at,
                    phones=phones,
                    emails=emails,
                    comments=row.comments,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    rows=[product_rows.row_out(r) for r in product_rows_of[row.id]],
                )
            )
        return out
