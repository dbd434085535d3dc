"""The header's navigation: which sections the logged-in user may open, and which one is this page.

Every page extends ``base.html``, whose header lists the sections as links. A link is shown only to
someone the section would let in, by the same rule its view applies: the live board for the
supervisor roles, the recordings console with any ``call``/read level, the import with the right to
add some kind of record, the admin pages for admins; "Calls" needs an extension. The rights come
from the database (a user's extra access roles change them), so ``nav_middleware`` loads them once
per page request, before the handler, into a context variable that the template's ``nav()`` reads
(templates render synchronously and cannot query). JSON, WebSocket, static and audio requests skip
it. ``nav_section()`` names the section of the request's path, for ``aria-current="page"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

import jinja2
from aiohttp import web

from crm_core.access import load_principal
from crm_core.models import Role
from crm_core.rights import Action, Entity, Level, Principal
from crm_core.transfer.mapping import ImportKind

from . import keys
from .auth import current_user, wants_json
from .call_rights import SPY_ROLES

__all__ = ["Nav", "nav_middleware", "section_of", "setup_jinja"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SKIPPED = ("/api/", "/ws/", "/static/", "/recordings/", "/calls/", "/healthz", "/metrics")
"Requests that never render a page with the header."

# Longest prefix first: /supervisor/recordings is not the board, /crm/deals is not the CRM.
_SECTIONS: tuple[tuple[str, str], ...] = (
    ("/supervisor/recordings", "recordings"),
    ("/supervisor", "board"),
    ("/agent", "calls"),
    ("/crm/import", "import"),
    ("/crm/export", "import"),
    ("/crm/deals", "sales"),
    ("/crm/funnel", "sales"),
    ("/crm/products", "sales"),
    ("/crm/quotes", "sales"),
    ("/crm/invoices", "sales"),
    ("/crm/", "crm"),
    ("/admin/dialplan", "dialplan"),
    ("/admin/users", "users"),
    ("/admin/crm", "crm_settings"),
    ("/admin/audit", "audit"),
)


@dataclass(frozen=True, slots=True)
class Nav:
    """What the header offers this user."""

    start: str
    "Where the brand links: the user's start page."
    calls: bool = False
    board: bool = False
    recordings: bool = False
    imports: bool = False
    admin: bool = False


_nav: ContextVar[Nav | None] = ContextVar("nav", default=None)
_path: ContextVar[str] = ContextVar("nav_path", default="")


def section_of(path: str) -> str:
    """The header section *path* belongs to (``""`` for none)."""
    return next(
        (section for prefix, section in _SECTIONS if path == prefix.rstrip("/") or path.startswith(prefix)),
        "",
    )


def _may_import(principal: Principal) -> bool:
    # The import page's own rule (views.imports): products take the "all" level, the rest any level.
    for kind in ImportKind:
        level = principal.level(kind.entity, Action.ADD)
        if level is Level.ALL or (kind is not ImportKind.PRODUCTS and level is not Level.NONE):
            return True
    return False


def nav_for(principal: Principal, role: str, extension: str | None) -> Nav:
    """The sections *principal* (of *role*, at *extension*) may open."""
    board = role in SPY_ROLES
    if extension:
        start = "/agent"
    elif board:
        start = "/supervisor"
    else:
        start = "/crm/leads"
    return Nav(
        start=start,
        calls=bool(extension),
        board=board,
        recordings=principal.level(Entity.CALL, Action.READ) is not Level.NONE,
        imports=_may_import(principal),
        admin=role == Role.ADMIN,
    )


@web.middleware
async def nav_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Note this request's section; for a logged-in page request, what its header may link to."""
    _path.set(request.path)
    _nav.set(None)
    if not request.path.startswith(_SKIPPED) and not wants_json(request):
        user = await current_user(request)  # cached on the request: login_required reuses it
        if user is not None:
            async with request.app[keys.DB]() as session:
                principal = await load_principal(session, user.id)
            _nav.set(nav_for(principal, user.role, user.extension))
    return await handler(request)


@jinja2.pass_context
def _nav_of(context: jinja2.runtime.Context) -> Nav:
    found = _nav.get()
    if found is not None:
        return found
    # A page rendered without the middleware's look-up (e.g. after a POST): the safe minimum.
    user = context.get("user")
    extension = getattr(user, "extension", None)
    return Nav(start="/agent" if extension else "/crm/leads", calls=bool(extension))


def setup_jinja(env: jinja2.Environment) -> None:
    """Give templates ``nav()`` (a :class:`Nav`) and ``nav_section()`` (this page's section)."""
    env.globals["nav"] = _nav_of
    env.globals["nav_section"] = lambda: section_of(_path.get())
