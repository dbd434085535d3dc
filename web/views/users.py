"""The admin's users page: add users, disable or enable them, set their department and extra roles.

Server-rendered forms, CSRF-checked by the middleware (the ``csrf_token`` field). Every change goes
through the same services as the command line and the API (``crm_core.users``, ``crm_core.org``),
which check the admin right again, and runs in one transaction: a refused change changes nothing.
After a change the browser is sent back to the page (POST, redirect, GET) with what was done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.errors import CrmError
from crm_core.models import AccessRole, Department, Role, User
from crm_core.org import set_user_department, set_user_roles
from crm_core.users import create_user, list_users, set_active

from .. import i18n, keys
from ..api.errors import status_of
from ..auth import csrf_token, request_user
from .dialplan import admin_required

__all__ = ["add_user", "set_access", "set_user_active", "users_page"]

log = structlog.get_logger(__name__)

_DONE: Mapping[str, str] = {
    "added": i18n.N_("User %(login)s added."),
    "access": i18n.N_("Department and roles of %(login)s saved."),
    "disabled": i18n.N_("%(login)s is disabled: they cannot log in and their API tokens are revoked."),
    "enabled": i18n.N_("%(login)s may log in again."),
}
_LOGIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


async def _render(
    request: web.Request, *, status: int = 200, error: str = "", form: Mapping[str, str] | None = None
) -> web.Response:
    async with request.app[keys.DB]() as session:
        users = await list_users(session)
        departments = list(
            await session.execute(select(Department.id, Department.name).order_by(Department.name))
        )
        roles = list(
            await session.scalars(
                select(AccessRole.name).where(AccessRole.is_builtin.is_(False)).order_by(AccessRole.name)
            )
        )
    done = _DONE.get(request.query.get("done", ""))
    notice = i18n.gettext(done, login=request.query.get("login", "")[:64]) if done and not error else ""
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "users": users,
        "departments": departments,
        "extra_roles": roles,
        "roles": [role.value for role in Role],
        "notice": notice,
        "error": error,
        "form": form or {},
    }
    return aiohttp_jinja2.render_template("users.html", request, context, status=status)


async def _change(
    request: web.Request,
    work: Callable[[AsyncSession], Awaitable[str]],
    *,
    done: str,
    form: Mapping[str, str],
) -> web.StreamResponse:
    """Run *work* as the logged-in admin in one transaction; back to the page with what happened."""
    try:
        async with request.app[keys.DB]() as session:
            login = await work(session)
            await session.commit()
    except CrmError as exc:
        log.info("users_page_refused", error_id=exc.error_id)
        return await _render(request, status=status_of(exc), error=i18n.error_message(exc), form=form)
    raise web.HTTPSeeOther(f"/admin/users?{urlencode({'done': done, 'login': login})}")


@admin_required
async def users_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/users: every user, with the forms to change them."""
    return await _render(request)


def _field(form: Mapping[str, Any], name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


@admin_required
async def add_user(request: web.Request) -> web.StreamResponse:
    """POST /admin/users: login, name, role, extension (optional), password (optional: no login yet)."""
    form = await request.post()
    fields = {name: _field(form, name) for name in ("login", "name", "role", "extension")}
    password = form.get("password", "")
    login = fields["login"].lower()
    problem = ""
    if not login or not set(login) <= _LOGIN_CHARS or len(login) > 64:
        problem = i18n.gettext("A login is 1 to 64 of a-z, 0-9, dot, dash and underscore.")
    elif not fields["name"]:
        problem = i18n.gettext("Give the user's name.")
    if problem:
        return await _render(request, status=422, error=problem, form=fields)

    async def work(session: AsyncSession) -> str:
        await create_user(
            session,
            login=login,
            name=fields["name"],
            password=password if isinstance(password, str) and password else None,
            role=fields["role"] or Role.AGENT,
            extension=fields["extension"] or None,
        )
        return login

    return await _change(request, work, done="added", form=fields)


async def _target(session: AsyncSession, request: web.Request) -> User:
    user = await session.get(User, int(request.match_info["user_id"]))
    if user is None:
        raise web.HTTPNotFound(text=i18n.gettext("No such user"))
    return user


@admin_required
async def set_access(request: web.Request) -> web.StreamResponse:
    """POST /admin/users/{user_id}/access: ``department_id`` (empty: none) and every ``roles`` ticked."""
    form = await request.post()
    department = _field(form, "department_id", 20)
    roles = [value for value in form.getall("roles", []) if isinstance(value, str)]

    async def work(session: AsyncSession) -> str:
        user = await _target(session, request)
        admin = await load_principal(session, request_user(request).id)
        await set_user_department(session, admin, user.id, int(department) if department.isdigit() else None)
        await set_user_roles(session, admin, user.id, roles)
        return user.login

    return await _change(request, work, done="access", form={})


@admin_required
async def set_user_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/users/{user_id}/active: ``active`` = ``1`` to enable, anything else to disable."""
    form = await request.post()
    active = _field(form, "active", 1) == "1"

    async def work(session: AsyncSession) -> str:
        user = await _target(session, request)
        await set_active(session, user.login, active)
        return user.login

    return await _change(request, work, done="enabled" if active else "disabled", form={})
