"""GET /recordings/{id} (the audio, seekable) and GET /recordings/{id}/peaks (its waveform).

The file is found only through the key the database holds (``naming.resolve_key`` under the
recordings directory): nothing of the request ever becomes part of a path. Rights are checked on
every request, Range requests included, against the call's owner: ``call``/read to listen,
``call``/export to download (``?download=1``). Every download and refusal is written to the audit
trail with who, what and when, and every *listening*: a request for the start of the audio (no
Range, or a Range from byte 0) is a listen; a request further in (a seek, or the player reading the
end for the duration) is a listen only when the user has no ``recording.listen`` of this recording in
the last :data:`LISTEN_WINDOW` (so a listen that begins with a seek is still recorded, and one
listening is one entry, not one per seek). aiohttp's FileResponse answers Range (206 with
Content-Range, 416 when unsatisfiable) and streams with sendfile.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.access import load_principal
from crm_core.db import utc_now
from crm_core.models import AuditEntry
from crm_core.recordings import RecordingAccess, load_access
from crm_core.rights import Action, Entity
from recordings.naming import resolve_key
from recordings.state import RecordingStatus

from .. import i18n, keys
from ..auth import login_required, request_user

__all__ = ["CONTENT_TYPES", "LISTEN_WINDOW", "recording_audio", "recording_peaks"]

log = structlog.get_logger(__name__)

CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg; codecs=opus", "wav": "audio/wav"}
_PLAYABLE = frozenset({RecordingStatus.CONVERTED, RecordingStatus.STORED})
_NO_CACHE = "private, no-store"
"Call audio is personal data: never kept by a shared browser or a proxy."
LISTEN_WINDOW = timedelta(minutes=30)
"A request into the middle of a recording is part of the listen audited within this time before."
_RANGE_START = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-")


def _refusal(
    exc_type: type[web.HTTPException], message: str, error_id: str, **details: object
) -> web.HTTPException:
    """An HTTP error whose body is the API's ``{message, error_id, details}``."""
    body = {"message": message, "error_id": error_id, "details": details}
    return exc_type(text=json.dumps(body), content_type="application/json")


def _from_the_start(range_header: str | None) -> bool:
    """No Range, or one whose (first) range starts at byte 0; a suffix range (``-500``) is not."""
    if range_header is None:
        return True
    match = _RANGE_START.match(range_header)
    return match is None or (match.group(1) != "" and int(match.group(1)) == 0)


async def _listened_lately(session: AsyncSession, user_id: int, target: str) -> bool:
    since = utc_now() - LISTEN_WINDOW
    found = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.action == "recording.listen",
            AuditEntry.user_id == user_id,
            AuditEntry.target == target,
            AuditEntry.at >= since,
        )
        .limit(1)
    )
    return found is not None


async def _authorise(request: web.Request, *, action: Action, audit_as: str | None) -> RecordingAccess:
    """Load the recording and check the user's right on it; audit the outcome (refusals always).

    A ``recording.listen`` further into the audio than its start is skipped when this user's
    listening of it was audited within :data:`LISTEN_WINDOW`; downloads are audited every time.
    """
    recording_id = int(request.match_info["recording_id"])
    user = request_user(request)
    target = f"recording:{recording_id}"
    async with request.app[keys.DB]() as session:
        access = await load_access(session, recording_id)
        if access is None:
            raise _refusal(
                web.HTTPNotFound, i18n.gettext("No recording %(id)s", id=recording_id), "not-found"
            )
        principal = await load_principal(session, user.id)
        # Downloading is listening too: export without read is no right to the audio.
        allowed = all(principal.can(Entity.CALL, a, access.responsible_id) for a in {Action.READ, action})
        details: dict[str, object] = {"call_id": access.call_id}
        if not allowed:
            details["wanted"] = action.value
            await audit.record(
                session,
                action="recording.denied",
                actor=user.login,
                user_id=user.id,
                target=target,
                details=details,
            )
            await session.commit()
            log.warning("recording_access_denied", recording_id=recording_id, wanted=action.value)
            message = (
                i18n.gettext("You may not download this recording")
                if action is Action.EXPORT
                else i18n.gettext("You may not listen to this recording")
            )
            raise _refusal(web.HTTPForbidden, message, "forbidden", action=action.value)
        range_header = request.headers.get("Range")
        seek = audit_as == "recording.listen" and not _from_the_start(range_header)
        if seek and await _listened_lately(session, user.id, target):
            audit_as = None  # a seek within a listening already on the trail
        if audit_as is not None:
            details["range"] = range_header
            await audit.record(
                session, action=audit_as, actor=user.login, user_id=user.id, target=target, details=details
            )
            await session.commit()
    return access


def _file(request: web.Request, access: RecordingAccess, key: str | None) -> Path | None:
    """The file of *key* under the recordings directory, or None when there is none."""
    if key is None:
        return None
    try:
        path = resolve_key(request.app[keys.SETTINGS].recordings.directory, key)
    except ValueError:  # a key written into the database by hand; never serve outside the store
        log.error("recording_key_outside_store", recording_id=access.id, key=key)
        return None
    return path if path.is_file() else None


@login_required
async def recording_audio(request: web.Request) -> web.StreamResponse:
    """The recording's audio; ``?download=1`` as an attachment (needs the export right)."""
    download = request.query.get("download") == "1"
    action = Action.EXPORT if download else Action.READ
    audit_as = "recording.download" if download else "recording.listen"
    access = await _authorise(request, action=action, audit_as=audit_as)
    if access.status not in _PLAYABLE or access.storage_key is None:
        raise _refusal(
            web.HTTPConflict,
            i18n.gettext("The recording is not playable (yet)"),
            "recording-not-ready",
            status=access.status.value,
        )
    path = _file(request, access, access.storage_key)
    if path is None:
        log.error("recording_file_missing", recording_id=access.id, key=access.storage_key)
        raise _refusal(
            web.HTTPNotFound,
            i18n.gettext("The file of recording %(id)s is missing", id=access.id),
            "recording-file-missing",
        )
    headers = {
        "Content-Type": CONTENT_TYPES.get(access.format or "", "application/octet-stream"),
        "Cache-Control": _NO_CACHE,
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return web.FileResponse(path, headers=headers)


@login_required
async def recording_peaks(request: web.Request) -> web.StreamResponse:
    """The waveform peaks (audiowaveform JSON) of a recording the user may listen to."""
    access = await _authorise(request, action=Action.READ, audit_as=None)
    path = _file(request, access, access.peaks_key)
    if path is None:
        raise _refusal(
            web.HTTPNotFound, i18n.gettext("Recording %(id)s has no waveform", id=access.id), "no-peaks"
        )
    return web.FileResponse(path, headers={"Content-Type": "application/json", "Cache-Control": _NO_CACHE})
