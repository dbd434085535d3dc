"""The CRM card pages' shared parts: the three card kinds, the caller's principal, errors as pages.

The pages are split by role: :mod:`.crm_lists` (search, filters, paging), :mod:`.crm_card` (one
card with its timeline and the add-note form), :mod:`.crm_forms` (create, edit, delete) and
:mod:`.crm_merge` (lead conversion, duplicates and merge). Every one of them goes through the
``crm_core`` services with the user's :class:`~crm_core.rights.Principal`, so the rights are the
services' and a page never shows what the REST API would refuse. :func:`add_routes` registers them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.cards import CompaniesResource, ContactsResource, LeadsResource
from crm_core.cards.base import CardService
from crm_core.errors import NotFound
from crm_core.models import LeadSourceItem, LeadStatusItem
from crm_core.rights import Action, Forbidden, Level, Principal
from crm_core.users import list_users

from .. import keys
from ..auth import request_user
from ..i18n import N_, error_message, gettext

__all__ = [
    "KINDS",
    "CardKind",
    "add_routes",
    "card_id",
    "card_session",
    "kind_of",
    "lead_dictionaries",
    "may",
    "service",
    "user_names",
]


@dataclass(frozen=True, slots=True)
class CardKind:
    """One kind of card as the pages show it."""

    name: str
    "``lead``, ``contact`` or ``company``: the URL segment and the services' entity name."
    plural: str
    "The list's URL segment (``/crm/leads``)."
    title_field: str
    "The field that names a card (``title`` or ``name``)."
    label: str
    label_plural: str
    service: type[CardService[Any, Any]]


KINDS: dict[str, CardKind] = {
    "lead": CardKind("lead", "leads", "title", N_("Lead"), N_("Leads"), LeadsResource),
    "contact": CardKind("contact", "contacts", "name", N_("Contact"), N_("Contacts"), ContactsResource),
    "company": CardKind("company", "companies", "title", N_("Company"), N_("Companies"), CompaniesResource),
}


def kind_of(request: web.Request) -> CardKind:
    """The card kind named in the URL (the route's pattern admits only the three)."""
    return KINDS[request.match_info["kind"]]


def service(request: web.Request, kind: CardKind) -> CardService[Any, Any]:
    """The kind's service, reading numbers written without a country code in ``crm.default_region``."""
    crm = request.app[keys.SETTINGS].crm
    return kind.service(crm.default_region, crm.own_numbers)


def card_id(request: web.Request) -> int:
    return int(request.match_info["card_id"])


@asynccontextmanager
async def card_session(request: web.Request) -> AsyncIterator[tuple[AsyncSession, Principal]]:
    """A database session and the user's principal; rights refusals and missing cards become pages.

    The services never commit: a handler that changes something commits once, on success.
    """
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, request_user(request).id)
        try:
            yield session, principal
        except Forbidden as exc:
            await session.rollback()
            raise web.HTTPForbidden(text=error_message(exc)) from None
        except NotFound:
            await session.rollback()
            raise web.HTTPNotFound(text=gettext("This card does not exist (deleted or merged?)")) from None


def may(principal: Principal, kind: CardKind, action: Action) -> bool:
    """Whether the user may *action* some card of *kind* (the service decides for each card)."""
    return principal.level(kind.service.entity, action) is not Level.NONE


async def lead_dictionaries(session: AsyncSession) -> tuple[dict[str, str], dict[str, str]]:
    """The lead statuses and sources, code -> name, in the dictionaries' order."""
    statuses = await session.execute(
        select(LeadStatusItem.code, LeadStatusItem.name).order_by(LeadStatusItem.sort, LeadStatusItem.id)
    )
    sources = await session.execute(
        select(LeadSourceItem.code, LeadSourceItem.name).order_by(LeadSourceItem.sort, LeadSourceItem.id)
    )
    return {code: name for code, name in statuses}, {code: name for code, name in sources}


async def user_names(session: AsyncSession) -> dict[int, str]:
    """Every user's display name by id (a handful of rows), to show responsibles."""
    return {user.id: user.name for user in await list_users(session)}


def add_routes(app: web.Application) -> None:
    """Register the CRM card pages (lists, cards, forms, conversion, duplicates and merge)."""
    from . import crm_card, crm_forms, crm_lists, crm_merge  # here: each of them imports this module

    kind = "{kind:lead|contact|company}"
    plural = "{plural:leads|contacts|companies}"
    router = app.router
    router.add_get(f"/crm/{plural}", crm_lists.list_page, name="crm_list")
    router.add_get(f"/crm/{kind}/new", crm_forms.new_form, name="crm_new")
    router.add_post(f"/crm/{kind}/new", crm_forms.create, name="crm_create")
    router.add_get(f"/crm/{kind}/{{card_id:\\d+}}", crm_card.card_page, name="crm_card")
    router.add_get(f"/crm/{kind}/{{card_id:\\d+}}/edit", crm_forms.edit_form, name="crm_edit")
    router.add_post(f"/crm/{kind}/{{card_id:\\d+}}/edit", crm_forms.update, name="crm_update")
    router.add_post(f"/crm/{kind}/{{card_id:\\d+}}/delete", crm_forms.delete, name="crm_delete")
    router.add_post(f"/crm/{kind}/{{card_id:\\d+}}/notes", crm_card.add_note, name="crm_note")
    router.add_get(r"/crm/lead/{card_id:\d+}/convert", crm_merge.convert_page, name="crm_convert")
    router.add_post(r"/crm/lead/{card_id:\d+}/convert", crm_merge.convert, name="crm_convert_run")
    router.add_get(f"/crm/{plural}/duplicates", crm_merge.duplicates_page, name="crm_duplicates")
    router.add_post(f"/crm/{plural}/merge", crm_merge.merge_cards, name="crm_merge")
