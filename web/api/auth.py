"""Who is calling the API: a bearer token, else the browser's session cookie.

A request with an ``Authorization`` header is judged by its token alone (a bad token is a 401,
never a fall-back to the cookie). Without one, the session cookie counts, and the CSRF middleware
has already refused an unsafe request that lacks the session's ``X-CSRF-Token`` header: a token is
not sent by browsers on their own, so it needs no CSRF check.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import Unauthenticated, load_principal
from crm_core.rights import Principal
from crm_core.tokens import authenticate_token

from ..auth import current_user

__all__ = ["request_principal"]


async def request_principal(request: web.Request, session: AsyncSession) -> Principal:
    """The caller's effective rights; :class:`Unauthenticated` (401) when nobody is identified."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("The Authorization header must be 'Bearer TOKEN'")
        user_id = await authenticate_token(session, token)
        structlog.contextvars.bind_contextvars(user_id=user_id, auth="token")
        return await load_principal(session, user_id)
    user = await current_user(request)
    if user is None:
        raise Unauthenticated("Log in, or send 'Authorization: Bearer TOKEN' (see `cti users token`)")
    structlog.contextvars.bind_contextvars(auth="session")
    return await load_principal(session, user.id)
