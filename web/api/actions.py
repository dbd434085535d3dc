"""The API's actions: the CRM's behaviours beyond plain CRUD (timeline, merge, conversion, funnel...).

An action is one method on one path, declared as an :class:`ActionRoute`: its query-string model,
its body model and its response model are pydantic classes, so the same declaration parses the
request (a bad value is a 422 naming the field), serialises the answer and writes the action's part
of the OpenAPI document (:func:`web.api.openapi.add_actions`). Actions run like the generic
routes: the caller is identified the same way (bearer token, or session with the CSRF header on
writes), the request is one transaction committed only on success, and every refusal is the same
JSON error.

The actions themselves live by area: :mod:`.actions_cards` and :mod:`.actions_sales`.
"""

from __future__ import annotations

import types
import typing
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.errors import NotFound
from crm_core.rights import Principal

from .. import keys
from .errors import ApiError
from .handling import dispatch, read_body, validate
from .router import API_PREFIX

__all__ = ["ActionCall", "ActionRoute", "card_id", "mount_actions"]

Handler = Callable[["ActionCall"], Awaitable[BaseModel | None]]


@dataclass(frozen=True, slots=True)
class ActionCall:
    """What an action's handler gets: the request, its transaction, the caller, the parsed inputs."""

    request: web.Request
    session: AsyncSession
    principal: Principal
    query: Any
    "An instance of the route's query model (None when it has none)."
    body: Any
    "An instance of the route's body model (None when it has none)."

    @property
    def region(self) -> str:
        """The region phone numbers are read in (``crm.default_region``)."""
        return self.request.app[keys.SETTINGS].crm.default_region

    @property
    def own_numbers(self) -> tuple[str, ...]:
        """The company's own numbers (``crm.own_numbers``): never put on a card."""
        return tuple(self.request.app[keys.SETTINGS].crm.own_numbers)

    def path(self, name: str) -> str:
        return self.request.match_info[name]


def card_id(call: ActionCall, entity: str, name: str = "id") -> int:
    """The numeric id in the path; anything else is the 404 an unknown id would be."""
    text = call.path(name)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(entity, text)
    return int(text)


@dataclass(frozen=True)
class ActionRoute:
    """One method on one path under ``/api/v1``, and everything the document says about it."""

    method: str
    path: str
    "Relative to the API prefix, with aiohttp placeholders: ``leads/{id}/timeline``."
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    "The answer's model; None for an empty answer (204)."
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = (404, 422)
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    "JSON Schema of each path placeholder."

    async def run(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        query = _parse_query(self.query, request.query) if self.query is not None else None
        body = validate(self.body, await read_body(request)) if self.body is not None else None
        result = await self.handler(ActionCall(request, session, principal, query, body))
        if result is None:
            return web.Response(status=self.status)
        return web.Response(
            text=result.model_dump_json(),
            status=self.status,
            content_type="application/json",
            charset="utf-8",
        )


def mount_actions(app: web.Application, routes: Iterable[ActionRoute]) -> None:
    """Add the actions' paths to *app*; call before the generic routes (``leads/{id}`` would match
    ``leads/merge``) and their catch-all."""
    by_path: dict[str, dict[str, ActionRoute]] = defaultdict(dict)
    for route in routes:
        if route.method in by_path[route.path]:
            raise ValueError(f"two API actions for {route.method} {route.path}")
        by_path[route.path][route.method] = route
    for path, methods in by_path.items():
        operations = {method: route.run for method, route in methods.items()}

        async def endpoint(
            request: web.Request, operations: Mapping[str, Any] = operations
        ) -> web.StreamResponse:
            return await dispatch(request, operations)

        app.router.add_route("*", f"{API_PREFIX}/{path}", endpoint)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


def _parse_query(model: type[BaseModel], query: MultiMapping[str]) -> BaseModel:
    """The query string as *model*: a list field takes repeated or comma-separated values."""
    data: dict[str, Any] = {}
    for key in dict.fromkeys(query):
        values = query.getall(key)
        info = model.model_fields.get(key)
        if info is not None and _is_list(info.annotation):
            data[key] = [part.strip() for value in values for part in value.split(",") if part.strip()]
        elif len(values) > 1:
            raise ApiError(422, "invalid-query", f"{key}: give it once", field=key)
        else:
            data[key] = values[0]
    return validate(model, data)
