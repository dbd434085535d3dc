"""The exclusion list: numbers and e-mails the CRM never creates anything for, nor matches to a card.

Bitrix24 keeps such a list for the company's own numbers and mailboxes, partners' switchboards and
the like. Numbers live in ``excluded_number`` (the call log and the screen-pop already honour it);
e-mails in ``excluded_email``. Imports and automatic card creation ask :func:`excluded` before
they write; the card services and lead conversion refuse such a value outright
(:func:`refuse_excluded` raises :class:`~crm_core.errors.ExcludedValue`). Editing the list is a CRM
setting: it takes "all" rights to update leads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from ..errors import ExcludedValue
from ..models import ExcludedEmail, ExcludedNumber, ExclusionReason
from ..models.keys import email_key
from ..rights import Action, Entity, Forbidden, Level, Principal
from .errors import BadValue

__all__ = [
    "Exclusion",
    "add_exclusion",
    "excluded",
    "list_exclusions",
    "refuse_excluded",
    "remove_exclusion",
]

Kind = Literal["phone", "email"]


class Exclusion(BaseModel):
    kind: Kind
    value: str
    "E.164 for a phone, lower case for an e-mail."
    reason: str


def _require_admin(principal: Principal) -> None:
    if principal.level(Entity.LEAD, Action.UPDATE) is not Level.ALL:
        raise Forbidden(Entity.LEAD, Action.UPDATE)


def _key(kind: Kind, value: str, region: str) -> str:
    if kind == "phone":
        e164 = normalise(value, region).e164
        if e164 is None:
            raise BadValue("value", value, f"{value!r} is not a phone number")
        return e164
    key = email_key(value)
    if key is None:
        raise BadValue("value", value, f"{value!r} is not an e-mail address")
    return key


async def list_exclusions(session: AsyncSession, principal: Principal) -> list[Exclusion]:
    """Every excluded number, then every excluded e-mail, in order."""
    principal.require_any(Entity.LEAD, Action.READ)
    numbers = await session.execute(
        select(ExcludedNumber.e164, ExcludedNumber.reason).order_by(ExcludedNumber.e164)
    )
    emails = await session.execute(
        select(ExcludedEmail.email, ExcludedEmail.reason).order_by(ExcludedEmail.email)
    )
    return [Exclusion(kind="phone", value=v, reason=r) for v, r in numbers] + [
        Exclusion(kind="email", value=v, reason=r) for v, r in emails
    ]


async def add_exclusion(
    session: AsyncSession,
    principal: Principal,
    kind: Kind,
    value: str,
    *,
    reason: str = ExclusionReason.EXCLUDED,
    region: str = "RU",
) -> Exclusion:
    """Exclude a number (any spelling) or an e-mail; adding one already there changes nothing."""
    _require_admin(principal)
    key = _key(kind, value, region)
    model, column = (
        (ExcludedNumber, ExcludedNumber.e164) if kind == "phone" else (ExcludedEmail, ExcludedEmail.email)
    )
    existing = await session.scalar(select(model).where(column == key))
    if existing is None:
        existing = model(reason=reason, **{column.key: key})
        session.add(existing)
        await session.flush()
    return Exclusion(kind=kind, value=key, reason=existing.reason)


async def remove_exclusion(
    session: AsyncSession, principal: Principal, kind: Kind, value: str, *, region: str = "RU"
) -> bool:
    """Take a number or e-mail off the list; False if it was not on it."""
    _require_admin(principal)
    key = _key(kind, value, region)
    model, column = (
        (ExcludedNumber, ExcludedNumber.e164) if kind == "phone" else (ExcludedEmail, ExcludedEmail.email)
    )
    result = await session.execute(delete(model).where(column == key))
    return bool(result.rowcount)


async def excluded(
    session: AsyncSession,
    *,
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    own_numbers: Iterable[str] = (),
    region: str = "RU",
) -> list[Exclusion]:
    """Which of *phones*/*emails* are excluded (the exclusion list plus ``crm.own_numbers``)."""
    e164s = {n.e164 for n in (normalise(p, region) for p in phones) if n.e164}
    own = {n.e164 for n in (normalise(p, region) for p in own_numbers) if n.e164}
    keys = {k for k in (email_key(e) for e in emails) if k}
    found = [Exclusion(kind="phone", value=v, reason=ExclusionReason.OWN_NUMBER) for v in sorted(e164s & own)]
    if e164s - own:
        rows = await session.execute(
            select(ExcludedNumber.e164, ExcludedNumber.reason).where(ExcludedNumber.e164.in_(e164s - own))
        )
        found += [Exclusion(kind="phone", value=v, reason=r) for v, r in rows]
    if keys:
        rows = await session.execute(
            select(ExcludedEmail.email, ExcludedEmail.reason).where(ExcludedEmail.email.in_(keys))
        )
        found += [Exclusion(kind="email", value=v, reason=r) for v, r in rows]
    return found


async def refuse_excluded(
    session: AsyncSession,
    *,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    own_numbers: Iterable[str] = (),
    region: str = "RU",
) -> None:
    """Raise :class:`ExcludedValue` naming the first of *phones*/*emails* that is excluded.

    The field is named as the card's input names it (``phones[1]``, ``emails[0]``); values that
    are not numbers or addresses at all are left to the channel checks.
    """
    found = await excluded(session, phones=phones, emails=emails, own_numbers=own_numbers, region=region)
    reasons = {(f.kind, f.value): f.reason for f in found}
    sent = [("phone", f"phones[{i}]", normalise(p, region).e164) for i, p in enumerate(phones)]
    sent += [("email", f"emails[{i}]", email_key(e)) for i, e in enumerate(emails)]
    for kind, field, key in sent:
        if (kind, key) in reasons:
            raise ExcludedValue(field, str(key), reasons[kind, key])
