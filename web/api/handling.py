"""How every API request is handled, whether a generic CRUD route or an action.

:func:`dispatch` identifies the caller, runs the operation in one transaction (committed only on
success) and turns every expected failure into the API's JSON error; :func:`read_body` and
:func:`validate` parse a JSON body into a pydantic model, refusing a bad one with a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.errors import CrmError
from crm_core.rights import Principal

from .. import keys
from .auth import request_principal
from .errors import ApiError, error_response, status_of, validation_error

__all__ = ["MAX_BODY", "Operation", "dispatch", "read_body", "validate"]

log = structlog.get_logger(__name__)

MAX_BODY = 1 << 20
"A JSON body larger than this (1 MiB) is refused before it is parsed."

Operation = Callable[[web.Request, AsyncSession, Principal], Awaitable[web.StreamResponse]]
"One method on one path, run as the identified caller inside the request's transaction."


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 413 when too large, 400 when not JSON or not an object."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "body-too-large", f"The body may have at most {MAX_BODY} bytes")
    try:
        data = json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad-json", "The body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad-json", "The body must be a JSON object")
    return data


def validate(schema: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """*data* as *schema*; a bad value is a 422 naming the field."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def dispatch(request: web.Request, operations: Mapping[str, Operation]) -> web.StreamResponse:
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
