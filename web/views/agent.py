"""The agent's page and the JSON it fetches: the card in depth, the caller form, notes, call-backs.

The screen-pop frame (``web.screenpop``) says who is calling; the page then asks here for the rest
(``GET /agent/card/{entity}/{id}``), so the hub's hot path stays one look-up. Every endpoint runs
the CRM services with the logged-in user's principal and commits once on success.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from crm_core.access import load_principal
from crm_core.errors import NotFound
from crm_core.rights import Action, Entity, Forbidden

from .. import i18n, keys
from ..agent_calls import (
    CallerForm,
    CallWorkRefused,
    NotLoggedYet,
    add_note,
    call_backs,
    close_call_back,
    fill_caller,
    logged_call,
    may_see_logged,
)
from ..agent_card import CARD_ENTITIES, card_details
from ..auth import csrf_token, login_required, request_user
from ..call_rights import load_call_rights
from ..form_problems import describe
from ..i18n import N_

__all__ = [
    "agent_page",
    "call_back_done",
    "call_backs_list",
    "caller_form",
    "card",
    "home",
    "note",
]

_LABELS = {"name": N_("Name"), "company": N_("Company"), "comment": N_("Comment"), "text": N_("Note text")}
"Each form field by its label on the page, for the form-check messages."
_Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
_Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]


class _CallerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _Short = ""
    company: _Short = ""
    comment: _Long = ""


BodyT = TypeVar("BodyT", bound=BaseModel)


class _NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


async def home(request: web.Request) -> web.StreamResponse:
    """GET /: the agent page is the start page for now."""
    raise web.HTTPFound("/agent")


@login_required
async def agent_page(request: web.Request) -> web.StreamResponse:
    """GET /agent: the screen-pop panel; ``static/agent.js`` fills it from /ws/screenpop."""
    context = {"user": request_user(request), "csrf_token": csrf_token(request)}
    return aiohttp_jinja2.render_template("agent.html", request, context)


@login_required
async def card(request: web.Request) -> web.StreamResponse:
    """GET /agent/card/{entity}/{id}: the popped card with deals, last calls, recordings and notes."""
    entity, card_id = request.match_info["entity"], int(request.match_info["card_id"])
    if entity not in CARD_ENTITIES:
        raise NotFound(entity, card_id)
    region = request.app[keys.SETTINGS].crm.default_region
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, request_user(request).id)
        details = await card_details(session, principal, entity, card_id, region=region)
    return web.json_response(details)


@login_required
async def caller_form(request: web.Request) -> web.StreamResponse:
    """POST /agent/calls/{call_id}/caller {name, company, comment}: fill the unknown caller's lead."""
    body = await _body(request, _CallerBody)
    form = CallerForm(name=body.name, company=body.company, comment=body.comment)
    call_id = request.match_info["call_id"]
    settings = request.app[keys.SETTINGS]
    rights = await load_call_rights(request)
    live = request.app[keys.REGISTRY].get(call_id)
    async with request.app[keys.DB]() as session:
        row = await logged_call(session, settings.pbx.id, call_id)
        if row is not None and not may_see_logged(rights.principal, rights.extension, row):
            raise Forbidden(Entity.CALL, Action.READ)
        if row is None:
            if live is None:
                raise _refused(NotLoggedYet(call_id))
            if not rights.can_see(live):
                raise Forbidden(Entity.CALL, Action.READ)
        try:
            result = await fill_caller(
                session, rights.principal, form, call=live, row=row, settings=settings.crm
            )
        except CallWorkRefused as exc:
            raise _refused(exc) from None
        await session.commit()
    return web.json_response(result)


@login_required
async def note(request: web.Request) -> web.StreamResponse:
    """POST /agent/calls/{call_id}/note {text}: the after-call note on the call's cards and the call."""
    body = await _body(request, _NoteBody)
    call_id = request.match_info["call_id"]
    user = request_user(request)
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, user.id)
        row = await logged_call(session, request.app[keys.SETTINGS].pbx.id, call_id)
        if row is None:
            raise _refused(NotLoggedYet(call_id))
        if not may_see_logged(principal, user.extension, row):
            raise Forbidden(Entity.CALL, Action.READ)
        try:
            result = await add_note(session, principal, row, body.text)
        except CallWorkRefused as exc:
            raise _refused(exc) from None
        await session.commit()
    return web.json_response(result, status=201)


@login_required
async def call_backs_list(request: web.Request) -> web.StreamResponse:
    """GET /agent/call-backs: my open call-back tasks, each with the missed call's number."""
    async with request.app[keys.DB]() as session:
        items = await call_backs(session, request_user(request).id)
    return web.json_response({"items": items})


@login_required
async def call_back_done(request: web.Request) -> web.StreamResponse:
    """POST /agent/call-backs/{task_id}/done: close my call-back task (my other open pages are told)."""
    user = request_user(request)
    async with request.app[keys.DB]() as session:
        await close_call_back(session, user.id, int(request.match_info["task_id"]))
        await session.commit()
    hub = request.app.get(keys.SCREENPOP)
    if hub is not None and user.extension:
        await hub.call_backs_changed(user.extension)
    return web.json_response({"ok": True})


def _refused(exc: CallWorkRefused) -> web.HTTPException:
    body = {"error_id": exc.error_id, "message": exc.message, "details": {}}
    return web.HTTPConflict(text=web.json_response(body).text, content_type="application/json")


async def _body(request: web.Request, model: type[BodyT]) -> BodyT:
    try:
        data: Any = await request.json()
    except ValueError:
        data = None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe(exc, _LABELS)
        message = (
            i18n.gettext("The request body must be JSON") if data is None else "; ".join(problems.values())
        )
        body = {"error_id": "invalid", "message": message, "details": problems}
        raise web.HTTPUnprocessableEntity(
            text=web.json_response(body).text, content_type="application/json"
        ) from None
