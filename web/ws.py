"""GET /ws/screenpop: an agent's browser listens here for pops on their extension."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import structlog
from aiohttp import WSCloseCode, web

from . import keys
from .auth import login_required, request_user

__all__ = ["HEARTBEAT", "screenpop_ws"]

log = structlog.get_logger(__name__)

HEARTBEAT = 30.0
"Seconds between pings; a browser that misses a pong is dropped (and reconnects if alive)."


def _same_origin(request: web.Request) -> bool:
    """Browsers always send Origin on a WebSocket; a foreign one is cross-site WebSocket hijacking."""
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: it had to present the session cookie itself
        return True
    return urlsplit(origin).netloc.lower() == request.host.lower()


@login_required
async def screenpop_ws(request: web.Request) -> web.StreamResponse:
    """Register the socket under the user's extension until it closes or the session expires."""
    if not _same_origin(request):
        log.warning("ws_cross_origin_rejected", origin=request.headers.get("Origin"))
        raise web.HTTPForbidden(reason="Cross-origin WebSocket rejected")
    user = request_user(request)
    if not user.extension:
        raise web.HTTPConflict(reason="No extension is assigned to this user")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[keys.SCREENPOP]
    remaining = request[keys.SESSION].expires - time.time()
    try:
        await hub.add(user.extension, ws)
        async with asyncio.timeout(max(remaining, 0)):
            async for _message in ws:  # the page sends nothing we act on
                pass
    except TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Session expired")
    finally:
        hub.discard(user.extension, ws)
    return ws
