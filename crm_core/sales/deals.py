"""Deals: create, read, update, move through stages (with history), delete; rights enforced here.

Rules kept here, whichever way a deal is changed (API, pages, lead conversion, imports):

- the amount is the product rows' total (VAT included) unless someone typed it; sending a null
  amount goes back to the rows' total;
- a deal enters a failure stage only with a loss reason (funnel reports are only as good as
  their loss reasons);
- every stage change closes the open history row and opens a new one, with the responsible of the
  moment and who made the change; ``Deal.passed_mask`` gets the stage's bit in the same step;
- a deal in a success or failure stage is closed (``closed_at`` set); moving it back reopens it;
- a stage of another pipeline moves the deal to that pipeline (its mask starts again there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

import structlog
from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..cards.owned import delete_owned
from ..crud import ListQuery, Page
from ..db import utc_now
from ..errors import NotFound
from ..models import (
    Company,
    Contact,
    Deal,
    DealContact,
    DealStageHistory,
    Lead,
    RowOwner,
    Stage,
    StatusSemantic,
    User,
)
from ..query import fetch_page
from ..rights import Action, Entity, Principal
from . import rows as product_rows
from .errors import BadValue, LossReasonRequired
from .pipelines import default_pipeline, get_stage, load_stages
from .schemas import DealCreate, DealOut, DealUpdate, StageHistoryOut

__all__ = [
    "DealsResource",
    "create_deal",
    "delete_deal",
    "get_deal",
    "load_deal",
    "move_deal",
    "stage_history",
    "update_deal",
]

log = structlog.get_logger(__name__)


async def load_deal(session: AsyncSession, deal_id: int) -> Deal:
    """The deal row, without any rights check (callers check)."""
    deal = await session.get(Deal, deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    return deal


async def _contact_ids(session: AsyncSession, deal_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {deal_id: [] for deal_id in deal_ids}
    if deal_ids:
        stmt = (
            select(DealContact.deal_id, DealContact.contact_id)
            .where(DealContact.deal_id.in_(deal_ids))
            .order_by(DealContact.deal_id, DealContact.sort)
        )
        for deal_id, contact_id in await session.execute(stmt):
            found[deal_id].append(contact_id)
    return found


async def _outs(session: AsyncSession, deals: Sequence[Deal], *, with_rows: bool = False) -> list[DealOut]:
    contacts = await _contact_ids(session, [deal.id for deal in deals])
    stage_ids = {deal.stage_id for deal in deals}
    stages = {s.id: s for s in await session.scalars(select(Stage).where(Stage.id.in_(stage_ids)))}
    result = []
    for deal in deals:
        stage = stages[deal.stage_id]
        rows = None
        if with_rows:
            rows = [product_rows.row_out(r) for r in await product_rows.load_rows(session, ("deal", deal.id))]
        result.append(
            DealOut(
                id=deal.id,
                title=deal.title,
                pipeline_id=deal.pipeline_id,
                stage_id=deal.stage_id,
                stage_code=stage.code,
                stage_semantic=StatusSemantic(stage.semantic),
                currency=deal.currency,
                amount=deal.amount,
                amount_manual=deal.amount_manual,
                responsible_id=deal.responsible_id,
                company_id=deal.company_id,
                contact_ids=contacts[deal.id],
                source_lead_id=deal.source_lead_id,
                loss_reason=deal.loss_reason,
                closed=deal.closed,
                closed_at=deal.closed_at,
                close_date=deal.close_date,
                comments=deal.comments,
                created_at=deal.created_at,
                updated_at=deal.updated_at,
                rows=rows,
            )
        )
    return result


async def _out(session: AsyncSession, deal: Deal) -> DealOut:
    return (await _outs(session, [deal], with_rows=True))[0]


async def _must_exist(session: AsyncSession, model: type, entity: str, key: int | None) -> None:
    if key is not None and await session.get(model, key) is None:
        raise NotFound(entity, key)


async def _set_contacts(session: AsyncSession, deal_id: int, contact_ids: Sequence[int]) -> None:
    if len(set(contact_ids)) != len(contact_ids):
        raise BadValue("contact_ids", list(contact_ids), "a contact is listed twice")
    if contact_ids:
        found = set(await session.scalars(select(Contact.id).where(Contact.id.in_(contact_ids))))
        missing = [contact_id for contact_id in contact_ids if contact_id not in found]
        if missing:
            raise NotFound("contact", missing[0])
    await session.execute(delete(DealContact).where(DealContact.deal_id == deal_id))
    session.add_all(
        DealContact(deal_id=deal_id, contact_id=contact_id, sort=index)
        for index, contact_id in enumerate(contact_ids)
    )


def _reason(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


async def _enter_stage(
    session: AsyncSession,
    deal: Deal,
    stage: Stage,
    *,
    principal: Principal,
    loss_reason: str | None,
    at: datetime,
) -> None:
    """Put *deal* in *stage*: history, mask, closed flags, loss reason (see the module doc)."""
    reason = _reason(loss_reason)
    if stage.semantic == StatusSemantic.FAILURE and reason is None:
        raise LossReasonRequired(stage.code)
    if deal.id is not None:
        await session.execute(
            update(DealStageHistory)
            .where(DealStageHistory.deal_id == deal.id, DealStageHistory.left_at.is_(None))
            .values(left_at=at)
        )
    if stage.pipeline_id != deal.pipeline_id:
        deal.pipeline_id = stage.pipeline_id
        deal.passed_mask = 0
    deal.stage_id = stage.id
    deal.passed_mask = (deal.passed_mask or 0) | (1 << stage.bit)
    deal.closed = stage.semantic != StatusSemantic.PROCESS
    deal.closed_at = at if deal.closed else None
    deal.loss_reason = reason if stage.semantic == StatusSemantic.FAILURE else None
    await session.flush()
    session.add(
        DealStageHistory(
            deal_id=deal.id,
            pipeline_id=stage.pipeline_id,
            stage_id=stage.id,
            semantic=stage.semantic,
            entered_at=at,
            responsible_id=deal.responsible_id,
            changed_by_id=principal.user_id,
            loss_reason=deal.loss_reason,
        )
    )
    await session.flush()
    log.info("deal_stage_entered", deal_id=deal.id, stage=stage.code, by=principal.login)


async def create_deal(
    session: AsyncSession, principal: Principal, data: DealCreate, *, at: datetime | None = None
) -> DealOut:
    """Create a deal (and its rows, contacts and first history row); *at* backdates it (imports)."""
    responsible_id = data.responsible_id if data.responsible_id is not None else principal.user_id
    principal.require(Entity.DEAL, Action.ADD, responsible_id)
    await _must_exist(session, User, "user", responsible_id)
    await _must_exist(session, Company, "company", data.company_id)
    await _must_exist(session, Lead, "lead", data.source_lead_id)
    if data.stage_id is not None:
        stage = await get_stage(session, data.stage_id)
    else:
        stage = (await load_stages(session, (await default_pipeline(session)).id))[0]
    now = at or utc_now()
    deal = Deal(
        title=data.title,
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        currency=data.currency,
        amount=data.amount if data.amount is not None else Decimal("0.00"),
        amount_manual=data.amount is not None,
        responsible_id=responsible_id,
        company_id=data.company_id,
        source_lead_id=data.source_lead_id,
        close_date=data.close_date,
        comments=data.comments,
        passed_mask=0,
        created_at=now,
        updated_at=now,
    )
    session.add(deal)
    await _enter_stage(session, deal, stage, principal=principal, loss_reason=data.loss_reason, at=now)
    await _set_contacts(session, deal.id, data.contact_ids)
    if data.rows:
        await product_rows.replace_rows(session, (RowOwner.DEAL, deal.id), data.rows)
    await session.flush()
    log.info("deal_created", deal_id=deal.id, responsible_id=responsible_id, by=principal.login)
    return await _out(session, deal)


async def get_deal(session: AsyncSession, principal: Principal, deal_id: int) -> DealOut:
    deal = await load_deal(session, deal_id)
    principal.require(Entity.DEAL, Action.READ, deal.responsible_id)
    return await _out(session, deal)


async def update_deal(
    session: AsyncSession, principal: Principal, deal_id: int, data: DealUpdate, *, at: datetime | None = None
) -> DealOut:
    """Change the fields the client sent; a new ``stage_id`` moves the deal (see :func:`move_deal`)."""
    deal = await load_deal(session, deal_id)
    principal.require(Entity.DEAL, Action.UPDATE, deal.responsible_id)
    sent = data.model_fields_set
    if "responsible_id" in sent and data.responsible_id != deal.responsible_id:
        principal.require(Entity.DEAL, Action.UPDATE, data.responsible_id)
        await _must_exist(session, User, "user", data.responsible_id)
        deal.responsible_id = data.responsible_id
    if data.title is not None:
        deal.title = data.title
    if "company_id" in sent:
        await _must_exist(session, Company, "company", data.company_id)
        deal.company_id = data.company_id
    if "close_date" in sent:
        deal.close_date = data.close_date
    if data.comments is not None:
        deal.comments = data.comments
    if data.currency is not None and data.currency != deal.currency:
        if data.rows is None and await product_rows.load_rows(session, (RowOwner.DEAL, deal.id)):
            raise BadValue(
                "currency",
                data.currency,
                f"the rows are priced in {deal.currency}; send the rows in {data.currency} with it",
            )
        deal.currency = data.currency
    if data.contact_ids is not None:
        await _set_contacts(session, deal.id, data.contact_ids)
    if "amount" in sent:
        deal.amount_manual = data.amount is not None
        if data.amount is not None:
            deal.amount = data.amount
    if data.stage_id is not None and data.stage_id != deal.stage_id:
        stage = await get_stage(session, data.stage_id)
        await _enter_stage(
            session, deal, stage, principal=principal, loss_reason=data.loss_reason, at=at or utc_now()
        )
    elif "loss_reason" in sent:
        stage = await get_stage(session, deal.stage_id)
        if stage.semantic == StatusSemantic.FAILURE:
            if _reason(data.loss_reason) is None:
                raise LossReasonRequired(stage.code)
            deal.loss_reason = _reason(data.loss_reason)
    if data.rows is not None:
        await product_rows.replace_rows(session, (RowOwner.DEAL, deal.id), data.rows)
    elif "amount" in sent and data.amount is None:
        await product_rows.refresh_owner(session, (RowOwner.DEAL, deal.id))
    await session.flush()
    log.info("deal_updated", deal_id=deal.id, fields=sorted(sent), by=principal.login)
    return await _out(session, deal)


async def move_deal(
    session: AsyncSession,
    principal: Principal,
    deal_id: int,
    stage_id: int,
    *,
    loss_reason: str | None = None,
    at: datetime | None = None,
) -> DealOut:
    """Move a deal to another stage (a failure stage needs *loss_reason*)."""
    data = DealUpdate(stage_id=stage_id, loss_reason=loss_reason)
    return await update_deal(session, principal, deal_id, data, at=at)


async def delete_deal(session: AsyncSession, principal: Principal, deal_id: int) -> None:
    """Delete a deal with its rows, contacts links, history and activity bindings; its quotes and
    invoices stay.

    As for cards (:func:`~crm_core.cards.owned.delete_owned`): an activity bound to the deal only
    goes with it, one bound to other cards too stays there without the deal.
    """
    deal = await load_deal(session, deal_id)
    principal.require(Entity.DEAL, Action.DELETE, deal.responsible_id)
    removed = await delete_owned(session, Entity.DEAL.value, [deal_id])
    await session.delete(deal)
    await session.flush()
    log.info("deal_deleted", deal_id=deal_id, by=principal.login, removed=removed)


async def stage_history(session: AsyncSession, principal: Principal, deal_id: int) -> list[StageHistoryOut]:
    """The stages the deal went through, oldest first."""
    deal = await load_deal(session, deal_id)
    principal.require(Entity.DEAL, Action.READ, deal.responsible_id)
    stmt = (
        select(DealStageHistory)
        .where(DealStageHistory.deal_id == deal_id)
        .order_by(DealStageHistory.entered_at, DealStageHistory.id)
    )
    return [StageHistoryOut.model_validate(h, from_attributes=True) for h in await session.scalars(stmt)]


class DealsResource:
    """``/api/v1/deals``."""

    entity: ClassVar[Entity] = Entity.DEAL
    path: ClassVar[str] = "deals"
    schema_out: ClassVar[type[BaseModel]] = DealOut
    schema_create: ClassVar[type[BaseModel]] = DealCreate
    schema_update: ClassVar[type[BaseModel]] = DealUpdate
    filterable: ClassVar[Mapping[str, type]] = {
        "title": str,
        "pipeline_id": int,
        "stage_id": int,
        "responsible_id": int,
        "company_id": int,
        "source_lead_id": int,
        "currency": str,
        "amount": Decimal,
        "closed": bool,
        "close_date": date,
        "created_at": datetime,
    }
    sortable: ClassVar[tuple[str, ...]] = ("title", "amount", "close_date", "created_at", "updated_at", "id")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[DealOut]:
        visible = principal.visible(Entity.DEAL, Action.READ, Deal.responsible_id)
        deals, total = await fetch_page(
            session,
            select(Deal).where(visible),
            Deal,
            query,
            filterable=self.filterable,
            sortable=self.sortable,
        )
        items = await _outs(session, deals)
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> DealOut:
        return await get_deal(session, principal, id)

    async def create(self, session: AsyncSession, principal: Principal, data: DealCreate) -> DealOut:
        return await create_deal(session, principal, data)

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: DealUpdate) -> DealOut:
        return await update_deal(session, principal, id, data)

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        await delete_deal(session, principal, id)
