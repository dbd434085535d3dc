"""What the sales pages share: a page's transaction and errors, form values, money as the page shows it.

:func:`page` runs a page's work with the user's principal in one transaction; the services check
every right, so a refusal (:class:`Forbidden`) becomes a 403 page and a bad value a 422 page that
names the problem. A change ends with a redirect (POST, redirect, GET), returned by the work and
raised once the transaction is committed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.errors import CrmError
from crm_core.models import User
from crm_core.rights import Principal

from .. import i18n, keys
from ..api.errors import status_of
from ..auth import csrf_token, login_required, request_user
from .documents import format_decimal

__all__ = [
    "PageError",
    "Work",
    "error_page",
    "int_or_none",
    "money",
    "number",
    "page",
    "parse_decimal",
    "text",
    "user_names",
    "validation_message",
]

log = structlog.get_logger(__name__)

Work = Callable[[web.Request, AsyncSession, Principal], Awaitable[Mapping[str, Any] | web.StreamResponse]]
"A page's body: the request, the open session and the user's rights in; a context or a response out."


class PageError(Exception):
    """A form value this page cannot use, said in the page's language (answered with 422)."""


def page(template: str) -> Callable[[Work], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Run a page's *work* with the user's principal in one transaction and render *template*.

    The work returns the template's context (or a response: a redirect after a change); a CRM
    error becomes an error page with the status the API would give, and nothing is committed.
    """

    def wrap(work: Work) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @login_required
        @functools.wraps(work)
        async def handler(request: web.Request) -> web.StreamResponse:
            user = request_user(request)
            try:
                async with request.app[keys.DB]() as session:
                    principal = await load_principal(session, user.id)
                    result = await work(request, session, principal)
                    if not (isinstance(result, web.StreamResponse) and result.status >= 400):
                        await session.commit()
            except CrmError as exc:
                log.info("sales_page_refused", path=request.path, error_id=exc.error_id, user_id=user.id)
                return error_page(request, status_of(exc), i18n.error_message(exc))
            except (PageError, ValidationError) as exc:
                return error_page(request, 422, validation_message(exc))
            if isinstance(result, web.HTTPException):  # the redirect after a change, once committed
                raise result
            if isinstance(result, web.StreamResponse):
                return result
            context = {"user": user, "csrf_token": csrf_token(request), **result}
            return aiohttp_jinja2.render_template(template, request, context)

        return handler

    return wrap


def validation_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return i18n.gettext("%(field)s: %(problem)s", field=where, problem=first["msg"])
    return str(exc)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    context = {"user": request_user(request), "csrf_token": csrf_token(request), "message": message}
    return aiohttp_jinja2.render_template("sales/error.html", request, context, status=status)


def money(value: Decimal | None) -> str:
    return format_decimal(value, i18n.current_locale())


def number(value: Decimal | None) -> str:
    return format_decimal(value, i18n.current_locale(), min_places=0)


async def user_names(session: AsyncSession) -> dict[int, str]:
    return {uid: name for uid, name in await session.execute(select(User.id, User.name))}


def int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def text(form: Mapping[str, Any], name: str, limit: int = 2000) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_decimal(form: Mapping[str, Any], name: str, label: str) -> Decimal | None:
    """A decimal typed in either language (``1 234,50`` or ``1,234.50``); empty is None."""
    typed = text(form, name, 40).replace("\u202f", "").replace(" ", "")
    if not typed:
        return None
    if "," in typed and "." not in typed:
        typed = typed.replace(",", ".")
    typed = typed.replace(",", "")
    try:
        return Decimal(typed)
    except InvalidOperation:
        raise PageError(
            i18n.gettext("%(field)s is not a number: %(value)s", field=label, value=typed)
        ) from None
