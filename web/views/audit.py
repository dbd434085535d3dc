"""The admin's audit log viewer: GET /admin/audit (who, what, when), filtered by action and user, paged.

The entries come from :func:`crm_core.audit.search_audit`, newest first in a stable order. The
action filter matches the whole action or its family (``recording`` finds ``recording.listen`` and
``recording.download``); the user filter matches the actor's login, so entries of a deleted user
(whose ``user_id`` became NULL) are still found. Only admins see the trail.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp_jinja2
import structlog
from aiohttp import web

from crm_core.audit import AuditSearch, action_names, actor_names, search_audit

from .. import keys
from ..auth import csrf_token, request_user
from .dialplan import admin_required

__all__ = ["PAGE_SIZE", "audit_page"]

log = structlog.get_logger(__name__)

PAGE_SIZE = 100


def _query(action: str, actor: str, offset: int) -> dict[str, str]:
    values = {"action": action, "user": actor, "offset": str(offset) if offset else ""}
    return {key: value for key, value in values.items() if value}


@admin_required
async def audit_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/audit?action=&user=&offset=."""
    action = request.query.get("action", "").strip()[:64]
    actor = request.query.get("user", "").strip()[:200]
    offset_text = request.query.get("offset", "")
    offset = int(offset_text) if offset_text.isdigit() else 0
    async with request.app[keys.DB]() as session:
        total, entries = await search_audit(
            session, AuditSearch(action=action, actor=actor), offset=offset, limit=PAGE_SIZE
        )
        actions = await action_names(session)
        actors = await actor_names(session)
    log.info("audit_viewed", user_id=request_user(request).id, action=action or None, actor=actor or None)
    context: Mapping[str, object] = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "entries": entries,
        "total": total,
        "action": action,
        "actor": actor,
        "actions": actions,
        "actors": actors,
        "previous": _query(action, actor, max(0, offset - PAGE_SIZE)) if offset else None,
        "next": _query(action, actor, offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    }
    return aiohttp_jinja2.render_template("audit.html", request, dict(context))
