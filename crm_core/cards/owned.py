"""Rows that belong to a card without a foreign key: phones, e-mails, activity bindings, product rows.

These tables point at their card with (``owner_type``, ``owner_id``) so that one table serves every
kind of card, including deals from another package. Any table of the schema with those two columns
is found here by looking at the metadata, so a later table of that shape is deleted and merged with
its card without this module knowing its name.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Base
from ..models import Activity, ActivityBinding

__all__ = ["delete_owned", "owned_tables"]


def owned_tables() -> list[Table]:
    """Every table whose rows belong to a card through ``owner_type``/``owner_id``."""
    return [t for t in Base.metadata.sorted_tables if {"owner_type", "owner_id"} <= set(t.c.keys())]


async def delete_owned(session: AsyncSession, owner_type: str, ids: Sequence[int]) -> dict[str, int]:
    """Delete what the cards *ids* own; activities left bound to no card go too. Return counts per table."""
    if not ids:
        return {}
    counts: dict[str, int] = {}
    bound = list(
        await session.scalars(
            select(ActivityBinding.activity_id).where(
                ActivityBinding.owner_type == owner_type, ActivityBinding.owner_id.in_(ids)
            )
        )
    )
    for table in owned_tables():
        result = await session.execute(
            delete(table).where(table.c.owner_type == owner_type, table.c.owner_id.in_(ids))
        )
        if result.rowcount:
            counts[table.name] = result.rowcount
    if bound:
        orphan = ~exists().where(ActivityBinding.activity_id == Activity.id)
        result = await session.execute(delete(Activity).where(Activity.id.in_(bound), orphan))
        if result.rowcount:
            counts["activity"] = result.rowcount
    return counts
