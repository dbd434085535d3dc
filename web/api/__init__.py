"""The JSON REST API at ``/api/v1``: every CRM resource, one set of rules, an OpenAPI document.

The resources come from the CRM packages (``crm_core.cards``, ``crm_core.sales``, ``crm_core.org``);
adding one there adds its routes and its part of ``/api/v1/openapi.json`` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

import crm_core.cards
import crm_core.org
import crm_core.sales
from crm_core.crud import Resource

from .actions import ActionRoute, mount_actions
from .actions_cards import CARD_ACTIONS
from .actions_sales import SALES_ACTIONS
from .openapi import add_actions
from .router import API_PREFIX, ApiRouter

__all__ = ["ACTIONS", "API_PREFIX", "ApiRouter", "all_resources", "setup_api"]

ACTIONS: tuple[ActionRoute, ...] = (*CARD_ACTIONS, *SALES_ACTIONS)
"The CRM's behaviours beyond CRUD (timeline, merge, conversion, funnel...): see web/api/actions.py."


def all_resources(region: str = "RU", own_numbers: Sequence[str] = ()) -> tuple[Resource[Any], ...]:
    """Every resource the CRM packages offer; cards read phone numbers with *region* and refuse
    *own_numbers* (``crm.own_numbers``)."""
    return (
        *crm_core.cards.make_resources(region, own_numbers),
        *crm_core.sales.RESOURCES,
        *crm_core.org.RESOURCES,
    )


def setup_api(
    app: web.Application,
    resources: Iterable[Resource[Any]] | None = None,
    *,
    region: str = "RU",
    own_numbers: Sequence[str] = (),
) -> ApiRouter:
    """Add the API's routes to *app* (after the others: its catch-all answers unknown API paths).

    *resources* defaults to :func:`all_resources` with *region* (``crm.default_region``) and
    *own_numbers* (``crm.own_numbers``).
    """
    router = ApiRouter(all_resources(region, own_numbers) if resources is None else resources)
    router.document = add_actions(router.document, ACTIONS, prefix=API_PREFIX)
    mount_actions(app, ACTIONS)  # first: the generic leads/{id} would answer leads/merge
    router.setup(app)
    return router
