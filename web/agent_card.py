"""The screen-pop card in depth: what the agent's page fetches right after the pop frame.

The hub's pop frame stays small and fast (one indexed look-up, see :mod:`web.screenpop`); the rest
of the card comes from here, read through the CRM services with the agent's own principal, so
what an agent sees on the pop is exactly what they could open in the CRM:

- the card itself (contact / company / lead) with its responsible and phones, through the card
  services (``Forbidden`` for a card the agent may not read);
- the open deals linked to it (the ``deal`` read right filters them), each with its page's URL;
- the last calls and their recordings, and the last notes, from the card's timeline (which applies
  the ``call`` rights, so a colleague's recording never shows through a shared card).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards import CompaniesResource, ContactsResource, LeadsResource
from crm_core.cards.timeline import timeline
from crm_core.errors import NotFound
from crm_core.models import Company, Deal, DealContact, Stage, User
from crm_core.rights import Action, Entity, Forbidden, Principal

__all__ = ["CARD_ENTITIES", "LAST_CALLS", "LAST_NOTES", "OPEN_DEALS", "card_details"]

CARD_ENTITIES = ("contact", "company", "lead")
LAST_CALLS = 5
"Calls shown on the pop; the CRM card has the whole history."
LAST_NOTES = 5
OPEN_DEALS = 10
_TIMELINE_DEPTH = 50
"Timeline entries read to find the last calls and notes among tasks and other activities."

JsonDict = dict[str, Any]


async def card_details(
    session: AsyncSession, principal: Principal, entity: str, card_id: int, *, region: str
) -> JsonDict:
    """The card as the agent's page shows it; ``NotFound``/``Forbidden`` when out of reach."""
    card = await _card(session, principal, entity, card_id, region)
    history = await timeline(session, principal, entity, card_id, limit=_TIMELINE_DEPTH)
    calls = [item for item in history if item.source == "call"][:LAST_CALLS]
    notes = [item for item in history if item.source == "activity" and item.kind == "note"][:LAST_NOTES]
    return {
        **card,
        "entity": entity,
        "id": card_id,
        "url": f"/crm/{entity}/{card_id}",
        "deals": await _open_deals(session, principal, entity, card_id),
        "calls": [
            {
                "id": item.id,
                "at": item.at.isoformat(),
                "direction": item.details["direction"],
                "number": item.details["number"],
                "disposition": item.details["disposition"],
                "talk_seconds": item.details["talk_seconds"],
                "answered_by": item.details["answered_by"],
                "recordings": [
                    {"id": rid, "url": f"/recordings/{rid}"} for rid in item.details["recording_ids"]
                ],
            }
            for item in calls
        ],
        "notes": [
            {
                "id": item.id,
                "at": item.at.isoformat(),
                "subject": item.subject,
                "text": item.details["description"],
            }
            for item in notes
        ],
    }


async def _card(
    session: AsyncSession, principal: Principal, entity: str, card_id: int, region: str
) -> JsonDict:
    if entity == "contact":
        contact = await ContactsResource(region).get(session, principal, card_id)
        company = await session.scalar(select(Company.title).where(Company.id == contact.company_id))
        title, company_name, responsible_id, phones = (
            contact.name,
            company,
            contact.responsible_id,
            contact.phones,
        )
    elif entity == "company":
        found = await CompaniesResource(region).get(session, principal, card_id)
        title, company_name, responsible_id, phones = found.title, None, found.responsible_id, found.phones
    elif entity == "lead":
        lead = await LeadsResource(region).get(session, principal, card_id)
        title, company_name, responsible_id, phones = (
            lead.title,
            lead.company_name,
            lead.responsible_id,
            lead.phones,
        )
    else:
        raise NotFound(entity, card_id)
    responsible = await session.scalar(select(User.name).where(User.id == responsible_id))
    return {
        "title": title,
        "company": company_name,
        "responsible": responsible,
        "phones": [{"raw": p.raw, "e164": p.e164} for p in phones],
    }


async def _open_deals(
    session: AsyncSession, principal: Principal, entity: str, card_id: int
) -> list[JsonDict]:
    """The card's open deals the agent may read, newest first."""
    try:
        visible = principal.visible(Entity.DEAL, Action.READ, Deal.responsible_id)
    except Forbidden:
        return []  # a role without deals still gets the rest of the card
    linked = {
        "contact": Deal.id.in_(select(DealContact.deal_id).where(DealContact.contact_id == card_id)),
        "company": Deal.company_id == card_id,
        "lead": Deal.source_lead_id == card_id,
    }[entity]
    rows = await session.execute(
        select(Deal.id, Deal.title, Stage.name, Deal.amount, Deal.currency)
        .join(Stage, Stage.id == Deal.stage_id)
        .where(linked, visible, Deal.closed.is_(False))
        .order_by(Deal.id.desc())
        .limit(OPEN_DEALS)
    )
    return [
        {
            "id": deal_id,
            "title": title,
            "stage": stage,
            "amount": str(amount),
            "currency": currency,
            "url": f"/crm/deals/{deal_id}",
        }
        for deal_id, title, stage, amount, currency in rows
    ]
