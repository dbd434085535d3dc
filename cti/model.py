"""The call record: what one customer conversation was, in the PBX-neutral terms of the product."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType

__all__ = [
    "Call",
    "CallId",
    "CallState",
    "Direction",
    "Disposition",
    "Party",
    "Pickup",
    "Transfer",
    "TransferKind",
]

CallId = NewType("CallId", str)
"""One customer conversation: Asterisk's Linkedid, or the embedded PBX's first leg id."""


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Disposition(StrEnum):
    """How a call ended, from the customer's point of view.

    ``missed``: it rang one of our phones and nobody answered. ``busy``: the callee was busy.
    ``failed``: the PBX could not reach anybody (unavailable, congestion, no route).
    ``abandoned``: our side gave up on an outbound call before the far end answered.
    """

    ANSWERED = "answered"
    MISSED = "missed"
    BUSY = "busy"
    FAILED = "failed"
    ABANDONED = "abandoned"


class CallState(StrEnum):
    DIALING = "dialing"
    RINGING = "ringing"
    TALKING = "talking"
    HELD = "held"
    ENDED = "ended"


class TransferKind(StrEnum):
    ATTENDED = "attended"
    BLIND = "blind"
    BLONDE = "blonde"


@dataclass(frozen=True, slots=True)
class Party:
    """One end of a call as the PBX presented it."""

    number: str
    name: str = ""
    extension: str | None = None
    "Our extension when the party is one of our phones; None for the outside world."


@dataclass(frozen=True, slots=True)
class Pickup:
    by: str
    "The extension that took the call."
    from_: str
    "The extension whose ringing phone it was taken from."
    code: str
    "The feature code dialled (``*11``, ``40``...); empty when the PBX did not say."


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: TransferKind
    by: str
    to: str


@dataclass(frozen=True, slots=True)
class Call:
    """A call as it stands: built only by :class:`cti.registry.CallRegistry` from events."""

    call_id: CallId
    direction: Direction
    caller: Party
    dialled: str
    "What was dialled: an extension, a feature code, an outside number or a DID."
    external_number: str | None
    "The outside party in E.164 when it parses, else as the PBX gave it; None for internal calls."
    did: str | None
    "Our number the outside caller dialled (inbound calls only)."
    started_at: datetime
    state: CallState = CallState.DIALING
    extensions: tuple[str, ...] = ()
    "Every extension that took part (rang, answered, picked up, was transferred to), first seen first."
    ringing: tuple[str, ...] = ()
    "Extensions ringing right now."
    talking: tuple[str, ...] = ()
    "Extensions in the conversation right now."
    answered_by: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    disposition: Disposition | None = None
    cause: int | None = None
    "Q.850 hangup cause of the last leg, for diagnostics only: classify by disposition."
    pickups: tuple[Pickup, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    conference: str | None = None
    recordings: tuple[str, ...] = ()
    listeners: tuple[str, ...] = ()
    "Supervisors who listened, whispered or barged (never parties of the call)."
    resynced: bool = False
    "Rebuilt from a PBX snapshot after a reconnect: its start time is an estimate."
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def talk_seconds(self) -> int:
        if self.answered_at is None or self.ended_at is None:
            return 0
        return max(0, round((self.ended_at - self.answered_at).total_seconds()))

    @property
    def is_external(self) -> bool:
        return self.direction is not Direction.INTERNAL
