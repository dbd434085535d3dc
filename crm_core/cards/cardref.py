"""Reading any card by kind and id, for the services that handle several kinds at once.

Activities bind to leads, contacts, companies and deals; the timeline and merge take any of them.
The deal table belongs to the sales package, so cards are read through the schema's metadata by
table name, never by importing another package's model.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Base
from ..errors import NotFound
from ..rights import Action, Entity, Principal

__all__ = ["CARD_KINDS", "require_card"]

CARD_KINDS: tuple[str, ...] = ("lead", "contact", "company", "deal")


async def require_card(
    session: AsyncSession, principal: Principal, kind: str, card_id: int, action: Action = Action.READ
) -> int | None:
    """Return the card's responsible user; raise ``NotFound``/``Forbidden`` unless *action* is allowed."""
    table = Base.metadata.tables.get(kind) if kind in CARD_KINDS else None
    if table is None:
        raise NotFound(kind, card_id)
    row = (await session.execute(select(table.c.responsible_id).where(table.c.id == card_id))).first()
    if row is None:
        raise NotFound(kind, card_id)
    principal.require(Entity(kind), action, row[0])
    return row[0]
