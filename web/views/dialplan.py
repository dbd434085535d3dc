"""The dialplan editor (admins only): edit, validate, diff, explain a call, apply, history, rollback.

The page is server-rendered; ``static/dialplan.js`` talks to the JSON endpoints below with the
session's CSRF token in ``X-CSRF-Token``. Every change goes through :class:`web.dialplan.DialplanService`
(the same path as the CLI and SIGHUP) and is audit-logged there.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from config.dialplan import Issue
from crm_core.dialplans import VersionInfo
from crm_core.models import Role
from cti.routing import explain

from .. import i18n, keys
from ..auth import csrf_token, login_required, request_user, wants_json
from ..dialplan import (
    ApplyResult,
    DialplanBusy,
    DialplanInvalid,
    PlanChanged,
    is_warning,
    sample_call,
)

__all__ = [
    "admin_required",
    "apply_plan",
    "diff_plan",
    "editor_page",
    "explain_call",
    "history_page",
    "rollback",
    "validate_plan",
    "version_page",
]

log = structlog.get_logger(__name__)

HISTORY_LIMIT = 200
_OUTCOMES = {
    "applied": i18n.N_("Rolled back: version %(version)s is running."),
    "reloaded": i18n.N_("Version %(version)s is running."),
    "unchanged": i18n.N_("That text is already running (version %(version)s): nothing changed."),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_required(handler: Handler) -> Handler:
    """Logged-out: the login redirect (401 for JSON); logged in without the admin role: 403."""

    @functools.wraps(handler)
    async def check_role(request: web.Request) -> web.StreamResponse:
        user = request_user(request)
        if user.role != Role.ADMIN:
            log.warning("admin_required", user_id=user.id, role=user.role)
            if wants_json(request):
                raise _json_error(web.HTTPForbidden, i18n.gettext("Administrators only"), "admin-required")
            raise web.HTTPForbidden(text=i18n.gettext("Administrators only"))
        return await handler(request)

    return login_required(check_role)


def _json_error(
    status: type[web.HTTPException], message: str, error_id: str, **details: Any
) -> web.HTTPException:
    body = web.json_response({"message": message, "error_id": error_id, "details": details}).text
    return status(text=body, content_type="application/json")


def _issue(issue: Issue) -> dict[str, Any]:
    return {
        "line": issue.line,
        "column": issue.column,
        "message": issue.message,
        "severity": "warning" if is_warning(issue) else "error",
        "text": str(issue),
    }


def _result(result: ApplyResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "version": result.version,
        "sha256": result.sha256,
        "message": result.message,
        "warnings": [_issue(issue) for issue in result.warnings],
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise _json_error(web.HTTPBadRequest, i18n.gettext("Expected a JSON object"), "bad-request") from None
    if not isinstance(data, dict):
        raise _json_error(web.HTTPBadRequest, i18n.gettext("Expected a JSON object"), "bad-request")
    return data


def _text(data: dict[str, Any], field: str = "text", *, required: bool = True) -> str:
    value = data.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _json_error(web.HTTPBadRequest, f"{field} must be a string", "bad-request", field=field)
    # Browsers send a textarea's line breaks as CRLF; the file and its hash use LF.
    return value.replace("\r\n", "\n")


@admin_required
async def editor_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/dialplan: the running plan in the editor."""
    service = request.app[keys.DIALPLAN]
    current = request.app[keys.PLAN].current
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "text": current.text,
        "sha256": current.sha256,
        "version": current.version,
        "path": str(service.path),
        "timezone": current.spec.timezone,
    }
    return aiohttp_jinja2.render_template("dialplan.html", request, context)


@admin_required
async def validate_plan(request: web.Request) -> web.StreamResponse:
    """POST /admin/dialplan/validate {text}: every issue with its line and column."""
    text = _text(await _body(request))
    spec, issues = request.app[keys.DIALPLAN].validate(text)
    return web.json_response({"valid": spec is not None, "issues": [_issue(issue) for issue in issues]})


@admin_required
async def diff_plan(request: web.Request) -> web.StreamResponse:
    """POST /admin/dialplan/diff {text}: unified diff from the running plan."""
    text = _text(await _body(request))
    current = request.app[keys.PLAN].current
    diff = request.app[keys.DIALPLAN].diff(text)
    return web.json_response({"diff": diff, "changed": bool(diff), "running_version": current.version})


@admin_required
async def explain_call(request: web.Request) -> web.StreamResponse:
    """POST /admin/dialplan/explain {from, to, at?, trunk?, text?}: how the plan routes that call.

    With ``text`` the edited plan answers (it must be valid), else the running one. A naive ``at``
    is the plan's local time; none is now.
    """
    data = await _body(request)
    caller, dialled = _text(data, "from").strip(), _text(data, "to").strip()
    if not caller or not dialled:
        raise _json_error(web.HTTPBadRequest, i18n.gettext("from and to are required"), "bad-request")
    text = _text(data, required=False)
    spec = request.app[keys.PLAN].spec
    plan = "running"
    if text.strip():
        edited, issues = request.app[keys.DIALPLAN].validate(text)
        if edited is None:
            return web.json_response(
                {
                    "message": i18n.gettext("the edited plan has errors"),
                    "issues": [_issue(i) for i in issues],
                },
                status=422,
            )
        spec, plan = edited, "edited"
    at_text = _text(data, "at", required=False).strip()
    try:
        at = datetime.fromisoformat(at_text) if at_text else None
    except ValueError:
        raise _json_error(
            web.HTTPBadRequest,
            i18n.gettext("at: %(value)s is not a date and time", value=repr(at_text)),
            "bad-request",
        ) from None
    trunk = _text(data, "trunk", required=False).strip() or None
    facts = sample_call(spec, caller, dialled, at=at, trunk=trunk)
    lines = explain(spec, facts)
    return web.json_response(
        {"plan": plan, "at": facts.at.isoformat(), "trunk": facts.trunk, "lines": list(lines)}
    )


@admin_required
async def apply_plan(request: web.Request) -> web.StreamResponse:
    """POST /admin/dialplan/apply {text, comment?, base_sha?}: validate, record, write, run.

    ``base_sha`` is the running plan the editor started from: if another admin applied meanwhile
    the answer is 409 and nothing changes.
    """
    data = await _body(request)
    text = _text(data)
    comment = _text(data, "comment", required=False).strip()[:1000]
    base_sha = data.get("base_sha")
    user = request_user(request)
    try:
        result = await request.app[keys.DIALPLAN].apply(
            text,
            actor=user.login,
            user_id=user.id,
            source="web",
            comment=comment,
            expected_sha=base_sha if isinstance(base_sha, str) and base_sha else None,
        )
    except DialplanInvalid as exc:
        return web.json_response(
            {
                "message": i18n.gettext("the plan has errors: nothing was applied"),
                "issues": [_issue(i) for i in exc.issues],
            },
            status=422,
        )
    except PlanChanged as exc:
        current = request.app[keys.PLAN].current
        return web.json_response(
            {"message": str(exc), "running_version": exc.running_version, "running_sha": current.sha256},
            status=409,
        )
    except DialplanBusy as exc:
        return web.json_response({"message": str(exc)}, status=503)
    return web.json_response(_result(result))


@admin_required
async def history_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/dialplan/history: every applied version, newest first."""
    versions = await request.app[keys.DIALPLAN].history(HISTORY_LIMIT)
    if wants_json(request):
        return web.json_response({"versions": [_version(v) for v in versions]})
    message = ""
    outcome, version = request.query.get("outcome", ""), request.query.get("version", "")
    if outcome in _OUTCOMES and version.isdigit():
        message = i18n.gettext(_OUTCOMES[outcome], version=int(version))
    return _history(request, versions, message=message)


def _history(
    request: web.Request,
    versions: list[VersionInfo],
    *,
    message: str = "",
    issues: list[Issue] | None = None,
) -> web.Response:
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "versions": versions,
        "running": request.app[keys.PLAN].version,
        "message": message,
        "issues": [str(issue) for issue in issues or []],
    }
    return aiohttp_jinja2.render_template(
        "dialplan_history.html", request, context, status=422 if issues else 200
    )


def _version(version: VersionInfo) -> dict[str, Any]:
    return {
        "id": version.id,
        "applied_at": version.applied_at.isoformat(),
        "applied_by": version.applied_by_name,
        "applied_by_id": version.applied_by_id,
        "source": version.source,
        "comment": version.comment,
        "rolled_back_from": version.rolled_back_from,
        "sha256": version.sha256,
    }


def _version_id(request: web.Request) -> int:
    try:
        return int(request.match_info["version_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@admin_required
async def version_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/dialplan/history/{id}: one version's text."""
    version = await request.app[keys.DIALPLAN].version(_version_id(request))
    if wants_json(request):
        return web.json_response({**_version(version), "text": version.text})
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "version": version,
        "running": request.app[keys.PLAN].version,
    }
    return aiohttp_jinja2.render_template("dialplan_version.html", request, context)


@admin_required
async def rollback(request: web.Request) -> web.StreamResponse:
    """POST /admin/dialplan/rollback/{id}: apply that version's text again, as a new version."""
    version_id = _version_id(request)
    user = request_user(request)
    service = request.app[keys.DIALPLAN]
    try:
        result = await service.rollback(version_id, actor=user.login, user_id=user.id)
    except DialplanInvalid as exc:
        if wants_json(request):
            return web.json_response(
                {
                    "message": i18n.gettext("version %(version)s is not valid today", version=version_id),
                    "issues": [_issue(i) for i in exc.issues],
                },
                status=422,
            )
        message = i18n.gettext(
            "Version %(version)s is not valid today: nothing was changed.", version=version_id
        )
        return _history(request, await service.history(HISTORY_LIMIT), message=message, issues=exc.issues)
    except DialplanBusy as exc:
        return web.json_response({"message": str(exc)}, status=503)
    if wants_json(request):
        return web.json_response(_result(result))
    raise web.HTTPSeeOther(f"/admin/dialplan/history?outcome={result.outcome}&version={result.version}")
