"""What an agent writes about a call: the unknown caller's quick form, the after-call note, call-backs.

The call -> CRM rules (:mod:`crm_core.calllog`) log a call when it ends; the agent types while it is
still running. The two meet through the caller's number, not through shared memory:

- The quick form **creates the lead now** (title, source and responsible exactly as the call log
  would), with the caller's phone on it. When the call ends, the call log finds that open lead by
  the number and binds the call to it instead of creating a second one. Sent again, or after the
  call was logged, the form **updates** the call's lead. Nothing waits in memory, so a restart or a
  second web node loses nothing.
- The after-call note needs the logged call (it binds to the call's cards and to the call itself);
  until the call log has written it the answer is :class:`NotLoggedYet`, which the page retries.
- Call-back tasks are the user's own open tasks made for missed calls; a click closes one (a call
  "answered" by voicemail must not close it by itself).

Rights: every card change goes through the card and activity services with the agent's principal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import CrmSettings
from crm_core.cards import ActivitiesResource, LeadsResource
from crm_core.cards.cardref import require_card
from crm_core.cards.schemas import ActivityCreate, Binding, LeadCreate, LeadUpdate, PhoneIn
from crm_core.db import utc_now
from crm_core.errors import NotFound
from crm_core.lookup import find_owner, is_excluded
from crm_core.models import Activity, ActivityKind, CallActivity, LeadSource, LeadStatus, Task
from crm_core.rights import Action, Entity, Forbidden, Principal
from cti.model import Call, Direction
from cti.numbers import normalise

from . import i18n

__all__ = [
    "CallWorkRefused",
    "CallerForm",
    "NotLoggedYet",
    "add_note",
    "call_backs",
    "close_call_back",
    "fill_caller",
    "logged_call",
    "may_see_logged",
]

log = structlog.get_logger(__name__)

MAX_CALL_BACKS = 50
JsonDict = dict[str, Any]


class CallWorkRefused(Exception):
    """The request makes no sense for this call; ``message`` is in the user's language."""

    status = 409

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message


class NotLoggedYet(CallWorkRefused):
    """The call ended a moment ago and the call log has not written it yet: try again shortly."""

    def __init__(self, call_id: str) -> None:
        super().__init__(
            "call-not-logged-yet",
            i18n.gettext("The call is still being saved to the CRM; try again in a moment"),
        )
        self.call_id = call_id


@dataclass(frozen=True, slots=True)
class CallerForm:
    """What the agent learnt from an unknown caller."""

    name: str
    company: str
    comment: str


async def logged_call(session: AsyncSession, pbx_id: str, call_id: str) -> CallActivity | None:
    return await session.scalar(
        select(CallActivity).where(CallActivity.pbx_id == pbx_id, CallActivity.call_id == call_id)
    )


def may_see_logged(principal: Principal, extension: str | None, row: CallActivity) -> bool:
    """The agent had the call (answered it, or it rang them), or the ``call`` rights allow it."""
    if extension is not None and (extension == row.answered_by or extension in (row.extensions or [])):
        return True
    return principal.can(Entity.CALL, Action.READ, row.responsible_id)


async def fill_caller(
    session: AsyncSession,
    principal: Principal,
    form: CallerForm,
    *,
    call: Call | None,
    row: CallActivity | None,
    settings: CrmSettings,
) -> JsonDict:
    """Put *form* on the call's lead: update the lead the call has, or create it now.

    *row* is the logged call when there is one, else *call* is the live call.
    """
    leads = LeadsResource(settings.default_region, settings.own_numbers)
    if row is not None:
        if row.crm_entity != "lead" or row.crm_entity_id is None:
            raise _known_caller()
        return await _update_lead(session, principal, leads, row.crm_entity_id, form)
    if call is None:
        raise NotFound("call", "")
    number = call.external_number
    e164 = normalise(number, settings.default_region).e164 if number and call.is_external else None
    if e164 is None or await is_excluded(session, e164, settings.own_numbers, settings.default_region):
        raise CallWorkRefused(
            "no-caller-number",
            i18n.gettext("This call has no outside number to make a lead of (internal, withheld or ours)"),
        )
    owner = await find_owner(session, e164)
    if owner is not None:
        kind, owner_id = owner
        if kind != "lead":
            raise _known_caller()
        return await _update_lead(session, principal, leads, owner_id, form)
    inbound = call.direction is Direction.INBOUND
    lead = await leads.create(
        session,
        principal,
        LeadCreate(
            title=f"{'Incoming' if inbound else 'Outgoing'} call {e164}",  # as crm_core.calllog names it
            name=form.name or None,
            company_name=form.company or None,
            comments=form.comment,
            source=LeadSource.CALL,
            status=LeadStatus.NEW,
            phones=[PhoneIn(value=number or e164)],
        ),
    )
    log.info("caller_form_lead_created", lead_id=lead.id, call_id=call.call_id, by=principal.login)
    return {"entity": "lead", "id": lead.id, "title": lead.title, "created": True}


async def _update_lead(
    session: AsyncSession, principal: Principal, leads: LeadsResource, lead_id: int, form: CallerForm
) -> JsonDict:
    current = await leads.get(session, principal, lead_id)
    changes: dict[str, Any] = {}
    if form.name:
        changes["name"] = form.name
    if form.company:
        changes["company_name"] = form.company
    if form.comment and form.comment not in current.comments:
        changes["comments"] = f"{current.comments}\n{form.comment}".strip()
    lead = await leads.update(session, principal, lead_id, LeadUpdate(**changes))
    log.info("caller_form_lead_updated", lead_id=lead_id, by=principal.login)
    return {"entity": "lead", "id": lead.id, "title": lead.title, "created": False}


def _known_caller() -> CallWorkRefused:
    return CallWorkRefused(
        "caller-known", i18n.gettext("The caller already has a card; edit it in the CRM instead")
    )


async def add_note(session: AsyncSession, principal: Principal, row: CallActivity, text: str) -> JsonDict:
    """Save *text* as a note on the logged call's cards (those the agent may read) and on the call."""
    wanted = [
        Binding(owner_type=kind, owner_id=card_id)
        for kind, card_id in (("contact", row.contact_id), ("company", row.company_id), ("lead", row.lead_id))
        if card_id is not None
    ]
    if not wanted:
        raise CallWorkRefused(
            "call-without-card",
            i18n.gettext("This call is on no CRM card (an internal call?), so the note has nowhere to go"),
        )
    readable = [b for b in wanted if await _readable(session, principal, b)]
    if not readable:
        raise Forbidden(Entity.ACTIVITY, Action.ADD)
    subject = text.strip().splitlines()[0][:200]
    note = await ActivitiesResource().create(
        session,
        principal,
        ActivityCreate(
            kind=ActivityKind.NOTE,
            subject=subject,
            description=text.strip(),
            start_at=utc_now(),
            completed=True,
            bindings=readable,
        ),
    )
    # The activity service has no call field (notes people make by hand belong to no call): the
    # row it just flushed into this session gets the call here, inside the same transaction.
    activity = await session.get(Activity, note.id)
    if activity is None:
        raise NotFound("activity", note.id)
    activity.call_pk = row.id
    await session.flush()
    log.info("call_note_saved", activity_id=note.id, call_pk=row.id, by=principal.login)
    return {"id": note.id, "bindings": [b.model_dump() for b in readable], "call_pk": row.id}


async def _readable(session: AsyncSession, principal: Principal, binding: Binding) -> bool:
    try:
        await require_card(session, principal, binding.owner_type, binding.owner_id)
    except (Forbidden, NotFound):
        return False
    return True


async def call_backs(session: AsyncSession, user_id: int) -> list[JsonDict]:
    """The user's open call-back tasks (made for missed calls), most urgent first, with the call."""
    rows = await session.execute(
        select(Task, CallActivity.external_number, CallActivity.started_at, CallActivity.disposition)
        .join(CallActivity, CallActivity.id == Task.call_pk)
        .where(Task.responsible_id == user_id, Task.done.is_(False))
        .order_by(Task.due_at, Task.id)
        .limit(MAX_CALL_BACKS)
    )
    items = []
    for task, number, started_at, disposition in rows:
        entity, card_id = next(
            ((kind, value) for kind, value in _task_cards(task) if value is not None), (None, None)
        )
        items.append(
            {
                "id": task.id,
                "title": task.title,
                "number": number,
                "called_at": started_at.isoformat(),
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "disposition": disposition,
                "card": {"entity": entity, "id": card_id, "url": f"/crm/{entity}/{card_id}"}
                if entity
                else None,
            }
        )
    return items


def _task_cards(task: Task) -> tuple[tuple[str, int | None], ...]:
    return (("contact", task.contact_id), ("company", task.company_id), ("lead", task.lead_id))


async def close_call_back(session: AsyncSession, user_id: int, task_id: int) -> None:
    """Mark the user's own task done; someone else's task is ``NotFound`` (its existence is not told)."""
    task = await session.get(Task, task_id)
    if task is None or task.responsible_id != user_id:
        raise NotFound("task", task_id)
    task.done = True
    await session.flush()
    log.info("call_back_done", task_id=task_id, user_id=user_id)
