"""The call -> CRM rules (DESIGN §4): log every finished call once, bound to the right card.

An unknown outside number becomes a Lead (with its phone); a known one binds the call to its
Contact (and company and open lead), Company or open Lead. An inbound call that reached nobody
(missed, busy or failed) also gets a "Call back" task. Everything is idempotent on (pbx id,
call id): a replay answers what the first pass decided and only adds recordings not attached yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import CrmSettings
from cti.model import Call, Direction, Disposition
from cti.numbers import normalise

from .errors import NotFound
from .lookup import closed_statuses, find_owner, is_excluded
from .models import (
    CallActivity,
    Company,
    Contact,
    CrmEntity,
    Lead,
    LeadSource,
    LeadStatus,
    Phone,
    PhoneOwner,
    Recording,
    Task,
    User,
)

__all__ = ["CALL_BACK_WITHIN", "CrmOutcome", "attach_recording", "record_call"]

log = structlog.get_logger(__name__)

CALL_BACK_WITHIN = timedelta(hours=1)
"The call-back task of a missed call is due this long after the call ended."
_CALL_BACK = frozenset({Disposition.MISSED, Disposition.BUSY, Disposition.FAILED})
"Inbound calls that reached nobody: the customer waits for a call back, whatever the reason."


@dataclass(frozen=True, slots=True)
class CrmOutcome:
    """Where a call landed: the card kind (or ``none``), its id, and whether we created it."""

    entity: str
    id: int | None
    created: bool


@dataclass(frozen=True, slots=True)
class _Binding:
    entity: str = CrmEntity.NONE
    entity_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    lead_id: int | None = None
    responsible_id: int | None = None
    "The card's responsible user."


async def record_call(session: AsyncSession, call: Call, *, pbx_id: str, settings: CrmSettings) -> CrmOutcome:
    """Write *call* to the call log and the CRM; the caller commits.

    When another writer logs the same call concurrently, the unique (pbx_id, call_id) key makes
    our insert fail: the session is rolled back and the other writer's outcome returned.
    """
    existing = await _find_call(session, pbx_id, call.call_id)
    if existing is not None:
        await _attach(session, existing.id, call.recordings)
        return _outcome(existing)
    try:
        return await _record_new(session, call, pbx_id=pbx_id, settings=settings)
    except IntegrityError:
        await session.rollback()
        existing = await _find_call(session, pbx_id, call.call_id)
        if existing is None:
            raise
        log.info("call_log_race_lost", pbx_id=pbx_id, call_id=call.call_id, call_pk=existing.id)
        await _attach(session, existing.id, call.recordings)
        return _outcome(existing)


async def attach_recording(session: AsyncSession, *, pbx_id: str, call_id: str, path: str) -> bool:
    """Attach a recording that completed after the call was logged; False if already attached.

    Raises :class:`NotFound` when the call is not logged yet (its recordings then come with it).
    """
    row = await _find_call(session, pbx_id, call_id)
    if row is None:
        raise NotFound("call", f"{pbx_id}/{call_id}")
    return await _attach(session, row.id, (path,)) == 1


async def _record_new(session: AsyncSession, call: Call, *, pbx_id: str, settings: CrmSettings) -> CrmOutcome:
    region = settings.default_region
    e164: str | None = None
    if call.is_external and call.external_number:
        e164 = normalise(call.external_number, region).e164
        if e164 is not None and await is_excluded(session, e164, settings.own_numbers, region):
            e164 = None
    handler_id = await _handler_id(session, call)
    binding, created, default_id = _Binding(), False, None
    if e164 is not None:
        default_id = await _active_user_id(session, User.login == settings.default_responsible)
        found = await _bind_existing(session, e164)
        created = found is None
        binding = found or await _create_lead(
            session, call, e164, region=region, responsible_id=handler_id or default_id
        )
    row = CallActivity(
        pbx_id=pbx_id,
        call_id=call.call_id,
        direction=call.direction.value,
        external_number=call.external_number,
        did=call.did,
        extensions=list(call.extensions),
        answered_by=call.answered_by,
        disposition=call.disposition.value if call.disposition is not None else None,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        talk_seconds=call.talk_seconds,
        details=_details(call),
        contact_id=binding.contact_id,
        company_id=binding.company_id,
        lead_id=binding.lead_id,
        responsible_id=handler_id or binding.responsible_id,
        crm_entity=binding.entity,
        crm_entity_id=binding.entity_id,
        crm_created=created,
        recordings=[Recording(path=path) for path in dict.fromkeys(p for p in call.recordings if p)],
    )
    session.add(row)
    await session.flush()  # a concurrent writer of the same call fails here (unique pbx_id, call_id)
    if e164 is not None and call.direction is Direction.INBOUND and call.disposition in _CALL_BACK:
        await _create_call_back(session, call, row, binding, e164, binding.responsible_id or default_id)
    return CrmOutcome(entity=binding.entity, id=binding.entity_id, created=created)


async def _bind_existing(session: AsyncSession, e164: str) -> _Binding | None:
    owner = await find_owner(session, e164, skip_excluded=False)  # the caller checked exclusions
    if owner is None:
        return None
    kind, owner_id = owner
    if kind == "contact":
        company_id, responsible_id = (
            await session.execute(
                select(Contact.company_id, Contact.responsible_id).where(Contact.id == owner_id)
            )
        ).one()
        lead_id = await _open_lead_id(session, e164, Lead.contact_id == owner_id)
        return _Binding(kind, owner_id, owner_id, company_id, lead_id, responsible_id)
    if kind == "company":
        responsible_id = await session.scalar(select(Company.responsible_id).where(Company.id == owner_id))
        lead_id = await _open_lead_id(session, e164, Lead.company_id == owner_id)
        return _Binding(kind, owner_id, None, owner_id, lead_id, responsible_id)
    contact_id, company_id, responsible_id = (
        await session.execute(
            select(Lead.contact_id, Lead.company_id, Lead.responsible_id).where(Lead.id == owner_id)
        )
    ).one()
    return _Binding(kind, owner_id, contact_id, company_id, owner_id, responsible_id)


async def _open_lead_id(session: AsyncSession, e164: str, linked: Any) -> int | None:
    """The newest open lead linked to the card, or sharing its number."""
    same_number = select(Phone.owner_id).where(Phone.owner_type == PhoneOwner.LEAD, Phone.e164 == e164)
    return await session.scalar(
        select(Lead.id)
        .where(Lead.status.not_in(closed_statuses()), or_(linked, Lead.id.in_(same_number)))
        .order_by(Lead.id.desc())
        .limit(1)
    )


async def _create_lead(
    session: AsyncSession, call: Call, e164: str, *, region: str, responsible_id: int | None
) -> _Binding:
    inbound = call.direction is Direction.INBOUND
    caller_name = call.caller.name.strip()
    lead = Lead(
        title=f"{'Incoming' if inbound else 'Outgoing'} call {e164}",
        name=caller_name if inbound and caller_name and caller_name != call.caller.number else None,
        source=LeadSource.CALL,
        status=LeadStatus.NEW,
        responsible_id=responsible_id,
    )
    session.add(lead)
    await session.flush()
    raw = call.external_number or e164
    session.add(
        Phone(
            owner_type=PhoneOwner.LEAD,
            owner_id=lead.id,
            raw=raw,
            e164=e164,
            extension=normalise(raw, region).extension,
        )
    )
    log.info("lead_created", lead_id=lead.id, call_id=call.call_id, responsible_id=responsible_id)
    return _Binding(CrmEntity.LEAD, lead.id, None, None, lead.id, responsible_id)


async def _create_call_back(
    session: AsyncSession,
    call: Call,
    row: CallActivity,
    binding: _Binding,
    e164: str,
    responsible_id: int | None,
) -> None:
    ended = call.ended_at or call.started_at
    task = Task(
        title=f"Call back {e164}",
        description=f"Missed call from {e164} at {ended:%Y-%m-%d %H:%M} UTC.",
        responsible_id=responsible_id,
        call_pk=row.id,
        lead_id=binding.lead_id,
        contact_id=binding.contact_id,
        company_id=binding.company_id,
        due_at=ended + CALL_BACK_WITHIN,
    )
    session.add(task)
    await session.flush()
    log.info("call_back_task_created", task_id=task.id, call_id=call.call_id, responsible_id=responsible_id)


async def _handler_id(session: AsyncSession, call: Call) -> int | None:
    """The user who handled the call: who answered, else (we called out) who dialled."""
    candidates = [call.answered_by]
    if call.direction is not Direction.INBOUND:
        candidates += [call.caller.extension, *call.extensions]
    for extension in dict.fromkeys(c for c in candidates if c):
        user_id = await _active_user_id(session, User.extension == extension)
        if user_id is not None:
            return user_id
    return None


async def _active_user_id(session: AsyncSession, condition: Any) -> int | None:
    return await session.scalar(select(User.id).where(condition, User.is_active.is_(True)))


async def _find_call(session: AsyncSession, pbx_id: str, call_id: str) -> CallActivity | None:
    return await session.scalar(
        select(CallActivity).where(CallActivity.pbx_id == pbx_id, CallActivity.call_id == call_id)
    )


async def _attach(session: AsyncSession, call_pk: int, paths: tuple[str, ...]) -> int:
    """Add the recordings of a logged call not attached yet; return how many were added."""
    wanted = list(dict.fromkeys(p for p in paths if p))
    if not wanted:
        return 0
    have = set(
        await session.scalars(
            select(Recording.path).where(Recording.call_pk == call_pk, Recording.path.in_(wanted))
        )
    )
    new = [p for p in wanted if p not in have]
    if not new:
        return 0
    session.add_all(Recording(call_pk=call_pk, path=p) for p in new)
    try:
        await session.flush()
    except IntegrityError:
        # Another writer attached the same file between our read and our insert.
        await session.rollback()
        return 0
    log.info("recordings_attached", call_pk=call_pk, count=len(new))
    return len(new)


def _outcome(row: CallActivity) -> CrmOutcome:
    """The stored outcome of an already logged call (never created: this pass created nothing)."""
    return CrmOutcome(entity=row.crm_entity, id=row.crm_entity_id, created=False)


def _details(call: Call) -> dict[str, Any]:
    return {
        "pickups": [{"by": p.by, "from": p.from_, "code": p.code} for p in call.pickups],
        "transfers": [{"kind": t.kind.value, "by": t.by, "to": t.to} for t in call.transfers],
        "conference": call.conference,
        "listeners": list(call.listeners),
        "caller": {
            "number": call.caller.number,
            "name": call.caller.name,
            "extension": call.caller.extension,
        },
        "dialled": call.dialled,
        "cause": call.cause,
        "resynced": call.resynced,
    }
