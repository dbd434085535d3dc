"""Merging duplicate cards into one, losing nothing, with an audit record of what was merged.

Everything that points at a merged card is moved to the kept one: every foreign key in the schema
that references the card's table (calls, call-back tasks, leads, contact <-> company links, deals,
deal contacts, quotes...) and every row it owns through ``owner_type``/``owner_id`` (phones,
e-mails, activity bindings, product rows). The columns are found in the metadata, so a table added
later by another package moves too. Recordings hang off calls, so they follow their calls.

Link tables are keyed on the pair; where the kept card already has the same link, the merged card's
copy is dropped instead of moved. Phones and e-mails the kept card already has are dropped as
repeats. Empty fields of the kept card are filled from the merged ones; comments are joined.

The audit entry (``<entity>.merge``) holds each merged card as it was (fields, phones, e-mails,
companies) and how many rows moved per column, so a wrong merge can be undone by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import structlog
from pydantic import BaseModel
from sqlalchemy import Column, ColumnElement, Table, UniqueConstraint, and_, delete, exists, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..db import Base
from ..errors import NotFound
from ..models import CallActivity, Company, Contact, Email, Lead, Phone
from ..rights import Action, Entity, Principal
from .companies import CompaniesResource
from .contacts import ContactsResource
from .errors import BadValue
from .leads import LeadsResource
from .owned import owned_tables

__all__ = ["MergeResult", "merge"]

log = structlog.get_logger(__name__)

CardKind = Literal["contact", "company", "lead"]
_MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "lead": Lead}
_SNAPSHOT: dict[str, Any] = {"contact": ContactsResource, "company": CompaniesResource, "lead": LeadsResource}
_FILL: dict[str, tuple[str, ...]] = {
    "contact": ("company_id", "responsible_id"),
    "company": ("responsible_id",),
    "lead": ("name", "company_name", "responsible_id", "contact_id", "company_id"),
}
"Fields of the kept card filled from a merged card when empty."


class MergeResult(BaseModel):
    entity: CardKind
    kept_id: int
    merged_ids: list[int]
    moved: dict[str, int]
    "Rows moved to the kept card, per ``table.column``."
    audit_id: int


async def merge(
    session: AsyncSession, principal: Principal, entity: CardKind, keep_id: int, merge_ids: Sequence[int]
) -> MergeResult:
    """Merge the cards *merge_ids* into *keep_id*; they are deleted. The caller commits.

    Takes the right to update the kept card and to delete each merged one. Objects loaded in the
    session before the merge are expired (rows changed under them).
    """
    if entity not in _MODELS:
        raise BadValue("entity", entity, "only contacts, companies and leads merge", tuple(_MODELS))
    merged_ids = list(dict.fromkeys(merge_ids))
    if not merged_ids or keep_id in merged_ids:
        raise BadValue("merge_ids", merged_ids, "give at least one card other than the one kept")
    model, kind = _MODELS[entity], Entity(entity)
    keep = await session.get(model, keep_id)
    if keep is None:
        raise NotFound(entity, keep_id)
    principal.require(kind, Action.UPDATE, keep.responsible_id)
    merged = []
    for merged_id in merged_ids:
        row = await session.get(model, merged_id)
        if row is None:
            raise NotFound(entity, merged_id)
        principal.require(kind, Action.DELETE, row.responsible_id)
        merged.append(row)
    snapshot = [
        out.model_dump(mode="json") for out in await _SNAPSHOT[entity](region="RU")._out_many(session, merged)
    ]
    _fill(entity, keep, merged)
    await session.flush()

    moved: dict[str, int] = {}
    target = model.__table__
    for table, column in _references(target):
        for merged_id in merged_ids:
            _count(
                moved, f"{table.name}.{column.name}", await _move(session, table, column, keep_id, merged_id)
            )
    for table in owned_tables():
        for merged_id in merged_ids:
            count = await _move(
                session, table, table.c.owner_id, keep_id, merged_id, scope=table.c.owner_type == entity
            )
            _count(moved, f"{table.name}.owner_id", count)
    crm = CallActivity.__table__
    for merged_id in merged_ids:
        count = await _move(
            session, crm, crm.c.crm_entity_id, keep_id, merged_id, scope=crm.c.crm_entity == entity
        )
        _count(moved, "call.crm_entity_id", count)
    await _drop_repeats(session, entity, keep_id)
    await session.execute(delete(target).where(target.c.id.in_(merged_ids)))
    session.expire_all()

    entry = await audit.record(
        session,
        action=f"{entity}.merge",
        actor=principal.login,
        user_id=principal.user_id,
        target=f"{entity}:{keep_id}",
        details={"kept": keep_id, "merged": snapshot, "moved": moved},
    )
    log.info("cards_merged", entity=entity, kept=keep_id, merged=merged_ids, moved=moved, by=principal.login)
    return MergeResult(entity=entity, kept_id=keep_id, merged_ids=merged_ids, moved=moved, audit_id=entry.id)


def _fill(entity: str, keep: Any, merged: Sequence[Any]) -> None:
    for field in _FILL[entity]:
        if getattr(keep, field) is None:
            found = next((getattr(m, field) for m in merged if getattr(m, field) is not None), None)
            setattr(keep, field, found)
    notes = [keep.comments, *(m.comments for m in merged)]
    keep.comments = "\n\n".join(dict.fromkeys(n.strip() for n in notes if n and n.strip()))


def _references(target: Table) -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) with a foreign key to ``target.id``."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is target and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _unique_sets(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """The other columns of each multi-column key containing *column* (a link table's pair)."""
    keys = [list(table.primary_key.columns)]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    return [[c for c in key if c is not column] for key in keys if column in key and len(key) > 1]


async def _move(
    session: AsyncSession,
    table: Table,
    column: Column[Any],
    keep_id: int,
    merged_id: int,
    *,
    scope: ColumnElement[bool] | None = None,
) -> int:
    """Point *column* of *table* from *merged_id* to *keep_id*, dropping rows the kept card already has."""
    scope = true() if scope is None else scope
    for others in _unique_sets(table, column):
        twin = table.alias()
        same = [twin.c[o.name] == o for o in others]
        has_twin = exists().where(twin.c[column.name] == keep_id, *same)
        await session.execute(delete(table).where(column == merged_id, scope, has_twin))
    result = await session.execute(
        update(table).where(column == merged_id, scope).values({column.name: keep_id})
    )
    return result.rowcount or 0


async def _drop_repeats(session: AsyncSession, entity: str, keep_id: int) -> None:
    """Delete the kept card's phones and e-mails that repeat an older one."""
    for model, same in (
        (Phone, lambda a, b: and_(a.e164 == b.e164, a.extension.is_not_distinct_from(b.extension))),
        (Email, lambda a, b: a.value_key == b.value_key),
    ):
        table = model.__table__
        twin = table.alias()
        older = exists().where(
            twin.c.owner_type == entity,
            twin.c.owner_id == keep_id,
            twin.c.id < table.c.id,
            same(twin.c, table.c),
        )
        await session.execute(
            delete(table).where(table.c.owner_type == entity, table.c.owner_id == keep_id, older)
        )


def _count(moved: dict[str, int], key: str, count: int) -> None:
    if count:
        moved[key] = moved.get(key, 0) + count
