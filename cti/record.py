"""The call record as JSON: the shape of ``cti ami replay --json`` and of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import Call

__all__ = ["call_record"]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def call_record(call: Call, *, crm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render *call* with the documented keys (README: "The call record")."""
    return {
        "call_id": call.call_id,
        "direction": call.direction.value,
        "caller": {
            "number": call.caller.number,
            "name": call.caller.name,
            "extension": call.caller.extension,
        },
        "dialled": call.dialled,
        "external_number": call.external_number,
        "did": call.did,
        "extensions": list(call.extensions),
        "answered_by": call.answered_by,
        "disposition": call.disposition.value if call.disposition else None,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "talk_seconds": call.talk_seconds,
        "pickups": [{"by": p.by, "from": p.from_, "code": p.code} for p in call.pickups],
        "transfers": [{"kind": t.kind.value, "by": t.by, "to": t.to} for t in call.transfers],
        "conference": call.conference,
        "recordings": list(call.recordings),
        "listeners": list(call.listeners),
        "cause": call.cause,
        "resynced": call.resynced,
        "crm": crm if crm is not None else {"entity": "none", "id": None, "created": False},
    }
