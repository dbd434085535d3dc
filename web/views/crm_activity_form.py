"""The activity form under a card's timeline, and what the timeline shows of each activity.

Meetings, calls and tasks (a note keeps its quick form) are added on every card page and on the
deal page. :func:`read_form` turns the posted form into an :class:`ActivityCreate` bound to the page's
card, to the linked cards ticked under "Also on" and to the cards the page's script found by name
(``bind=contact:5``). People type times on the office's clock (:func:`web.timefmt.office_zone`);
the service gets aware UTC instants. :func:`activity_context` gives the pages the form (only to
whoever may add activities), the other cards each activity is on, and which open tasks and
meetings the user may mark done. The handlers live in :mod:`.crm_activities`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.cards.schemas import ActivityCreate
from crm_core.cards.timeline import TimelineItem
from crm_core.models import ActivityBinding, ActivityKind, Company, Contact, Deal, Lead
from crm_core.rights import Action, Entity, Principal
from crm_core.users import list_users

from ..i18n import N_, gettext
from .crm_forms import problems_of

__all__ = [
    "FORM_KINDS",
    "CardLink",
    "CardRef",
    "activity_context",
    "card_links",
    "card_url",
    "labelled",
    "read_form",
]

CardRef = tuple[str, int]
"A card as ``(kind, id)``: lead, contact, company or deal."

FORM_KINDS: tuple[ActivityKind, ...] = (ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.TASK)
"What the form makes; notes come from the quick note form."
OPEN_KINDS = frozenset({ActivityKind.MEETING, ActivityKind.TASK})
"Kinds that get a Done button while open."
LINKED_SHOWN = 12
"Linked cards (companies, contacts, deals) offered as ticks under “Also on”."
MAX_BINDINGS = 20
"As many cards as the service takes (the page's card included)."

LABELS: Mapping[str, str] = {
    "kind": N_("Kind"),
    "subject": N_("Subject"),
    "description": N_("Details"),
    "start_at": N_("When"),
    "end_at": N_("Ends or is due"),
    "direction": N_("Direction"),
    "responsible_id": N_("Responsible"),
    "bindings": N_("Also on"),
}
"Each field's label: every problem the form shows starts with it."

_TEXT_FIELDS = ("kind", "subject", "start_date", "start_time", "end_date", "end_time", "direction")
_TITLES: Mapping[str, tuple[Any, Any]] = {
    "lead": (Lead, Lead.title),
    "contact": (Contact, Contact.name),
    "company": (Company, Company.title),
    "deal": (Deal, Deal.title),
}


@dataclass(frozen=True, slots=True)
class CardLink:
    """Another card an activity is on; ``title`` is None when the user may not read that card."""

    kind: str
    id: int
    title: str | None

    @property
    def url(self) -> str:
        return card_url(self.kind, self.id)

    @property
    def value(self) -> str:
        "The form's ``bind`` value."
        return f"{self.kind}:{self.id}"


def card_url(kind: str, id: int) -> str:
    """The page of a card (deals have their own pages under /crm/deals)."""
    return f"/crm/deals/{id}" if kind == "deal" else f"/crm/{kind}/{id}"


def labelled(field: str, problem: str) -> str:
    """*problem* said after the field's label, in the user's language: "When: fill this in"."""
    label = LABELS.get(field)
    problem = problem[:1].lower() + problem[1:]
    return gettext("%(field)s: %(problem)s", field=gettext(label) if label else field, problem=problem)


async def card_links(
    session: AsyncSession, principal: Principal, refs: Iterable[CardRef]
) -> dict[CardRef, CardLink]:
    """The cards *refs* that still exist, titled where the user may read them (one query per kind)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for kind, id in refs:
        if kind in _TITLES:
            wanted[kind].add(id)
    found: dict[CardRef, CardLink] = {}
    for kind, ids in wanted.items():
        model, column = _TITLES[kind]
        rows = await session.execute(select(model.id, column, model.responsible_id).where(model.id.in_(ids)))
        for id, title, owner in rows:
            readable = principal.can(Entity(kind), Action.READ, owner)
            found[(kind, id)] = CardLink(kind, id, title if readable else None)
    return found


def _ref(value: str) -> CardRef | None:
    kind, _, id_text = value.partition(":")
    return (kind, int(id_text)) if kind in _TITLES and id_text.isdigit() else None


def _day(typed: str) -> date:
    """A day as the date input sends it (``2025-06-01``) or as people write it (``01.06.2025``)."""
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(typed, pattern).date()
        except ValueError:
            continue
    raise ValueError(typed)


def _clock(typed: str) -> time:
    for pattern in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(typed, pattern).time()
        except ValueError:
            continue
    raise ValueError(typed)


def _instant(day: str, clock: str, zone: ZoneInfo, *, no_time: time) -> datetime:
    """The office's *day* at *clock* (*no_time* when empty) as an aware UTC instant."""
    try:
        when = _day(day)
    except ValueError:
        raise ValueError(gettext("Write the date as YYYY-MM-DD, e.g. 2025-06-01")) from None
    try:
        at = _clock(clock) if clock else no_time
    except ValueError:
        raise ValueError(gettext("Write the time as HH:MM, e.g. 09:30")) from None
    return datetime.combine(when, at, zone).astimezone(UTC)


def blank_values(principal: Principal, zone: ZoneInfo) -> dict[str, Any]:
    """The empty form: a meeting today at the next full hour, for the user."""
    start = (datetime.now(zone) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return {
        "kind": ActivityKind.MEETING.value,
        "subject": "",
        "description": "",
        "start_date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_date": "",
        "end_time": "",
        "direction": "",
        "responsible_id": principal.user_id,
        "bind": [],
    }


def read_form(
    form: Mapping[str, Any], binds: Sequence[str], owner: CardRef, zone: ZoneInfo, now: datetime
) -> tuple[dict[str, Any], ActivityCreate | None, dict[str, str]]:
    """What was typed (to show again), the service's input (None when refused) and the problems.

    *binds* are the form's ``bind`` values (``contact:5``): the other cards it goes on. An end
    without a day is on the start's day; an end day without a time is the end of that day (a task
    due on the 5th may be done all that day). A call in the past is logged as done.
    """
    typed: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = form.get(name, "")
        typed[name] = value.strip()[:200] if isinstance(value, str) else ""
    description = form.get("description", "")
    typed["description"] = description.strip() if isinstance(description, str) else ""
    responsible = form.get("responsible_id", "")
    typed["responsible_id"] = (
        int(responsible) if isinstance(responsible, str) and responsible.isdigit() else None
    )
    typed["bind"] = list(dict.fromkeys(b for b in binds if isinstance(b, str)))
    problems: dict[str, str] = {}

    refs = [owner]
    for value in typed["bind"]:
        ref = _ref(value)
        if ref is None:
            problems["bindings"] = labelled("bindings", gettext("Choose the cards from the list"))
        elif ref not in refs:
            refs.append(ref)
    if len(refs) > MAX_BINDINGS:
        problems["bindings"] = labelled(
            "bindings", gettext("At most %(count)s cards", count=MAX_BINDINGS - 1)
        )
    if typed["kind"] not in FORM_KINDS:
        problems["kind"] = labelled("kind", gettext("Choose one from the list"))

    start: datetime | None = None
    end: datetime | None = None
    if not typed["start_date"]:
        problems["start_at"] = labelled("start_at", gettext("Fill this in"))
    else:
        try:
            start = _instant(typed["start_date"], typed["start_time"], zone, no_time=time())
        except ValueError as exc:
            problems["start_at"] = labelled("start_at", str(exc))
    if typed["end_date"] or typed["end_time"]:
        end_day = typed["end_date"] or typed["start_date"]
        try:
            end = _instant(end_day, typed["end_time"], zone, no_time=time(23, 59))
        except ValueError as exc:
            problems["end_at"] = labelled("end_at", str(exc))
    if start is not None and end is not None and end < start:
        problems["end_at"] = labelled("end_at", gettext("It ends before it starts"))

    is_call = typed["kind"] == ActivityKind.CALL
    data = {
        "kind": typed["kind"],
        "subject": typed["subject"],
        "description": typed["description"],
        "direction": (typed["direction"] or None) if is_call else None,
        "start_at": start or now,
        "end_at": end,
        "completed": is_call and start is not None and start <= now,
        "responsible_id": typed["responsible_id"],
        "bindings": [{"owner_type": kind, "owner_id": id} for kind, id in refs],
    }
    try:
        parsed = ActivityCreate.model_validate(data)
    except ValidationError as exc:
        for field, problem in problems_of(exc).items():
            problems.setdefault(field, labelled(field, problem))
        return typed, None, problems
    return typed, (None if problems else parsed), problems


async def _bound(
    session: AsyncSession, principal: Principal, activity_ids: Sequence[int], owner: CardRef
) -> dict[int, list[CardLink]]:
    """For each activity, the cards it is on besides *owner*."""
    if not activity_ids:
        return {}
    rows = list(
        await session.execute(
            select(ActivityBinding.activity_id, ActivityBinding.owner_type, ActivityBinding.owner_id)
            .where(ActivityBinding.activity_id.in_(activity_ids))
            .order_by(ActivityBinding.owner_type, ActivityBinding.owner_id)
        )
    )
    others = [(a, (kind, id)) for a, kind, id in rows if (kind, id) != owner]
    links = await card_links(session, principal, (ref for _a, ref in others))
    bound: dict[int, list[CardLink]] = defaultdict(list)
    for activity_id, ref in others:
        if ref in links:
            bound[activity_id].append(links[ref])
    return dict(bound)


async def activity_context(
    session: AsyncSession,
    principal: Principal,
    zone: ZoneInfo,
    owner: CardRef,
    items: Sequence[TimelineItem],
    linked: Iterable[CardLink],
    *,
    typed: Mapping[str, Any] | None = None,
    problems: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What ``crm/_timeline.html`` needs for activities on the page of *owner*.

    *linked* are the cards the page shows as linked (a contact's companies, a deal's contacts...):
    the form offers them as ticks. *typed* and *problems* come from a refused form.
    """
    activity_ids = [item.id for item in items if item.source == "activity"]
    can_done = {
        item.id
        for item in items
        if item.source == "activity"
        and item.kind in OPEN_KINDS
        and not item.completed
        and principal.can(Entity.ACTIVITY, Action.UPDATE, item.responsible_id)
    }
    context: dict[str, Any] = {
        "can_activity": principal.can(Entity.ACTIVITY, Action.ADD, principal.user_id),
        "activity_url": f"{card_url(*owner)}/activities",
        "activity_owner": f"{owner[0]}:{owner[1]}",
        "bound": await _bound(session, principal, activity_ids, owner),
        "can_done": can_done,
    }
    if not context["can_activity"]:
        return context
    values = dict(typed) if typed is not None else blank_values(principal, zone)
    offered = [link for link in linked if link.title is not None and (link.kind, link.id) != owner]
    offered = offered[:LINKED_SHOWN]
    shown = {(link.kind, link.id) for link in offered} | {owner}
    picked = [ref for ref in map(_ref, values["bind"]) if ref is not None and ref not in shown]
    found = await card_links(session, principal, picked)
    users = [
        (user.id, user.name)
        for user in await list_users(session, include_disabled=False)
        if principal.can(Entity.ACTIVITY, Action.ADD, user.id) or user.id == values.get("responsible_id")
    ]
    context.update(
        activity_values=values,
        activity_problems=dict(problems or {}),
        activity_kinds=[kind.value for kind in FORM_KINDS],
        activity_users=users,
        activity_linked=offered,
        activity_picked=[found[ref] for ref in picked if ref in found],
    )
    return context
