"""The REST routes, built once for every CRM resource: list, create, get, update (PATCH), delete.

``/api/v1/<path>`` lists (``GET``: filters, ``sort``, ``offset``, ``limit`` from the query string)
and creates (``POST``); ``/api/v1/<path>/<id>`` reads (``GET``), changes the fields sent
(``PATCH``) and deletes (``DELETE``). Each request is one transaction: it commits only when the
service succeeded, so a refused or failed write changes nothing. The services check rights; this
module only identifies the caller, parses and serialises.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.crud import ListQuery, Page, Resource
from crm_core.errors import CrmError, NotFound
from crm_core.query import parse_value
from crm_core.rights import Principal

from .. import keys
from .auth import request_principal
from .errors import ApiError, error_response, status_of, validation_error
from .openapi import openapi_document

__all__ = ["API_PREFIX", "ApiRouter", "Endpoints", "list_query"]

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
_PAGING = ("offset", "limit")
_MAX_BODY = 1 << 20
"A JSON body larger than this (1 MiB) is refused before it is parsed."

Operation = Callable[[web.Request, AsyncSession, Principal], Awaitable[web.StreamResponse]]


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


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise ApiError(413, "body-too-large", f"The body may have at most {_MAX_BODY} bytes")
    try:
        data = json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad-json", "The body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad-json", "The body must be a JSON object")
    return data


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
        return await _dispatch(request, self.on_collection)

    async def item(self, request: web.Request) -> web.StreamResponse:
        return await _dispatch(request, self.on_item)

    async def list(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        page = await self.resource.list(session, principal, list_query(request.query))
        return _page(page)

    async def create(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        data = _validate(self.resource.schema_create, await _body(request))
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
        changes = _validate(self.resource.schema_update, await _body(request))
        return _json(await self.resource.update(session, principal, id, changes))

    async def delete(self, request: web.Request, session: AsyncSession, principal: Principal) -> web.Response:
        await self.resource.delete(session, principal, self._id(request))
        return web.Response(status=204)

    def _id(self, request: web.Request) -> int:
        text = request.match_info["id"]
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise NotFound(self.resource.path, text)
        return int(text)


async def _dispatch(request: web.Request, operations: Mapping[str, Operation]) -> web.StreamResponse:
    """Run the operation for the request's method as the identified caller, in one transaction.

    The transaction commits only if the operation succeeded; every expected failure becomes the
    API's JSON error (anything else reaches the app's error middleware: a logged 500).
    """
    operation = operations.get(request.method)
    if operation is None:
        return _not_allowed(request, tuple(operations))
    try:
        async with request.app[keys.DB]() as session:
            principal = await request_principal(request, session)
            response = await operation(request, session, principal)
            await session.commit()
        return response
    except ApiError as exc:
        log.info("api_refused", error_id=exc.error_id, status=exc.status)
        return error_response(exc.status, exc.error_id, str(exc), exc.details)
    except CrmError as exc:
        status = status_of(exc)
        log.info("api_refused", error_id=exc.error_id, status=status)
        return error_response(status, exc.error_id, str(exc), _jsonable(exc.details()))


def _validate(schema: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _not_allowed(request: web.Request, allowed: Sequence[str]) -> web.Response:
    response = error_response(
        405,
        "method-not-allowed",
        f"{request.method} is not allowed here; use {', '.join(allowed)}",
        {"allowed": list(allowed)},
    )
    response.headers["Allow"] = ", ".join(allowed)
    return response


def _jsonable(details: dict[str, object]) -> dict[str, Any]:
    """Details as JSON can carry them (a Decimal or date becomes its text)."""
    return json.loads(json.dumps(details, default=str))
