"""Builders for the CRM tests: calls as the registry would hand them over, and a standard seed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.model import Call, CallId, CallState, Direction, Disposition, Party

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
OWN_DID = "+74951234567"

SEED: dict[str, Any] = {
    "own_numbers": [OWN_DID],
    "users": [
        {"login": "admin", "name": "Administrator", "role": "admin"},
        {"login": "ivanov", "name": "Ivan Ivanov", "extension": "101"},
        {"login": "petrov", "name": "Petr Petrov", "extension": "102"},
    ],
    "companies": [{"title": "Romashka LLC", "phones": ["+7 495 111-22-33"], "responsible": "petrov"}],
    "contacts": [
        {
            "name": "Anna Smirnova",
            "phones": ["8 (916) 123-45-67"],
            "company": "Romashka LLC",
            "responsible": "petrov",
        }
    ],
    "leads": [
        {"title": "Website request", "phones": ["+79035550011"], "status": "NEW", "responsible": "ivanov"},
        {"title": "Old deal", "phones": ["+79035550022"], "status": "CONVERTED"},
    ],
}


def make_call(
    call_id: str = "1700000000.1",
    *,
    direction: Direction = Direction.INBOUND,
    external: str | None = "+79991112233",
    answered_by: str | None = "101",
    disposition: Disposition = Disposition.ANSWERED,
    extensions: tuple[str, ...] = ("101",),
    **changes: Any,
) -> Call:
    """A finished call; inbound answered by 101 unless told otherwise."""
    answered = disposition is Disposition.ANSWERED
    if direction is Direction.INBOUND:
        caller = Party(number=external or "", name="")
        dialled, did = OWN_DID, OWN_DID
    else:
        caller = Party(number=extensions[0], name="Ivan Ivanov", extension=extensions[0])
        dialled, did = external or extensions[-1], None
    fields: dict[str, Any] = {
        "call_id": CallId(call_id),
        "direction": direction,
        "caller": caller,
        "dialled": dialled,
        "external_number": None if direction is Direction.INTERNAL else external,
        "did": did,
        "started_at": T0,
        "state": CallState.ENDED,
        "extensions": extensions,
        "answered_by": answered_by if answered else None,
        "answered_at": T0 + timedelta(seconds=5) if answered else None,
        "ended_at": T0 + timedelta(seconds=65),
        "disposition": disposition,
        "cause": 16,
    }
    fields.update(changes)
    return Call(**fields)


async def count(session: AsyncSession, model: type) -> int:
    """Rows in *model*'s table."""
    return await session.scalar(select(func.count()).select_from(model))
