"""The cards' actions: timeline, duplicates, merge, lead conversion, the exclusion list.

Each handler only parses, calls the service of :mod:`crm_core.cards` (which checks the rights) and
wraps lists as ``{"items": [...]}`` so every answer is an object a client can grow fields on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_core.cards.conversion import (
    ConversionOffer,
    ConversionResult,
    LeadConversion,
    conversion_offer,
    convert_lead,
)
from crm_core.cards.duplicates import (
    AXES,
    CardKind,
    Duplicate,
    DuplicateGroup,
    card_keys,
    duplicate_groups,
    find_duplicates,
)
from crm_core.cards.exclusions import Exclusion, add_exclusion, list_exclusions, remove_exclusion
from crm_core.cards.merge import MergeResult, merge
from crm_core.cards.timeline import MAX_PAGE, TimelineItem, timeline
from crm_core.errors import NotFound
from crm_core.models import ExclusionReason

from .actions import ActionCall, ActionRoute, card_id

__all__ = ["CARD_ACTIONS"]

CARDS: dict[str, CardKind] = {"leads": "lead", "contacts": "contact", "companies": "company"}
"API path -> CRM entity, for the actions every kind of card has."
TIMELINE_CARDS: dict[str, str] = {**CARDS, "deals": "deal"}
_ID = {"id": {"type": "integer"}}


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimelineQuery(_Query):
    offset: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=MAX_PAGE)


class TimelinePage(BaseModel):
    """One page of a card's history, newest first."""

    items: list[TimelineItem]
    offset: int
    limit: int


class Duplicates(BaseModel):
    """Cards that look like this one (phone, e-mail, person or company name), strongest first."""

    items: list[Duplicate]


class DuplicateGroupsQuery(_Query):
    axis: Literal["phone", "email", "name", "company"]
    limit: int = Field(100, ge=1, le=500)


class DuplicateGroups(BaseModel):
    """Groups of cards sharing one key, biggest first: candidates for one merge each."""

    items: list[DuplicateGroup]


class MergeRequest(BaseModel):
    """Keep one card, merge the others into it (they are deleted; everything on them moves)."""

    model_config = ConfigDict(extra="forbid")

    keep_id: int
    merge_ids: list[int] = Field(min_length=1, max_length=50)


class Exclusions(BaseModel):
    items: list[Exclusion]


class ExclusionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["phone", "email"]
    value: str = Field(min_length=1, max_length=200)
    "A number in any spelling, or an e-mail address."
    reason: str = Field(ExclusionReason.EXCLUDED.value, min_length=1, max_length=50)


async def _timeline(call: ActionCall, entity: str) -> TimelinePage:
    query: TimelineQuery = call.query
    items = await timeline(
        call.session,
        call.principal,
        entity,
        card_id(call, entity),
        offset=query.offset,
        limit=query.limit,
    )
    return TimelinePage(items=items, offset=query.offset, limit=query.limit)


async def _duplicates(call: ActionCall, entity: CardKind) -> Duplicates:
    id = card_id(call, entity)
    keys = await card_keys(call.session, call.principal, entity, id)
    found = await find_duplicates(
        call.session,
        call.principal,
        phones=keys.phones,
        emails=keys.emails,
        name=keys.name,
        company_name=keys.company_name,
        exclude=(entity, id),
        region=call.region,
    )
    return Duplicates(items=found)


async def _duplicate_groups(call: ActionCall) -> DuplicateGroups:
    path = call.path("cards")
    if path not in CARDS:
        raise NotFound("card kind", path)
    query: DuplicateGroupsQuery = call.query
    groups = await duplicate_groups(
        call.session,
        call.principal,
        CARDS[path],
        query.axis,
        limit=query.limit,
    )
    return DuplicateGroups(items=groups)


async def _merge(call: ActionCall, entity: CardKind) -> MergeResult:
    body: MergeRequest = call.body
    return await merge(call.session, call.principal, entity, body.keep_id, body.merge_ids)


async def _conversion_offer(call: ActionCall) -> ConversionOffer:
    return await conversion_offer(call.session, call.principal, card_id(call, "lead"), region=call.region)


async def _convert(call: ActionCall) -> ConversionResult:
    return await convert_lead(
        call.session,
        call.principal,
        card_id(call, "lead"),
        call.body,
        region=call.region,
        own_numbers=call.own_numbers,
    )


async def _exclusions(call: ActionCall) -> Exclusions:
    return Exclusions(items=await list_exclusions(call.session, call.principal))


async def _exclude(call: ActionCall) -> Exclusion:
    body: ExclusionCreate = call.body
    return await add_exclusion(
        call.session, call.principal, body.kind, body.value, reason=body.reason, region=call.region
    )


async def _unexclude(call: ActionCall) -> None:
    kind = call.path("kind")
    if kind not in ("phone", "email"):
        raise NotFound("exclusion kind", kind)
    value = call.path("value")
    if not await remove_exclusion(call.session, call.principal, kind, value, region=call.region):
        raise NotFound("exclusion", value)


def _per_card() -> list[ActionRoute]:
    routes: list[ActionRoute] = []
    for path, entity in TIMELINE_CARDS.items():

        async def timeline_of(call: ActionCall, entity: str = entity) -> TimelinePage:
            return await _timeline(call, entity)

        routes.append(
            ActionRoute(
                "GET",
                f"{path}/{{id}}/timeline",
                timeline_of,
                operation_id=f"timeline_{entity}",
                summary=(
                    f"The {entity}'s history, newest first: activities, calls (those the caller may "
                    "see) and call-back tasks"
                ),
                tag=path,
                response=TimelinePage,
                query=TimelineQuery,
                path_params=_ID,
            )
        )
    for path, entity in CARDS.items():

        async def duplicates_of(call: ActionCall, entity: CardKind = entity) -> Duplicates:
            return await _duplicates(call, entity)

        async def merge_into(call: ActionCall, entity: CardKind = entity) -> MergeResult:
            return await _merge(call, entity)

        routes += [
            ActionRoute(
                "GET",
                f"{path}/{{id}}/duplicates",
                duplicates_of,
                operation_id=f"duplicates_of_{entity}",
                summary=f"Contacts, companies and leads that look like this {entity}",
                tag=path,
                response=Duplicates,
                path_params=_ID,
            ),
            ActionRoute(
                "POST",
                f"{path}/merge",
                merge_into,
                operation_id=f"merge_{entity}",
                summary=(
                    f"Merge {path} into one: calls, recordings, activities, deals and links move to "
                    "the kept card; the others are deleted; an audit record keeps them"
                ),
                tag=path,
                response=MergeResult,
                body=MergeRequest,
                errors=(404, 422),
            ),
        ]
    return routes


CARD_ACTIONS: tuple[ActionRoute, ...] = (
    *_per_card(),
    ActionRoute(
        "GET",
        "duplicates/{cards}",
        _duplicate_groups,
        operation_id="duplicate_groups",
        summary=f"Groups of visible cards sharing a key on one axis ({', '.join(AXES)})",
        tag="duplicates",
        response=DuplicateGroups,
        query=DuplicateGroupsQuery,
        path_params={"cards": {"type": "string", "enum": list(CARDS)}},
    ),
    ActionRoute(
        "GET",
        "leads/{id}/conversion",
        _conversion_offer,
        operation_id="lead_conversion_offer",
        summary="The existing contacts and companies this lead looks like: link one instead of a new card",
        tag="leads",
        response=ConversionOffer,
        path_params=_ID,
    ),
    ActionRoute(
        "POST",
        "leads/{id}/convert",
        _convert,
        operation_id="convert_lead",
        summary=(
            "Convert the lead to a contact, company and/or deal (409 duplicates-found lists the "
            "duplicates unless create_despite_duplicates)"
        ),
        tag="leads",
        response=ConversionResult,
        body=LeadConversion,
        errors=(404, 409, 422),
        path_params=_ID,
    ),
    ActionRoute(
        "GET",
        "exclusions",
        _exclusions,
        operation_id="list_exclusions",
        summary="Numbers and e-mails the CRM never creates or matches anything for",
        tag="exclusions",
        response=Exclusions,
        errors=(),
    ),
    ActionRoute(
        "POST",
        "exclusions",
        _exclude,
        operation_id="add_exclusion",
        summary="Exclude a number (any spelling, stored as E.164) or an e-mail; adding it twice is harmless",
        tag="exclusions",
        response=Exclusion,
        status=201,
        body=ExclusionCreate,
        errors=(422,),
    ),
    ActionRoute(
        "DELETE",
        "exclusions/{kind}/{value}",
        _unexclude,
        operation_id="remove_exclusion",
        summary="Take a number or e-mail off the exclusion list",
        tag="exclusions",
        response=None,
        status=204,
        path_params={"kind": {"type": "string", "enum": ["phone", "email"]}, "value": {"type": "string"}},
    ),
)
"The cards' actions, in the order they are mounted."
