"""Duplicate control on the four axes Bitrix24 uses: phone, e-mail, person name, company name.

Two questions, both answered from indexed keys (E.164 numbers, lower-cased addresses and the name
keys of :mod:`crm_core.models.keys`):

- :func:`find_duplicates`: which cards look like *this* one (before creating a card, when
  converting a lead, when importing a row)?
- :func:`duplicate_groups`: which cards of one kind share a key (the "find duplicates" screen that
  leads to a merge)?

:func:`card_keys` reads what a saved card offers to the first question.

A duplicate the user may not read is still reported (creating a second card for a colleague's
client is exactly what duplicate control should stop) but without its title.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from ..models import Company, Contact, Email, Lead, Phone
from ..models.keys import company_key, email_key, person_key
from ..rights import Action, Entity, Principal
from .cardref import require_card
from .errors import BadValue

__all__ = [
    "AXES",
    "CardKeys",
    "Duplicate",
    "DuplicateGroup",
    "card_keys",
    "duplicate_groups",
    "find_duplicates",
]

Axis = Literal["phone", "email", "name", "company"]
CardKind = Literal["contact", "company", "lead"]
AXES: tuple[Axis, ...] = ("phone", "email", "name", "company")
_MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "lead": Lead}
_TITLE: dict[str, Any] = {"contact": Contact.name, "company": Company.title, "lead": Lead.title}


class Duplicate(BaseModel):
    """A card that looks like the one in question, and why."""

    entity: CardKind
    id: int
    title: str | None
    "None when the user may not read the card."
    responsible_id: int | None
    matched_on: list[Axis]


class DuplicateGroup(BaseModel):
    """Cards of one kind sharing one key: candidates for one merge."""

    axis: Axis
    key: str
    ids: list[int]


@dataclass(frozen=True, slots=True)
class CardKeys:
    """What duplicate control compares for one card: its phones, e-mails and names."""

    phones: list[str]
    "E.164 numbers (phones that could not be read are left out)."
    emails: list[str]
    name: str | None = None
    "The person: a contact's or a lead's name."
    company_name: str | None = None
    "The company: a company's title or a lead's company name."


async def card_keys(session: AsyncSession, principal: Principal, kind: CardKind, id: int) -> CardKeys:
    """The keys of the *kind* card *id*; raise ``NotFound``/``Forbidden`` unless the principal may read it."""
    await require_card(session, principal, kind, id)
    phones = list(
        await session.scalars(
            select(Phone.e164).where(Phone.owner_type == kind, Phone.owner_id == id, Phone.e164.is_not(None))
        )
    )
    emails = list(
        await session.scalars(select(Email.value).where(Email.owner_type == kind, Email.owner_id == id))
    )
    if kind == "contact":
        name = await session.scalar(select(Contact.name).where(Contact.id == id))
        return CardKeys(phones=phones, emails=emails, name=name)
    if kind == "company":
        title = await session.scalar(select(Company.title).where(Company.id == id))
        return CardKeys(phones=phones, emails=emails, company_name=title)
    row = (await session.execute(select(Lead.name, Lead.company_name).where(Lead.id == id))).one()
    return CardKeys(phones=phones, emails=emails, name=row.name, company_name=row.company_name)


async def find_duplicates(
    session: AsyncSession,
    principal: Principal,
    *,
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    name: str | None = None,
    company_name: str | None = None,
    entities: Sequence[CardKind] = ("contact", "company", "lead"),
    exclude: tuple[str, int] | None = None,
    region: str = "RU",
    limit: int = 50,
) -> list[Duplicate]:
    """Cards among *entities* sharing a phone, an e-mail, the person name or the company name.

    Phones may be written any way (they are compared as E.164); unreadable ones are ignored. The
    strongest matches (most axes) come first.
    """
    e164s = {n.e164 for n in (normalise(p, region) for p in phones) if n.e164}
    email_keys = {k for k in (email_key(e) for e in emails) if k}
    name_key, title_key = person_key(name), company_key(company_name)
    matches: dict[tuple[str, int], set[str]] = defaultdict(set)
    if e164s:
        rows = await session.execute(
            select(Phone.owner_type, Phone.owner_id).where(
                Phone.e164.in_(e164s), Phone.owner_type.in_(entities)
            )
        )
        for kind, owner_id in rows:
            matches[(kind, owner_id)].add("phone")
    if email_keys:
        rows = await session.execute(
            select(Email.owner_type, Email.owner_id).where(
                Email.value_key.in_(email_keys), Email.owner_type.in_(entities)
            )
        )
        for kind, owner_id in rows:
            matches[(kind, owner_id)].add("email")
    for kind, column, key, axis in (
        ("contact", Contact.name_key, name_key, "name"),
        ("lead", Lead.name_key, name_key, "name"),
        ("company", Company.title_key, title_key, "company"),
        ("lead", Lead.company_key, title_key, "company"),
    ):
        if key is not None and kind in entities:
            model = _MODELS[kind]
            for card_id in await session.scalars(select(model.id).where(column == key).limit(limit)):
                matches[(kind, card_id)].add(axis)
    if exclude is not None:
        matches.pop(exclude, None)
    ranked = sorted(matches.items(), key=lambda m: (-len(m[1]), _order(m[0][0]), m[0][1]))[:limit]
    return await _describe(session, principal, ranked)


def _order(kind: str) -> int:
    return ("contact", "company", "lead").index(kind)


async def _describe(
    session: AsyncSession, principal: Principal, ranked: list[tuple[tuple[str, int], set[str]]]
) -> list[Duplicate]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for (kind, card_id), _axes in ranked:
        by_kind[kind].append(card_id)
    facts: dict[tuple[str, int], tuple[str, int | None]] = {}
    for kind, ids in by_kind.items():
        model = _MODELS[kind]
        rows = await session.execute(
            select(model.id, _TITLE[kind], model.responsible_id).where(model.id.in_(ids))
        )
        for card_id, title, responsible_id in rows:
            facts[(kind, card_id)] = (title, responsible_id)
    out = []
    for (kind, card_id), axes in ranked:
        if (kind, card_id) not in facts:  # a phone or e-mail row whose card is gone
            continue
        title, responsible_id = facts[(kind, card_id)]
        readable = principal.can(Entity(kind), Action.READ, responsible_id)
        out.append(
            Duplicate(
                entity=kind,
                id=card_id,
                title=title if readable else None,
                responsible_id=responsible_id,
                matched_on=[axis for axis in AXES if axis in axes],
            )
        )
    return out


async def duplicate_groups(
    session: AsyncSession, principal: Principal, entity: CardKind, axis: Axis, *, limit: int = 100
) -> list[DuplicateGroup]:
    """Groups of the principal's visible *entity* cards sharing a key on *axis*, biggest first."""
    model = _MODELS[entity]
    visible = principal.visible(Entity(entity), Action.READ, model.responsible_id)
    if axis == "phone":
        key, card = Phone.e164, Phone.owner_id
        base = select(key, card).join(model, model.id == Phone.owner_id).where(Phone.owner_type == entity)
    elif axis == "email":
        key, card = Email.value_key, Email.owner_id
        base = select(key, card).join(model, model.id == Email.owner_id).where(Email.owner_type == entity)
    else:
        columns = {
            ("contact", "name"): Contact.name_key,
            ("lead", "name"): Lead.name_key,
            ("company", "company"): Company.title_key,
            ("lead", "company"): Lead.company_key,
        }
        if (entity, axis) not in columns:
            raise BadValue("axis", axis, f"a {entity} has no {axis} to compare")
        key, card = columns[(entity, axis)], model.id
        base = select(key, card)
    base = base.where(visible, key.is_not(None))
    pairs = base.subquery()
    keys = list(
        await session.scalars(
            select(pairs.c[0])
            .group_by(pairs.c[0])
            .having(func.count(func.distinct(pairs.c[1])) > 1)
            .order_by(func.count(func.distinct(pairs.c[1])).desc(), pairs.c[0])
            .limit(limit)
        )
    )
    if not keys:
        return []
    groups: dict[str, set[int]] = defaultdict(set)
    for value, card_id in await session.execute(base.where(key.in_(keys))):
        groups[value].add(card_id)
    return [DuplicateGroup(axis=axis, key=k, ids=sorted(groups[k])) for k in keys]
