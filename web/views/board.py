"""The supervisor's live board: the page, and the WebSocket that keeps it current."""

from __future__ import annotations

import asyncio
import time

import aiohttp_jinja2
import structlog
from aiohttp import WSCloseCode, web

from .. import i18n, keys
from ..auth import csrf_token, login_required, request_user, same_origin
from ..call_rights import SPY_ROLES, load_call_rights

__all__ = ["board_page", "board_ws"]

log = structlog.get_logger(__name__)

HEARTBEAT = 30.0


def _require_supervisor(request: web.Request) -> None:
    if request_user(request).role not in SPY_ROLES:
        raise web.HTTPForbidden(text=i18n.gettext("The live board is for supervisors and administrators"))


@login_required
async def board_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor: calls now and every extension's state; ``static/board.js`` keeps it live."""
    _require_supervisor(request)
    context = {"user": request_user(request), "csrf_token": csrf_token(request)}
    return aiohttp_jinja2.render_template("board.html", request, context)


@login_required
async def board_ws(request: web.Request) -> web.StreamResponse:
    """GET /ws/board: a snapshot, then every change the user may see, until the session expires."""
    if not same_origin(request):
        log.warning("ws_cross_origin_rejected", origin=request.headers.get("Origin"))
        raise web.HTTPForbidden(reason="Cross-origin WebSocket rejected")
    _require_supervisor(request)
    rights = await load_call_rights(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    board = request.app[keys.BOARD]
    remaining = request[keys.SESSION].expires - time.time()
    try:
        await board.add(ws, rights.can_see)
        async with asyncio.timeout(max(remaining, 0)):
            async for message in ws:  # the page sends nothing we act on; it only keeps the socket open
                log.debug("board_message_ignored", kind=message.type.name)
    except TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"Session expired")
    finally:
        board.discard(ws)
    return ws
