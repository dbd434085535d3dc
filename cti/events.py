"""Facts about calls and devices, in cti's vocabulary: every PBX adapter emits only these.

Events are past-tense facts. Each carries the call id and the moment it happened (PBX time
when the PBX stamps its events, else the time the adapter saw it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .model import CallId, Direction, Disposition, Party, TransferKind

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallEvent",
    "CallHeld",
    "CallPickedUp",
    "CallResumed",
    "CallRinging",
    "CallStarted",
    "CallTransferred",
    "ConferenceJoined",
    "ConferenceLeft",
    "CtiEvent",
    "DeviceEvent",
    "DeviceRegistered",
    "DeviceUnregistered",
    "DndChanged",
    "ListenerJoined",
    "ListenerLeft",
    "RecordingStarted",
    "RecordingStopped",
    "RingingStopped",
]


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: CallId
    at: datetime
    direction: Direction
    caller: Party
    dialled: str
    external_number: str | None = None
    did: str | None = None
    resynced: bool = False


@dataclass(frozen=True, slots=True)
class CallRinging:
    """The call rings at these extensions (in addition to any already ringing)."""

    call_id: CallId
    at: datetime
    extensions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RingingStopped:
    """These extensions stopped ringing without answering (answered elsewhere, timeout, cancel)."""

    call_id: CallId
    at: datetime
    extensions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: CallId
    at: datetime
    by: str
    "The extension that answered, or the outside number for an outbound call."


@dataclass(frozen=True, slots=True)
class CallPickedUp:
    call_id: CallId
    at: datetime
    by: str
    from_: str
    code: str


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The call moved on; the caller stays the same party it was."""

    call_id: CallId
    at: datetime
    kind: TransferKind
    by: str
    to: str


@dataclass(frozen=True, slots=True)
class CallHeld:
    call_id: CallId
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class CallResumed:
    call_id: CallId
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class ConferenceJoined:
    call_id: CallId
    at: datetime
    room: str
    party: Party


@dataclass(frozen=True, slots=True)
class ConferenceLeft:
    call_id: CallId
    at: datetime
    room: str
    party: Party


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    call_id: CallId
    at: datetime
    file: str


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    call_id: CallId
    at: datetime
    file: str


@dataclass(frozen=True, slots=True)
class ListenerJoined:
    """A supervisor listens to (or whispers into, or barges into) the call; not a party of it."""

    call_id: CallId
    at: datetime
    by: str
    mode: str = "listen"


@dataclass(frozen=True, slots=True)
class ListenerLeft:
    call_id: CallId
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: CallId
    at: datetime
    disposition: Disposition
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceRegistered:
    extension: str
    at: datetime
    contact: str = ""


@dataclass(frozen=True, slots=True)
class DeviceUnregistered:
    extension: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DndChanged:
    extension: str
    at: datetime
    enabled: bool


CallEvent = (
    CallStarted
    | CallRinging
    | RingingStopped
    | CallAnswered
    | CallPickedUp
    | CallTransferred
    | CallHeld
    | CallResumed
    | ConferenceJoined
    | ConferenceLeft
    | RecordingStarted
    | RecordingStopped
    | ListenerJoined
    | ListenerLeft
    | CallEnded
)
DeviceEvent = DeviceRegistered | DeviceUnregistered | DndChanged
CtiEvent = CallEvent | DeviceEvent
