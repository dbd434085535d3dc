"""Login, logout, the current user, ``login_required`` and CSRF protection.

A session is a signed cookie (see :mod:`web.sessions`); the user it names is loaded on every request,
so deactivating a user ends their sessions at once. Every unsafe request (POST, PUT, PATCH, DELETE)
made with a valid session cookie must carry the session's CSRF token, as the ``csrf_token`` form
field or the ``X-CSRF-Token`` header, or it gets 403.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import structlog
from aiohttp import web

from crm_core.models import User
from crm_core.users import authenticate

from . import i18n, keys
from .sessions import CurrentUser, SessionData

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentUser",
    "csrf_middleware",
    "csrf_token",
    "current_user",
    "login",
    "login_form",
    "login_required",
    "logout",
    "request_user",
    "safe_next",
    "same_origin",
    "wants_json",
]

log = structlog.get_logger(__name__)

SESSION_COOKIE = "cti_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_FAILED = i18n.N_("Wrong login or password")
CSRF_FAILED = i18n.N_("CSRF token missing or invalid")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_HOME = "/agent"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _session(request: web.Request) -> SessionData | None:
    """The verified session cookie of *request* (cached on the request)."""
    if keys.SESSION not in request:
        data = request.app[keys.SESSIONS].read(request.cookies.get(SESSION_COOKIE))
        if data is None:
            return None
        request[keys.SESSION] = data
    return request[keys.SESSION]


async def current_user(request: web.Request) -> CurrentUser | None:
    """Return the active user the session cookie names, or None (no, bad or expired cookie)."""
    if keys.USER in request:
        return request[keys.USER]
    session = _session(request)
    if session is None:
        return None
    async with request.app[keys.DB]() as db:
        user = await db.get(User, session.user_id)
        if user is None or not user.is_active:
            return None
        found = CurrentUser(
            id=user.id,
            login=user.login,
            name=user.name,
            extension=user.extension,
            role=user.role,
            locale=user.locale,
        )
    request[keys.USER] = found
    i18n.set_locale(found.locale)  # the user's own choice beats the browser's Accept-Language
    structlog.contextvars.bind_contextvars(user_id=found.id)
    return found


def request_user(request: web.Request) -> CurrentUser:
    """The user ``login_required`` let through."""
    return request[keys.USER]


def wants_json(request: web.Request) -> bool:
    """APIs and WebSockets answer 401/403 as JSON; pages redirect or show HTML."""
    accept = request.headers.get("Accept", "")
    return request.path.startswith(("/api/", "/ws/")) or "application/json" in accept


def _json_error(status: type[web.HTTPException], message: str, error_id: str) -> web.HTTPException:
    body = web.json_response({"message": message, "error_id": error_id, "details": {}}).text
    return status(text=body, content_type="application/json")


def login_required(handler: Handler) -> Handler:
    """Let logged-in users through; send pages to /login?next=..., APIs and sockets a 401."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if await current_user(request) is None:
            if wants_json(request):
                raise _json_error(web.HTTPUnauthorized, i18n.gettext("Login required"), "login-required")
            raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
        return await handler(request)

    return wrapper


def csrf_token(request: web.Request) -> str:
    """The CSRF token of this request's session, or "" when nobody is logged in."""
    session = _session(request)
    return request.app[keys.SESSIONS].csrf_token(session) if session is not None else ""


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse unsafe requests of a logged-in session that lack its CSRF token."""
    if request.method not in _UNSAFE:
        return await handler(request)
    if not same_origin(request):
        # Without a session there is no token to check; a foreign Origin on a form post (login CSRF:
        # logging a victim into the attacker's account) is refused all the same.
        log.warning("cross_origin_post_rejected", origin=request.headers.get("Origin"), path=request.path)
        raise web.HTTPForbidden(text=i18n.gettext("Cross-origin request rejected"))
    session = _session(request)
    if session is not None:
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.content_type in _FORM_TYPES:
            value = (await request.post()).get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        if not request.app[keys.SESSIONS].check_csrf(session, token):
            log.warning("csrf_rejected", method=request.method, user_id=session.user_id)
            if wants_json(request):
                raise _json_error(web.HTTPForbidden, i18n.gettext(CSRF_FAILED), "csrf-failed")
            raise web.HTTPForbidden(text=i18n.gettext(CSRF_FAILED))
    return await handler(request)


def same_origin(request: web.Request) -> bool:
    """False when a browser says the request comes from another site (no Origin: not a browser)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


def safe_next(value: str | None) -> str:
    """Only a local path may follow a login; anything else goes to the agent page."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return _HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return _HOME
    return value


def _render_login(request: web.Request, *, next_: str, error: str = "", login_name: str = "") -> web.Response:
    context = {"next": next_, "error": error, "login": login_name, "csrf_token": csrf_token(request)}
    return aiohttp_jinja2.render_template("login.html", request, context)


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login: the form (or straight on, when already logged in)."""
    next_ = safe_next(request.query.get("next"))
    if await current_user(request) is not None:
        raise web.HTTPFound(next_)
    return _render_login(request, next_=next_)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, set the session cookie, go to ``next``."""
    form = await request.post()
    login_name = str(form.get("login", "")).strip()[:100]
    password = str(form.get("password", ""))
    next_ = safe_next(str(form.get("next", "")))
    user = None
    if login_name and password:
        async with request.app[keys.DB]() as db:
            user = await authenticate(db, login_name, password)
            await db.commit()  # authenticate may upgrade an outdated password hash
    if user is None or not user.is_active:
        if not (login_name and password):  # otherwise authenticate() has logged login_failed, with why
            log.info("login_failed", login=login_name, reason="incomplete_form")
        return _render_login(request, next_=next_, error=i18n.gettext(LOGIN_FAILED), login_name=login_name)
    settings = request.app[keys.SETTINGS].web
    cookie, _session_data = request.app[keys.SESSIONS].issue(user.id, hours=settings.session_hours)
    log.info("login_succeeded", user_id=user.id, login=user.login)
    response = web.HTTPSeeOther(next_)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        path="/",
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout (CSRF-checked by the middleware): drop the cookie, back to the login form."""
    session = _session(request)
    if session is not None:
        log.info("logout", user_id=session.user_id)
    response = web.HTTPSeeOther("/login")
    secure = request.app[keys.SETTINGS].web.cookie_secure
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=secure)
    raise response
