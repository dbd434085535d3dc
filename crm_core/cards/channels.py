"""Phones and e-mails of cards: validated, normalised, written as a whole list, read in batches.

A phone is kept three ways (as typed, E.164, extension apart) because calls arrive as E.164 and
never carry the extension; an e-mail is kept as typed and lower-cased for matching. A number or
address that cannot be read is refused with the list position, rather than stored where it would
silently never match a call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from ..models import Email, Phone
from ..models.keys import email_key
from .errors import BadValue
from .schemas import EmailIn, EmailOut, PhoneIn, PhoneOut

__all__ = ["Channels", "load_channels", "replace_emails", "replace_phones"]

Channels = tuple[list[PhoneOut], list[EmailOut]]


def _phones(values: Sequence[PhoneIn], region: str, owner_type: str, owner_id: int) -> list[Phone]:
    rows: list[Phone] = []
    seen: set[tuple[str, str | None]] = set()
    for index, phone in enumerate(values):
        parsed = normalise(phone.value, region)
        if parsed.e164 is None:
            raise BadValue(f"phones[{index}]", phone.value, f"{phone.value!r} is not a phone number")
        if (parsed.e164, parsed.extension) in seen:
            continue
        seen.add((parsed.e164, parsed.extension))
        rows.append(
            Phone(
                owner_type=owner_type,
                owner_id=owner_id,
                raw=phone.value,
                e164=parsed.e164,
                extension=parsed.extension,
                kind=phone.kind,
            )
        )
    return rows


def _emails(values: Sequence[EmailIn], owner_type: str, owner_id: int) -> list[Email]:
    rows: list[Email] = []
    seen: set[str] = set()
    for index, email in enumerate(values):
        key = email_key(email.value)
        if key is None:
            raise BadValue(f"emails[{index}]", email.value, f"{email.value!r} is not an e-mail address")
        if key in seen:
            continue
        seen.add(key)
        rows.append(Email(owner_type=owner_type, owner_id=owner_id, value=email.value, kind=email.kind))
    return rows


async def replace_phones(
    session: AsyncSession, owner_type: str, owner_id: int, values: Sequence[PhoneIn], *, region: str
) -> None:
    """Make *values* the card's phones (repeats dropped); raise :class:`BadValue` before any change."""
    rows = _phones(values, region, owner_type, owner_id)
    await session.execute(delete(Phone).where(Phone.owner_type == owner_type, Phone.owner_id == owner_id))
    session.add_all(rows)


async def replace_emails(
    session: AsyncSession, owner_type: str, owner_id: int, values: Sequence[EmailIn]
) -> None:
    """Make *values* the card's e-mails (repeats dropped); raise :class:`BadValue` before any change."""
    rows = _emails(values, owner_type, owner_id)
    await session.execute(delete(Email).where(Email.owner_type == owner_type, Email.owner_id == owner_id))
    session.add_all(rows)


async def load_channels(session: AsyncSession, owner_type: str, ids: Iterable[int]) -> dict[int, Channels]:
    """Phones and e-mails of many cards in two queries (a list page never asks per row)."""
    wanted = sorted(set(ids))
    found: dict[int, Channels] = defaultdict(lambda: ([], []))
    if not wanted:
        return found
    await session.flush()
    phones = await session.scalars(
        select(Phone).where(Phone.owner_type == owner_type, Phone.owner_id.in_(wanted)).order_by(Phone.id)
    )
    for phone in phones:
        found[phone.owner_id][0].append(PhoneOut.model_validate(phone))
    emails = await session.scalars(
        select(Email).where(Email.owner_type == owner_type, Email.owner_id.in_(wanted)).order_by(Email.id)
    )
    for email in emails:
        found[email.owner_id][1].append(EmailOut.model_validate(email))
    return found
