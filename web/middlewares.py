"""Request-wide concerns: log context per request, domain errors -> JSON, security headers."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from uuid import uuid4

import structlog
from aiohttp import web

from crm_core.errors import Conflict, CrmError, NotFound
from crm_core.rights import Forbidden
from cti.errors import CtiError, NoSuchCall, PbxActionFailed, PbxUnavailable

from . import i18n

__all__ = [
    "error_middleware",
    "error_status",
    "request_context_middleware",
    "set_security_headers",
]

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# First match wins (subclasses such as UserExists(Conflict) inherit their parent's status); else 400.
_STATUS: dict[type[Exception], int] = {
    NoSuchCall: 404,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PbxActionFailed: 409,  # the PBX answered and refused (busy, no such extension): not our outage
    PbxUnavailable: 503,
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_QUIET_PATHS = frozenset({"/healthz", "/metrics"})

# Pages use no inline script or style; connect-src 'self' covers the same-origin WebSocket.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


def error_status(exc: CtiError | CrmError) -> int:
    """HTTP status for a domain error (Invalid and the other caller mistakes are 400)."""
    return next((status for error_type, status in _STATUS.items() if isinstance(exc, error_type)), 400)


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id (the client's X-Request-ID when sane) to every log line of the request."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.match(given) else uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=request_id, method=request.method, path=request.path, remote=request.remote
    )
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-ID"] = request_id
        raise
    finally:
        level = log.debug if request.path in _QUIET_PATHS else log.info
        level("request_handled", status=status, ms=round((time.perf_counter() - started) * 1000, 1))
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn cti and CRM errors into ``{message, error_id, details}`` with a fitting status."""
    try:
        return await handler(request)
    except (CtiError, CrmError) as exc:
        status = error_status(exc)
        log.info("request_failed", error_id=exc.error_id, status=status)
        body = {"message": i18n.error_message(exc), "error_id": exc.error_id, "details": exc.details()}
        return web.json_response(body, status=status)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("request_crashed")
        return web.json_response(
            {"message": i18n.gettext("Internal server error"), "error_id": "internal-error", "details": {}},
            status=500,
        )


async def set_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the same protective headers on every response, sockets included."""
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
