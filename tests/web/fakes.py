"""A fake PBX at the cti port, and builders for the events a real adapter would publish."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cti.events import CallAnswered, CallEnded, CallRinging, CallStarted, CtiEvent
from cti.model import CallId, Direction, Disposition, Party

OWN_DID = "+74951234567"


@dataclass
class FakePbx:
    """In-memory PbxControl: records commands, can be told to fail; tests ``publish`` events through it."""

    publish: Callable[[CtiEvent], object]
    connected: bool = True
    started: bool = False
    stopped: bool = False
    fail_with: Exception | None = None
    originated: list[tuple[str, str]] = field(default_factory=list)
    hung_up: list[CallId] = field(default_factory=list)
    commands: list[tuple[object, ...]] = field(default_factory=list)
    "Every other verb as (name, *arguments), in order."

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.originated.append((from_extension, to_number))

    async def hangup(self, call_id: CallId) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.hung_up.append(call_id)

    async def _command(self, *args: object) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.commands.append(args)

    async def blind_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        await self._command("blind_transfer", call_id, to_extension, by)

    async def attended_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        await self._command("attended_transfer", call_id, to_extension, by)

    async def pickup(self, call_id: CallId, by_extension: str) -> None:
        await self._command("pickup", call_id, by_extension)

    async def move_to_conference(self, call_id: CallId, room: str) -> None:
        await self._command("move_to_conference", call_id, room)

    async def add_to_conference(self, room: str, extension: str) -> None:
        await self._command("add_to_conference", room, extension)

    async def start_recording(self, call_id: CallId, file: str) -> None:
        await self._command("start_recording", call_id)

    async def stop_recording(self, call_id: CallId) -> None:
        await self._command("stop_recording", call_id)

    async def spy(
        self, call_id: CallId, supervisor: str, mode: str = "listen", *, on: str | None = None
    ) -> None:
        await self._command("spy", call_id, supervisor, mode)


def now() -> datetime:
    return datetime.now(UTC)


def inbound(call_id: str, number: str, name: str = "") -> CallStarted:
    """An outside caller dialling our DID."""
    return CallStarted(
        call_id=CallId(call_id),
        at=now(),
        direction=Direction.INBOUND,
        caller=Party(number=number, name=name),
        dialled=OWN_DID,
        external_number=number,
        did=OWN_DID,
    )


def internal(call_id: str, from_extension: str, to_extension: str, name: str = "") -> CallStarted:
    return CallStarted(
        call_id=CallId(call_id),
        at=now(),
        direction=Direction.INTERNAL,
        caller=Party(number=from_extension, name=name, extension=from_extension),
        dialled=to_extension,
    )


def ringing(call_id: str, *extensions: str) -> CallRinging:
    return CallRinging(call_id=CallId(call_id), at=now(), extensions=extensions)


def answered(call_id: str, by: str) -> CallAnswered:
    return CallAnswered(call_id=CallId(call_id), at=now(), by=by)


def ended(call_id: str, disposition: Disposition = Disposition.ANSWERED) -> CallEnded:
    return CallEnded(call_id=CallId(call_id), at=now(), disposition=disposition, cause=16)
