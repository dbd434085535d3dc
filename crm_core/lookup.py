"""Who is calling: the number -> CRM card lookup behind the screen-pop and the call log.

Order: a Contact, then a Company, then the most recent open Lead (open: its status's semantic in
the ``lead_status`` dictionary is ``process``). Our own numbers, the exclusion
list and numbers that do not parse never match. It costs one query: an index seek on
``phone.e164`` joined by primary keys to the card and its responsible.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from .models import (
    ExcludedNumber,
    LeadStatusItem,
    StatusSemantic,
)

__all__ = ["Card", "EntityKind", "closed_statuses", "find_card", "find_owner", "is_excluded"]

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


def closed_statuses() -> Select[tuple[str]]:
    """The codes of lead statuses that close a lead (success or failure), as a subquery.

    A handful of rows: the lookup stays one indexed query, and a status an admin adds as "junk"
    closes leads at once.
    """
    return select(LeadStatusItem.code).where(LeadStatusItem.semantic != StatusSemantic.PROCESS)


async def is_excluded(session: AsyncSession, e164: str, own_numbers: Iterable[str], region: str) -> bool:
    """Return True when *e164* is one of our own numbers or on the exclusion list."""
    if e164 in _own_e164(tuple(own_numbers), region):
        return True
    return await session.scalar(select(ExcludedNumber.id).where(ExcludedNumber.e164 == e164)) is not None


# One row per phone with this number, each joined to the card it belongs to; the WHERE clause
# constrains ``phone`` by ``e164`` only, so every planner seeks ``ix_phone_e164`` (an equality
# on ``owner_type`` there would tempt SQLite into the owner index and a scan). Oldest
# contact/company first (the original card, not a later duplicate), newest open lead first.
# Written once as SQL both backends run as it is: the screen-pop's hot path pays no statement
# building, and one round trip answers both "whose number" and "what to show".
_LOOKUP = """
    SELECT p.owner_type AS kind, p.owner_id AS id,
           COALESCE(c.name, co.title, l.title) AS title,
           CASE p.owner_type WHEN 'contact' THEN cc.title WHEN 'lead' THEN l.company_name END AS company,
           COALESCE(uc.name, uo.name, ul.name) AS responsible
      FROM phone p
      LEFT JOIN contact c ON p.owner_type = 'contact' AND c.id = p.owner_id
      LEFT JOIN company co ON p.owner_type = 'company' AND co.id = p.owner_id
      LEFT JOIN lead l ON p.owner_type = 'lead' AND l.id = p.owner_id
      LEFT JOIN company cc ON cc.id = c.company_id
      LEFT JOIN app_user uc ON uc.id = c.responsible_id
      LEFT JOIN app_user uo ON uo.id = co.responsible_id
      LEFT JOIN app_user ul ON ul.id = l.responsible_id
     WHERE p.e164 = :e164
       AND (c.id IS NOT NULL OR co.id IS NOT NULL OR (
            l.id IS NOT NULL
            AND l.status NOT IN (SELECT code FROM lead_status WHERE semantic <> 'process')))
"""
_NOT_EXCLUDED = "AND NOT EXISTS (SELECT 1 FROM excluded_number x WHERE x.e164 = :e164)"
_ORDER = """
  ORDER BY CASE p.owner_type WHEN 'contact' THEN 0 WHEN 'company' THEN 1 ELSE 2 END,
           CASE p.owner_type WHEN 'lead' THEN -p.owner_id ELSE p.owner_id END
  LIMIT 1
"""
_CARD = text(_LOOKUP + _NOT_EXCLUDED + _ORDER)
_CARD_ANY = text(_LOOKUP + _ORDER)


async def _first_hit(session: AsyncSession, e164: str, *, skip_excluded: bool) -> Row[Any] | None:
    connection = await session.connection()
    result = await connection.execute(_CARD if skip_excluded else _CARD_ANY, {"e164": e164})
    return result.first()


async def find_owner(
    session: AsyncSession, e164: str, *, skip_excluded: bool = True
) -> tuple[EntityKind, int] | None:
    """Return the (kind, id) whose phone is *e164*: contact, else company, else newest open lead."""
    row = await _first_hit(session, e164, skip_excluded=skip_excluded)
    if row is None:
        return None
    return row.kind, row.id


@functools.lru_cache(maxsize=64)
def _own_e164(own_numbers: tuple[str, ...], region: str) -> frozenset[str | None]:
    return frozenset(normalise(number, region).e164 for number in own_numbers)


async def find_card(
    session: AsyncSession, number: str, *, region: str, own_numbers: Iterable[str] = ()
) -> Card | None:
    """Return the card for the caller's *number* as the PBX or a person wrote it, or None."""
    e164 = normalise(number, region).e164
    if e164 is None or e164 in _own_e164(tuple(own_numbers), region):
        return None
    row = await _first_hit(session, e164, skip_excluded=True)
    if row is None:
        return None
    return Card(
        entity=row.kind,
        id=row.id,
        title=row.title,
        company=row.company,
        responsible=row.responsible,
        phone=e164,
    )
