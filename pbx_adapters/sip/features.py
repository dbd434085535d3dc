"""Feature codes and rooms: pickup (``*11`` / ``40``), supervisor listen / whisper / barge,
conference rooms, and the in-call DTMF that starts an announced transfer.

Each feature acts on a live :class:`Session` and publishes what the Asterisk adapter publishes
for the same thing (CallPickedUp, ListenerJoined/Left, ConferenceJoined/Left...), so the CRM and
the screen-pops cannot tell the two PBX modes apart.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cti import events as ev
from cti.model import CallId, Direction, Disposition, Party
from cti.routing import DecisionKind, JoinConference, RouteDecision

from .legs import InboundLeg, Leg, OutboundLeg
from .media import Conference, RecordingFailed, Tone
from .transfer import Transfers

if TYPE_CHECKING:
    from .calls import CallManager
    from .media import MediaLeg
    from .session import Session

__all__ = ["Features"]

log = structlog.get_logger(__name__)

PIN_TRIES = 3
PIN_TIMEOUT = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


class Features:
    """What a call can do beyond ringing and talking."""

    def __init__(self, manager: CallManager) -> None:
        self.manager = manager
        self.rooms: dict[str, Conference] = {}
        self.transfers = Transfers(manager)
        manager.features = self

    # -- hooks the session calls -------------------------------------------------------------

    def watch(self, session: Session) -> None:
        """Listen for the announced-transfer code and REFERs once the call is connected."""
        session.on_connected = self._connected

    def _connected(self, session: Session) -> None:
        for leg in (session.a, session.b):
            if leg is not None and leg.extension:
                self.transfers.arm(session, leg)

    def release_rooms(self) -> None:
        """Close the rooms nobody is in any more (after a call the CTI moved into one ended)."""
        for name, room in list(self.rooms.items()):
            if room.members == 0:
                room.close()
                del self.rooms[name]

    def on_hangup(self, session: Session, leg: Leg) -> bool:
        """A leg hung up: True when a feature carries the call on (a transfer completing)."""
        return self.transfers.on_hangup(session, leg)

    # -- pickup ----------------------------------------------------------------------------------

    def pickup(self, picker: InboundLeg, decision: RouteDecision, code: str) -> None:
        """Take the call ringing longest at one of ``decision.peers`` onto the picker's phone."""
        for session in self.manager.sessions.values():
            if session.taken.done() or session.b is not None:
                continue
            ringing = [
                leg
                for leg in session.ringing.legs
                if isinstance(leg, OutboundLeg)
                and leg.rang
                and not leg.ended
                and leg.extension in decision.peers
            ]
            if ringing and ringing[0].extension is not None:
                log.info("sip_pickup", by=picker.extension, from_=ringing[0].extension, code=code)
                session.taken.set_result((picker, ringing[0].extension, code))
                return
        log.info("sip_pickup_nothing_ringing", by=picker.extension, code=code)
        picker.reject(480, "Temporarily Unavailable (nothing to pick up)")

    # -- supervisor ------------------------------------------------------------------------------

    def spy(self, supervisor: Leg, decision: RouteDecision) -> None:
        """Listen to (whisper into, barge into) the call of ``decision.peers[0]``."""
        watched = decision.peers[0] if decision.peers else ""
        session = next((s for s in self.manager.sessions.values() if watched in s.talking), None)
        if session is None or session.b is None:
            supervisor.reject(480, "Temporarily Unavailable (not in a call)")
            return
        mode = {DecisionKind.LISTEN: "listen", DecisionKind.WHISPER: "whisper"}.get(decision.kind, "barge")
        agent = session.a if session.a.extension == watched else session.b
        room = Conference(self.manager.engine, f"spy-{session.call_id}")
        # The call goes on in the room: a recorded call goes on being recorded, in a file of its own
        # (the two-party file ends here; the room's when the call ends). A whisper is not in it.
        recorded = session.bridge is not None and session.recording is not None
        if recorded:
            session.stop_recording()
        if session.bridge is not None:
            session.bridge.unbridge()
            session.bridge = None
        room.add(session.a.media)
        room.add(session.b.media)
        if recorded:
            first = self.manager.recording_path(session.call_id)
            path = first.with_stem(f"{first.stem}-supervised")
            if self.record_member(room, session.a.media, session.call_id, path):
                session.recording = path
        if mode == "listen":
            room.add(supervisor.media, mode="listen")
        elif mode == "whisper":
            room.add(supervisor.media, mode="whisper", whisper_to=agent.media)
        else:
            room.add(supervisor.media)
        supervisor.answer()
        by = supervisor.extension or supervisor.number
        self.manager.publish(ev.ListenerJoined(session.call_id, _now(), by, mode))

        def left(_leg: Leg) -> None:
            room.remove(supervisor.media)
            self.manager.publish(ev.ListenerLeft(session.call_id, _now(), by))

        supervisor.on_bye = left
        session.spies.append((room, supervisor))

    # -- conference rooms ------------------------------------------------------------------------

    async def conference(
        self,
        a: InboundLeg,
        decision: RouteDecision,
        caller: Party,
        dialled: str,
        external: str | None,
        did: str | None,
        call_id: CallId,
    ) -> None:
        step = decision.steps[0]
        assert isinstance(step, JoinConference)
        self.manager.publish(
            ev.CallStarted(call_id, _now(), decision.direction, caller, dialled, external, did)
        )
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        a.on_bye = lambda _leg: gone.done() or gone.set_result(None)
        a.cancelled.add_done_callback(lambda _f: gone.done() or gone.set_result(None))
        a.answer()
        joined = stopping = False
        if step.pin_required and not await self._pin(a, step.room, gone):
            a.hangup()
        elif not gone.done():
            room = self.rooms.get(step.room) or Conference(self.manager.engine, step.room)
            self.rooms[step.room] = room
            room.add(a.media)
            joined = True
            self.manager.publish(ev.ConferenceJoined(call_id, _now(), step.room, caller))
            if step.record:
                self.record_member(room, a.media, call_id, self.manager.recording_path(call_id))
            try:
                await gone
            except asyncio.CancelledError:  # the PBX is stopping: end the call as if it hung up
                stopping = True
            self.stop_member_recording(room, a.media, call_id)
            room.remove(a.media)
            self.manager.publish(ev.ConferenceLeft(call_id, _now(), step.room, caller))
            if room.members == 0:
                room.close()
                if self.rooms.get(step.room) is room:
                    del self.rooms[step.room]
        a.hangup()
        disposition = Disposition.ANSWERED if joined or a.up else Disposition.MISSED
        if decision.direction is Direction.INTERNAL and not joined:
            disposition = Disposition.FAILED
        self.manager.publish(ev.CallEnded(call_id, _now(), disposition, 16))
        if stopping:
            raise asyncio.CancelledError

    def record_member(self, room: Conference, media: MediaLeg, call_id: CallId, path: Path) -> bool:
        """Record what *room* says into *call_id*'s file while *media*'s member is in it.

        A file that cannot be written is logged and the call goes on unrecorded (False).
        """
        try:
            room.start_recording(path, for_leg=media)
        except RecordingFailed as exc:
            log.warning("sip_conference_recording_failed", room=room.name, call_id=call_id, error=str(exc))
            return False
        self.manager.publish(ev.RecordingStarted(call_id, _now(), str(path)))
        return True

    def stop_member_recording(self, room: Conference, media: MediaLeg, call_id: CallId) -> None:
        """Finish *media*'s recording of *room* (if one ran) and say so for *call_id*."""
        path = room.stop_recording(for_leg=media)
        if path is not None:
            self.manager.publish(ev.RecordingStopped(call_id, _now(), str(path)))

    async def _pin(self, leg: InboundLeg, room: str, gone: asyncio.Future[None]) -> bool:
        """Ask for the room's PIN by DTMF (a beep, digits, ``#``); three tries."""
        conference = self.manager.plan().conferences.get(room)
        expected = conference.pin if conference else None
        for _ in range(PIN_TRIES):
            digits: list[str] = []
            entered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

            def key(digit: str, digits: list[str] = digits, entered: asyncio.Future[str] = entered) -> None:
                if digit == "#":
                    if not entered.done():
                        entered.set_result("".join(digits))
                else:
                    digits.append(digit)

            leg.media.on_dtmf = key
            leg.media.play(Tone.BEEP)
            await asyncio.wait({entered, gone}, timeout=PIN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            leg.media.on_dtmf = None
            if gone.done():
                return False
            if entered.done() and entered.result() == expected:
                return True
            log.info("sip_conference_wrong_pin", room=room, extension=leg.extension)
        return False
