"""The REST routes, built once for every CRM resource: list, create, get, update (PATCH), delete.

``/api/v1/<path>`` lists (``GET``: filters, ``sort``, ``offset``, ``limit`` from the query string)
and creates (``POST``); ``/api/v1/<path>/<id>`` reads (``GET``), changes the fields sent
(``PATCH``) and deletes (``DELETE``). Each request is one transaction: it commits only when the
service succeeded, so a refused or failed write changes nothing (:mod:`.handling`, shared with the
actions). The services check rights; this module only identifies the caller, parses and serialises.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.crud import ListQuery, Page, Resource
from crm_core.errors import NotFound
from crm_core.query import parse_value
from crm_core.rights import Principal

from .errors import ApiError, error_response
from .handling import Operation, dispatch, read_body, validate
from .openapi import openapi_document

__all__ = ["API_PREFIX", "ApiRouter", "Endpoints", "list_query"]

API_PREFIX = "/api/v1"
_PAGING = ("offset", "limit")


def list_query(query: Any) -> ListQuery:
    """Turn the query string into a :class:`ListQuery` (``sort`` comma-separated, may repeat)."""
    filters: dict[str, str] = {}
    sort: list[str] = []
    paging: dict[str, int] = {}
    for key, value in query.items():
        if key == "sort":
            sort.extend(part.strip() for part in value.split(",") if part.strip())
        elif key in _PAGING:
            paging[key] = parse_value(key, int, value)
        elif key in filters:
            raise ApiError(422, "invalid-query", f"{key}: give each filter once", field=key)
        else:
            filters[key] = value
    return ListQuery(filters=filters, sort=tuple(sort), **paging)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json", charset="utf-8"
    )


def _page(page: Page[Any]) -> web.Response:
    return web.json_response(
        {
            "items": [item.model_dump(mode="json") for item in page.items],
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
        }
    )


class ApiRouter:
    """The routes of a set of resources; :meth:`setup` adds them to the application."""

    def __init__(self, resources: Iterable[Resource[Any]]) -> None:
        self.resources: dict[str, Resource[Any]] = {}
        for resource in resources:
            if resource.path in self.resources:
                raise ValueError(f"two API resources share the path {resource.path!r}")
            self.resources[resource.path] = resource
        self.document = openapi_document(list(self.resources.values()), prefix=API_PREFIX)

    def setup(self, app: web.Application) -> None:
        router = app.router
        router.add_get(f"{API_PREFIX}/openapi.json", self.openapi, name="api_openapi")
        router.add_get(API_PREFIX, self.index, name="api_index")
        for path, resource in self.resources.items():
            endpoints = Endpoints(resource)
            router.add_route("*", f"{API_PREFIX}/{path}", endpoints.collection)
            router.add_route("*", f"{API_PREFIX}/{path}/{{id}}", endpoints.item)
        router.add_route("*", f"{API_PREFIX}/{{tail:.*}}", self.unknown)

    async def openapi(self, request: web.Request) -> web.Response:
        """The OpenAPI 3.1 document: public, like any API's reference, and holding no data."""
        return web.json_response(self.document)

    async def index(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"openapi": f"{API_PREFIX}/openapi.json", "resources": sorted(self.resources)}
        )

    async def unknown(self, request: web.Request) -> web.Response:
        return error_response(
            404,
            "no-such-endpoint",
            f"No API endpoint {request.path}; see {API_PREFIX}/openapi.json",
            {"path": request.path},
        )


class Endpoints:
    """The five operations of one resource; each runs once the caller is known, in one transaction."""

    def __init__(self, resource: Resource[Any]) -> None:
        self.resource = resource
        self.on_collection: dict[str, Operation] = {"GET": self.list, "POST": self.create}
        self.on_item: dict[str, Operation] = {"GET": self.get, "PATCH": self.update, "DELETE": self.delete}

    async def collection(self, request: web.Request) -> web.StreamResponse:
        return await dispatch(request, self.on_collection)

    async def item(self, request: web.Request) -> web.StreamResponse:
        return await dispatch(request, self.on_item)

    async def list(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        page = await self.resource.list(session, principal, list_query(request.query))
        return _page(page)

    async def create(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        data = validate(self.resource.schema_create, await read_body(request))
        created = await self.resource.create(session, principal, data)
        response = _json(created, status=201)
        created_id = getattr(created, "id", None)
        if created_id is not None:
            response.headers["Location"] = f"{API_PREFIX}/{self.resource.path}/{created_id}"
        return response

    async def get(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        return _json(await self.resource.get(session, principal, self._id(request)))

    async def update(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        id = self._id(request)
        changes = validate(self.resource.schema_update, await read_body(request))
        return _json(await self.resource.update(session, principal, id, changes))

    async def delete(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        await self.resource.delete(session, principal, self._id(request))
        return web.Response(status=204)

    def _id(self, request: web.Request) -> int:
        text = request.match_info["id"]
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise NotFound(self.resource.path, text)
        return int(text)
