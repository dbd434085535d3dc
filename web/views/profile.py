"""The user's own settings from the page header: for now the pages' language."""

from __future__ import annotations

import structlog
from aiohttp import web

from crm_core.models import User

from .. import i18n, keys
from ..auth import login_required, request_user, safe_next

__all__ = ["set_locale"]

log = structlog.get_logger(__name__)


@login_required
async def set_locale(request: web.Request) -> web.StreamResponse:
    """POST /profile/locale (CSRF-checked by the middleware): remember the language, go back.

    Form fields: ``locale`` (``en`` or ``ru``) and ``next``, the page to return to (a local path only).
    """
    form = await request.post()
    locale = str(form.get("locale", ""))
    if locale not in i18n.LOCALES:
        choices = ", ".join(i18n.LOCALES)
        message = i18n.gettext(
            'Unknown language "%(locale)s": choose one of %(choices)s.', locale=locale[:20], choices=choices
        )
        raise web.HTTPBadRequest(text=message)
    user = request_user(request)
    async with request.app[keys.DB]() as db:
        row = await db.get(User, user.id)
        if row is None:  # deleted since the session check: the next page asks for a login again
            raise web.HTTPSeeOther("/login")
        row.locale = locale
        await db.commit()
    log.info("locale_chosen", user_id=user.id, locale=locale)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
