"""The API's errors: every failure is ``{"error_id", "message", "details"}`` with a fitting status.

``error_id`` is stable (clients branch on it); ``message`` is for people; ``details`` holds the
machine-readable facts (the field and value refused, the validation errors...). The CRM's own
errors carry all three; this module only chooses the status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from crm_core.access import Unauthenticated
from crm_core.errors import Conflict, CrmError, ExcludedValue, Invalid, NotFound
from crm_core.org import AdminOnly
from crm_core.rights import Forbidden

__all__ = ["ApiError", "error_response", "status_of", "validation_error"]

# First match wins, so a subclass (UserExists is a Conflict) inherits its parent's status.
_STATUS: tuple[tuple[type[CrmError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (AdminOnly, 403),
    (NotFound, 404),
    (Conflict, 409),
    (ExcludedValue, 422),
    (Invalid, 422),
)


class ApiError(Exception):
    """A failure of the HTTP layer itself (not JSON, no such endpoint, CSRF), with its status."""

    def __init__(self, status: int, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.details = details


def status_of(exc: CrmError) -> int:
    """The HTTP status of a CRM error; one the table does not know is the client's fault (400)."""
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 400)


def error_response(status: int, error_id: str, message: str, details: dict[str, Any]) -> web.Response:
    response = web.json_response(
        {"error_id": error_id, "message": message, "details": details}, status=status
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cti"'
    return response


def validation_error(exc: ValidationError) -> ApiError:
    """A pydantic refusal as a 422 listing each bad field (``loc``), what is wrong and its kind."""
    errors = [
        {"loc": [str(part) for part in error["loc"]], "message": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]
    first = errors[0] if errors else {"loc": [], "message": "invalid"}
    where = ".".join(first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(422, "validation-failed", f"{where}: {first['message']}{more}", errors=errors)
