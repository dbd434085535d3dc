"""CallRegistry: the live calls, folded from events; the only writer of :class:`~cti.model.Call`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog

from . import events as ev
from .model import Call, CallId, CallState, Disposition, Party, Pickup, Transfer

__all__ = ["CallRegistry", "DeviceState"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceState:
    extension: str
    registered: bool = False
    contact: str = ""
    dnd: bool = False


def _add(items: tuple[str, ...], *new: str) -> tuple[str, ...]:
    """Append the values not there yet, keeping first-seen order."""
    out = list(items)
    for item in new:
        if item not in out:
            out.append(item)
    return tuple(out)


def _drop(items: tuple[str, ...], *gone: str) -> tuple[str, ...]:
    return tuple(item for item in items if item not in gone)


class CallRegistry:
    """Live calls by id, plus every extension's device state.

    ``apply`` returns the call as it stands after the event (an ended call is returned once, then
    forgotten), or None for device events and for events about calls it never saw start.
    """

    def __init__(self) -> None:
        self._calls: dict[CallId, Call] = {}
        self._devices: dict[str, DeviceState] = {}
        self._rooms: dict[str, dict[CallId, Party]] = {}
        self._appliers: dict[type, Callable[[Call, ev.CtiEvent], Call]] = {
            ev.CallRinging: self._ringing,
            ev.RingingStopped: self._ringing_stopped,
            ev.CallAnswered: self._answered,
            ev.CallPickedUp: self._picked_up,
            ev.CallTransferred: self._transferred,
            ev.CallHeld: lambda c, _e: dataclasses.replace(c, state=CallState.HELD),
            ev.CallResumed: lambda c, _e: dataclasses.replace(c, state=CallState.TALKING),
            ev.ConferenceJoined: self._conference_joined,
            ev.ConferenceLeft: self._conference_left,
            ev.RecordingStarted: self._recording,
            ev.RecordingStopped: self._recording,
            ev.ListenerJoined: self._listener,
            ev.ListenerLeft: lambda c, _e: c,
            ev.CallEnded: self._ended,
        }

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    def get(self, call_id: CallId) -> Call | None:
        return self._calls.get(call_id)

    def ringing_at(self, extension: str) -> list[Call]:
        return [call for call in self._calls.values() if extension in call.ringing]

    def room(self, room: str) -> list[Party]:
        """Who is in conference *room* right now, in the order they joined."""
        return list(self._rooms.get(room, {}).values())

    def devices(self) -> list[DeviceState]:
        return sorted(self._devices.values(), key=lambda device: device.extension)

    def apply(self, event: ev.CtiEvent) -> Call | None:
        """Fold one event into the registry; return the call it touched, as it now stands."""
        if isinstance(event, ev.DeviceRegistered | ev.DeviceUnregistered | ev.DndChanged):
            self._apply_device(event)
            return None
        if isinstance(event, ev.CallStarted):
            return self._started(event)
        call = self._calls.get(event.call_id)
        if call is None:
            log.debug("event_for_unknown_call", call_id=event.call_id, cti_event=type(event).__name__)
            return None
        call = self._appliers[type(event)](call, event)
        if call.state is CallState.ENDED:
            del self._calls[call.call_id]
            if call.conference is not None:  # a hang-up in the room is a leave, whatever came first
                self._leave_room(call.conference, call.call_id)
        else:
            self._calls[call.call_id] = call
        return call

    def _started(self, event: ev.CallStarted) -> Call:
        known = self._calls.get(event.call_id)
        if known is not None:  # a re-sync re-announces a call we still hold: keep what we know
            return known
        call = Call(
            call_id=event.call_id,
            direction=event.direction,
            caller=event.caller,
            dialled=event.dialled,
            external_number=event.external_number,
            did=event.did,
            started_at=event.at,
            extensions=(event.caller.extension,) if event.caller.extension else (),
            resynced=event.resynced,
        )
        self._calls[call.call_id] = call
        return call

    @staticmethod
    def _ringing(call: Call, event: ev.CallRinging) -> Call:  # type: ignore[override]
        state = CallState.RINGING if call.state is CallState.DIALING else call.state
        return dataclasses.replace(
            call,
            state=state,
            ringing=_add(call.ringing, *event.extensions),
            extensions=_add(call.extensions, *event.extensions),
        )

    @staticmethod
    def _ringing_stopped(call: Call, event: ev.RingingStopped) -> Call:
        return dataclasses.replace(call, ringing=_drop(call.ringing, *event.extensions))

    @staticmethod
    def _answered(call: Call, event: ev.CallAnswered) -> Call:
        first = call.answered_by is None
        return dataclasses.replace(
            call,
            state=CallState.TALKING,
            answered_by=event.by if first else call.answered_by,
            answered_at=event.at if first else call.answered_at,
            ringing=_drop(call.ringing, event.by),
            talking=_add(call.talking, event.by),
            extensions=_add(call.extensions, event.by)
            if event.by != call.external_number
            else call.extensions,
        )

    def _picked_up(self, call: Call, event: ev.CallPickedUp) -> Call:
        call = dataclasses.replace(
            call,
            pickups=(*call.pickups, Pickup(by=event.by, from_=event.from_, code=event.code)),
            ringing=_drop(call.ringing, event.from_),
            extensions=_add(call.extensions, event.by),
        )
        return self._answered(call, ev.CallAnswered(call_id=event.call_id, at=event.at, by=event.by))

    @staticmethod
    def _transferred(call: Call, event: ev.CallTransferred) -> Call:
        return dataclasses.replace(
            call,
            transfers=(*call.transfers, Transfer(kind=event.kind, by=event.by, to=event.to)),
            talking=_drop(call.talking, event.by),
            extensions=_add(call.extensions, event.to),
        )

    def _conference_joined(self, call: Call, event: ev.ConferenceJoined) -> Call:
        extensions = call.extensions
        if event.party.extension:
            extensions = _add(extensions, event.party.extension)
        self._rooms.setdefault(event.room, {})[call.call_id] = event.party
        # The room itself answers: the call is in conversation from here, answered by nobody of ours.
        return dataclasses.replace(
            call,
            conference=event.room,
            extensions=extensions,
            state=CallState.TALKING,
            answered_at=call.answered_at or event.at,
        )

    def _conference_left(self, call: Call, event: ev.ConferenceLeft) -> Call:
        self._leave_room(event.room, call.call_id)
        return call

    def _leave_room(self, room: str, call_id: CallId) -> None:
        members = self._rooms.get(room)
        if members is not None:
            members.pop(call_id, None)
            if not members:
                del self._rooms[room]

    @staticmethod
    def _recording(call: Call, event: ev.RecordingStarted | ev.RecordingStopped) -> Call:
        return dataclasses.replace(call, recordings=_add(call.recordings, event.file))

    @staticmethod
    def _listener(call: Call, event: ev.ListenerJoined) -> Call:
        return dataclasses.replace(call, listeners=_add(call.listeners, event.by))

    @staticmethod
    def _ended(call: Call, event: ev.CallEnded) -> Call:
        recordings = call.recordings
        if event.disposition is not Disposition.ANSWERED:
            # Nothing was said, so whatever the PBX wrote is a bare header (a 44-byte WAV on Asterisk).
            recordings = ()
        return dataclasses.replace(
            call,
            state=CallState.ENDED,
            ended_at=event.at,
            disposition=event.disposition,
            cause=event.cause,
            ringing=(),
            talking=(),
            recordings=recordings,
        )

    def _apply_device(self, event: ev.DeviceEvent) -> None:
        device = self._devices.get(event.extension, DeviceState(extension=event.extension))
        if isinstance(event, ev.DeviceRegistered):
            device = dataclasses.replace(device, registered=True, contact=event.contact)
        elif isinstance(event, ev.DeviceUnregistered):
            device = dataclasses.replace(device, registered=False, contact="")
        else:
            device = dataclasses.replace(device, dnd=event.enabled)
        self._devices[event.extension] = device
