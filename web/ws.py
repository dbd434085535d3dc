"""GET /ws/screenpop: an agent's browser listens here for pops on their extension."""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import WSCloseCode, web

from crm_core.models import User

from . import keys
from .auth import login_required, request_user, same_origin

__all__ = ["HEARTBEAT", "screenpop_ws"]

log = structlog.get_logger(__name__)

USER_RECHECK = 30.0
"Seconds between checks that the socket's user is still active and still has the extension."

HEARTBEAT = 30.0
"Seconds between pings; a browser that misses a pong is dropped (and reconnects if alive)."


@login_required
async def screenpop_ws(request: web.Request) -> web.StreamResponse:
    """Register the socket under the user's extension until it closes or the session expires."""
    # Browsers always send Origin on a WebSocket; a foreign one is cross-site WebSocket hijacking.
    if not same_origin(request):
        log.warning("ws_cross_origin_rejected", origin=request.headers.get("Origin"))
        raise web.HTTPForbidden(reason="Cross-origin WebSocket rejected")
    user = request_user(request)
    if not user.extension:
        raise web.HTTPConflict(reason="No extension is assigned to this user")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[keys.SCREENPOP]
    remaining = request[keys.SESSION].expires - time.time()
    watcher = asyncio.create_task(
        _end_when_revoked(request, ws, user.id, user.extension), name="ws-user-watch"
    )
    try:
        await hub.add(user.extension, ws)
        async with asyncio.timeout(max(remaining, 0)):
            async for _message in ws:  # the page sends nothing we act on
                pass
    except TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Session expired")
    finally:
        watcher.cancel()
        hub.discard(user.extension, ws)
    return ws


async def _end_when_revoked(
    request: web.Request, ws: web.WebSocketResponse, user_id: int, extension: str
) -> None:
    """Close the socket once the user is deactivated or loses the extension: callers' data stops."""
    while not ws.closed:
        await asyncio.sleep(USER_RECHECK)
        async with request.app[keys.DB]() as db:
            user = await db.get(User, user_id)
        if user is None or not user.is_active or user.extension != extension:
            log.info("ws_user_revoked", user_id=user_id, extension=extension)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Session ended")
            return
