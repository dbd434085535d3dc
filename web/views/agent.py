"""The agent's page: who is logged in, their extension, and the live screen-pop panel."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..auth import csrf_token, login_required, request_user

__all__ = ["agent_page", "home"]


async def home(request: web.Request) -> web.StreamResponse:
    """GET /: the agent page is the start page for now."""
    raise web.HTTPFound("/agent")


@login_required
async def agent_page(request: web.Request) -> web.StreamResponse:
    """GET /agent: the screen-pop panel; ``static/agent.js`` fills it from /ws/screenpop."""
    context = {"user": request_user(request), "csrf_token": csrf_token(request)}
    return aiohttp_jinja2.render_template("agent.html", request, context)
