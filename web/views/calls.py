"""Call control from the agent's and the supervisor's pages: JSON in, the PBX port out.

Every endpoint answers ``{"ok": true}`` or a JSON error naming the problem in the user's terms (the
PBX's own refusals included, see ``middlewares``). Who may steer which call is
:mod:`web.call_rights`; recording that the dialplan makes mandatory cannot be stopped from a page.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crm_core.rights import Action, Entity, Forbidden
from cti.errors import NoSuchCall
from cti.model import Call, CallState

from .. import i18n, keys
from ..auth import login_required, request_user
from ..call_rights import CallRights, load_call_rights, recording_mandatory
from ..form_problems import describe
from ..i18n import N_

__all__ = ["conference", "dial", "hangup", "listen_in", "recording", "transfer"]

log = structlog.get_logger(__name__)

_DIALLABLE = re.compile(r"^\+?[0-9*#]{1,32}$")
_LABELS = {
    "number": N_("Number"),
    "to": N_("Transfer to"),
    "announced": N_("With announcement"),
    "room": N_("Conference room"),
    "add": N_("Extension to add"),
    "on": N_("Recording"),
    "mode": N_("Listening mode"),
}
"Each request field by the name the page gives it, for the form-check messages."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _number(value: str) -> str:
    cleaned = re.sub(r"[\s()\-.]", "", value)
    if not _DIALLABLE.match(cleaned):
        raise ValueError("must be a phone number or an extension (digits, optional + * #)")
    return cleaned


class DialBody(_Body):
    number: str

    @field_validator("number")
    @classmethod
    def _diallable(cls, value: str) -> str:
        return _number(value)


class TransferBody(_Body):
    to: str
    announced: bool = False
    "False: blind (the caller rings the target at once); True: the agent talks to the target first."

    @field_validator("to")
    @classmethod
    def _diallable(cls, value: str) -> str:
        return _number(value)


class ConferenceBody(_Body):
    room: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]{1,40}$")
    "Move the call into this room (a dialplan conference or an ad-hoc one)."
    add: str | None = None
    "Ring this extension into the call's conference."

    @field_validator("add")
    @classmethod
    def _diallable(cls, value: str | None) -> str | None:
        return None if value is None else _number(value)


class RecordingBody(_Body):
    on: bool


class ListenBody(_Body):
    mode: Literal["listen", "whisper", "barge"] = "listen"


BodyT = TypeVar("BodyT", bound=_Body)


async def _body(request: web.Request, model: type[BodyT]) -> BodyT:
    try:
        data: Any = await request.json()
    except ValueError:
        raise _unprocessable(i18n.gettext("The request body must be JSON"), {}) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe(exc, _LABELS)
        raise _unprocessable("; ".join(problems.values()), problems) from None


def _unprocessable(message: str, problems: dict[str, str]) -> web.HTTPException:
    body = web.json_response({"error_id": "invalid", "message": message, "details": problems}).text
    return web.HTTPUnprocessableEntity(text=body, content_type="application/json")


def _ok() -> web.Response:
    return web.json_response({"ok": True})


async def _call(request: web.Request, rights: CallRights, action: Action) -> Call:
    call_id = request.match_info["call_id"]
    call = request.app[keys.REGISTRY].get(call_id)
    if call is None or call.state is CallState.ENDED:
        raise NoSuchCall(call_id)
    allowed = rights.can_control(call) if action is Action.UPDATE else rights.can_see(call)
    if not allowed:
        raise Forbidden(Entity.CALL, action)
    return call


def _own_extension(rights: CallRights) -> str:
    if rights.extension is None:
        raise web.HTTPConflict(
            text=web.json_response(
                {
                    "error_id": "no-extension",
                    "message": i18n.gettext("No extension is assigned to you"),
                    "details": {},
                }
            ).text,
            content_type="application/json",
        )
    return rights.extension


@login_required
async def dial(request: web.Request) -> web.StreamResponse:
    """POST /calls/dial {"number"}: ring the agent's phone, then the number (click-to-call)."""
    body = await _body(request, DialBody)
    rights = await load_call_rights(request)
    extension = _own_extension(rights)
    await request.app[keys.PBX].originate(extension, body.number)
    log.info("click_to_call", user=request_user(request).login, extension=extension)
    return _ok()


@login_required
async def hangup(request: web.Request) -> web.StreamResponse:
    """POST /calls/{call_id}/hangup."""
    call = await _call(request, await load_call_rights(request), Action.UPDATE)
    await request.app[keys.PBX].hangup(call.call_id)
    log.info("call_hangup_requested", call_id=call.call_id, user=request_user(request).login)
    return _ok()


@login_required
async def transfer(request: web.Request) -> web.StreamResponse:
    """POST /calls/{call_id}/transfer {"to", "announced"}: blind, or with announcement."""
    body = await _body(request, TransferBody)
    rights = await load_call_rights(request)
    call = await _call(request, rights, Action.UPDATE)
    pbx = request.app[keys.PBX]
    by = rights.extension if rights.is_party(call) else None
    if body.announced:
        await pbx.attended_transfer(call.call_id, body.to, by=by)
    else:
        await pbx.blind_transfer(call.call_id, body.to, by=by)
    log.info("call_transfer_requested", call_id=call.call_id, to=body.to, announced=body.announced)
    return _ok()


@login_required
async def conference(request: web.Request) -> web.StreamResponse:
    """POST /calls/{call_id}/conference {"room"} or {"add"}: make it a conference, or add a phone."""
    body = await _body(request, ConferenceBody)
    if (body.room is None) == (body.add is None):
        raise _unprocessable(
            i18n.gettext("Give either room (move the call there) or add (an extension to bring in)"), {}
        )
    call = await _call(request, await load_call_rights(request), Action.UPDATE)
    pbx = request.app[keys.PBX]
    if body.room is not None:
        await pbx.move_to_conference(call.call_id, body.room)
    else:
        if call.conference is None:
            raise _unprocessable(
                i18n.gettext("This call is not a conference yet: move it to a room first"), {}
            )
        await pbx.add_to_conference(call.conference, body.add)
    return _ok()


@login_required
async def recording(request: web.Request) -> web.StreamResponse:
    """POST /calls/{call_id}/recording {"on"}: start or stop recording, unless the plan mandates it."""
    body = await _body(request, RecordingBody)
    call = await _call(request, await load_call_rights(request), Action.UPDATE)
    pbx = request.app[keys.PBX]
    if body.on:
        await pbx.start_recording(call.call_id, "")
    else:
        if recording_mandatory(request.app[keys.PLAN].spec, call):
            raise web.HTTPConflict(
                text=web.json_response(
                    {
                        "error_id": "recording-mandatory",
                        "message": i18n.gettext(
                            "The dialplan records this call always; it cannot be stopped from here"
                        ),
                        "details": {"call_id": call.call_id},
                    }
                ).text,
                content_type="application/json",
            )
        await pbx.stop_recording(call.call_id)
    return _ok()


@login_required
async def listen_in(request: web.Request) -> web.StreamResponse:
    """POST /calls/{call_id}/listen {"mode"}: ring the supervisor's phone to listen, whisper or barge."""
    body = await _body(request, ListenBody)
    rights = await load_call_rights(request)
    call = await _call(request, rights, Action.READ)
    if not rights.can_listen_in(call):
        raise Forbidden(Entity.CALL, Action.READ)
    await request.app[keys.PBX].spy(call.call_id, _own_extension(rights), body.mode)
    log.info("listen_in_requested", call_id=call.call_id, mode=body.mode, user=request_user(request).login)
    return _ok()
