"""One customer conversation through the B2BUA, from the caller's INVITE to the last BYE.

A :class:`Session` runs the routing decision's steps in order: each ring step forks an INVITE to
every phone (every registered contact) and outside number of the step at once; the first to
answer takes the call, the others are cancelled. Then the caller's leg and the answering leg are
bridged through the relay (recorded when the plan says so) until one side hangs up. Pickup and
transfers replace the answering side without ending the session, so the call id stays the same.

Every change is published as the same cti events the Asterisk adapter emits for the same
scenario (CallStarted, CallRinging, CallAnswered, RecordingStarted/Stopped, CallEnded...).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cti import events as ev
from cti.events import CtiEvent
from cti.model import CallId, Direction, Disposition, Party
from cti.routing import External, Phone, Ring, RouteDecision

from .legs import InboundLeg, Leg, OutboundLeg
from .media import Bridge, Conference, bridge

if TYPE_CHECKING:
    from .calls import CallManager

__all__ = ["Session", "SessionFlags"]

log = structlog.get_logger(__name__)

CAUSE_NORMAL, CAUSE_BUSY, CAUSE_NO_ANSWER, CAUSE_UNAVAILABLE = 16, 17, 19, 20
BUSY_CODES = {486, 600}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SessionFlags:
    """What the disposition is decided from (the same rules as the Asterisk tracker)."""

    answered: bool = False
    ever_rang: bool = False
    busy: bool = False
    failed: bool = False
    cause: int | None = None

    def disposition(self, direction: Direction) -> Disposition:
        if self.answered:
            return Disposition.ANSWERED
        if direction is Direction.OUTBOUND:
            if self.busy:
                return Disposition.BUSY
            return Disposition.FAILED if self.failed and not self.ever_rang else Disposition.ABANDONED
        if self.ever_rang:
            return Disposition.MISSED
        if self.busy:
            return Disposition.BUSY
        if self.failed:
            return Disposition.FAILED
        return Disposition.MISSED


@dataclass(slots=True)
class _Ringing:
    legs: dict[OutboundLeg, asyncio.Task[object]] = field(default_factory=dict)
    phones: dict[OutboundLeg, Phone | External] = field(default_factory=dict)


class Session:
    """The B2BUA's view of one call: the caller's leg ``a``, the answering leg ``b``."""

    def __init__(
        self,
        manager: CallManager,
        call_id: CallId,
        a: Leg,
        decision: RouteDecision,
        *,
        caller: Party,
        dialled: str,
        external_number: str | None,
        did: str | None,
    ) -> None:
        self.manager = manager
        self.call_id = call_id
        self.a: Leg = a
        self.b: Leg | None = None
        self.decision = decision
        self.direction = decision.direction
        self.caller = caller
        self.dialled = dialled
        self.external_number = external_number
        self.did = did
        self.flags = SessionFlags()
        self.ringing = _Ringing()
        self.rang_at: set[str] = set()
        "Extensions ringing right now (what CallRinging / RingingStopped were published for)."
        self.bridge: Bridge | None = None
        self.recording: Path | None = None
        self.answered_by: str | None = None
        loop = asyncio.get_running_loop()
        self.abort: asyncio.Future[str] = loop.create_future()
        "Set when the caller gives up (CANCEL) or the CTI hangs up before an answer."
        self.taken: asyncio.Future[tuple[Leg, str, str]] = loop.create_future()
        "A pickup: (the picker's leg, the extension it was taken from, the code dialled)."
        self.finished: asyncio.Future[None] = loop.create_future()
        self.on_connected: Callable[[Session], None] = lambda _s: None
        self.spies: list[tuple[Conference, Leg]] = []
        "Supervisors listening in (their room replaces the bridge while they are there)."
        if isinstance(a, InboundLeg):
            a.cancelled.add_done_callback(lambda _f: self._abort("cancel"))
        a.on_bye = self._bye
        a.on_hold = self._hold

    # -- helpers -------------------------------------------------------------------------------

    def publish(self, event: CtiEvent) -> None:
        self.manager.publish(event)

    def _abort(self, why: str) -> None:
        if not self.abort.done():
            self.abort.set_result(why)

    @property
    def talking(self) -> tuple[str, ...]:
        """Our extensions in conversation right now (for busy facts and the CTI)."""
        return tuple(
            leg.extension for leg in (self.a, self.b) if leg is not None and leg.extension and leg.up
        )

    # -- the life of the call --------------------------------------------------------------------

    async def run(self) -> None:
        self.publish(
            ev.CallStarted(
                self.call_id,
                _now(),
                self.direction,
                self.caller,
                self.dialled,
                self.external_number,
                self.did,
            )
        )
        try:
            for step in self.decision.steps:
                if self.abort.done() or not isinstance(step, Ring):
                    break
                winner = await self._ring(step)
                if winner is not None:
                    await self._talk(winner)
                    return
            self._refuse()
        except Exception:
            log.exception("sip_session_failed", call_id=self.call_id)
            self.hangup_all()
        finally:
            self._end()

    def _refuse(self) -> None:
        a = self.a
        if not isinstance(a, InboundLeg):
            a.hangup()  # a phone we rang first (click-to-call): nobody to connect it to
        else:
            if self.flags.busy and not self.flags.ever_rang:
                a.reject(486, "Busy Here")
                self.flags.cause = CAUSE_BUSY
            elif self.flags.ever_rang:
                a.reject(480, "Temporarily Unavailable")
                self.flags.cause = self.flags.cause or CAUSE_NO_ANSWER
            else:
                a.reject(480, "Temporarily Unavailable")
                self.flags.cause = self.flags.cause or CAUSE_UNAVAILABLE

    async def _ring(self, step: Ring) -> Leg | None:
        """Ring every leg of *step* at once; the answering leg, or None (timeout, all failed, gone)."""
        self.ringing = _Ringing()
        for target in step.legs:
            for leg in await self.manager.place(self, target):
                leg.on_ringing = self._leg_ringing
                self.ringing.phones[leg] = target
                self.ringing.legs[leg] = asyncio.create_task(leg.invite(self.manager.offer_codecs(self.a)))
        if not self.ringing.legs:
            self.flags.failed = True
            return None
        loop = asyncio.get_running_loop()
        deadline = None if step.timeout is None else loop.time() + step.timeout
        pending: set[asyncio.Future[object]] = set(self.ringing.legs.values())
        try:
            while pending:
                remaining = None if deadline is None else max(0.0, deadline - loop.time())
                waiting = pending | {self.abort, self.taken}
                done, _ = await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if self.taken.done():
                    picker, from_, code = self.taken.result()
                    self._cancel_ringing()
                    self._picked_up(picker, from_, code)
                    return picker
                if self.abort.done() or not done:
                    self._cancel_ringing()
                    return None
                for task in done:
                    pending.discard(task)
                    winner = self._result(task)
                    if winner is not None:
                        self.rang_at.discard(winner.extension or "")  # it answered: no "stopped ringing"
                        self._cancel_ringing(except_=winner)
                        if step.group is not None and winner.extension:
                            self.manager.last_answered[step.group] = winner.extension
                        return winner
            return None
        finally:
            self._stop_ringing(tuple(self.rang_at))

    def _result(self, task: asyncio.Future[object]) -> OutboundLeg | None:
        leg = next(leg for leg, t in self.ringing.legs.items() if t is task)
        response = task.result()
        status = getattr(response, "status", 500)
        if 200 <= status < 300 and leg.up:
            return leg
        if status in BUSY_CODES:
            self.flags.busy = True
        elif status not in (487,) and not leg.rang:
            self.flags.failed = True
        if leg.extension and leg.extension in self.rang_at and not self._still_ringing(leg.extension, leg):
            self._stop_ringing((leg.extension,))
        return None

    def _still_ringing(self, extension: str, but: OutboundLeg) -> bool:
        return any(
            other is not but and other.extension == extension and not other.ended
            for other in self.ringing.legs
        )

    def _leg_ringing(self, leg: OutboundLeg) -> None:
        self.flags.ever_rang = True
        if isinstance(self.a, InboundLeg):
            self.a.ringing()
        if leg.extension and leg.extension not in self.rang_at:
            self.rang_at.add(leg.extension)
            self.publish(ev.CallRinging(self.call_id, _now(), (leg.extension,)))

    def _stop_ringing(self, extensions: tuple[str, ...]) -> None:
        gone = tuple(ext for ext in extensions if ext in self.rang_at and ext != self.answered_by)
        for ext in gone:
            self.rang_at.discard(ext)
        self.rang_at -= set(extensions)
        if gone:
            self.publish(ev.RingingStopped(self.call_id, _now(), gone))

    def _cancel_ringing(self, *, except_: Leg | None = None) -> None:
        for leg, task in self.ringing.legs.items():
            if leg is except_:
                continue
            if task.done() and leg.up:
                leg.hangup()  # answered too, a moment too late: hang it up
            else:
                leg.cancel()

    def _picked_up(self, picker: Leg, from_: str, code: str) -> None:
        self.answered_by = picker.extension
        self.rang_at.discard(from_)
        self.publish(ev.CallAnswered(self.call_id, _now(), picker.extension or picker.number))
        self.publish(ev.CallPickedUp(self.call_id, _now(), picker.extension or "", from_, code))
        self.flags.answered = True

    async def _talk(self, winner: Leg) -> None:
        self.connect(winner)
        await self.finished

    def connect(self, other: Leg, *, announce: bool = True) -> None:
        """Make *other* the answering side: answer the caller, bridge the audio, record."""
        self.b = other
        other.on_bye = self._bye
        other.on_hold = self._hold
        if isinstance(other, InboundLeg):
            other.answer()  # a picker's or a transfer target's own call to us
        if isinstance(self.a, InboundLeg):
            self.a.answer()
        if self.bridge is not None:
            self.bridge.unbridge()
        self.bridge = bridge(self.a.media, other.media)
        record = self._records(other)
        first = not self.flags.answered
        self.flags.answered = True
        if announce and first:
            self.answered_by = self._answerer(other)
            self.publish(ev.CallAnswered(self.call_id, _now(), self.answered_by))
        if record:
            self._start_recording()
        self.on_connected(self)

    def _answerer(self, leg: Leg) -> str:
        if leg.extension:
            return leg.extension
        target = self.ringing.phones.get(leg) if isinstance(leg, OutboundLeg) else None
        if isinstance(target, External) and target.for_extension:
            return target.for_extension
        return self.caller.extension or leg.number

    def _records(self, leg: Leg) -> bool:
        target = self.ringing.phones.get(leg) if isinstance(leg, OutboundLeg) else None
        if target is not None:
            return target.record
        return any(target.record for target in self.decision.legs())

    def _start_recording(self) -> None:
        if self.bridge is None or self.recording is not None:
            return
        path = self.manager.recording_path(self.call_id)
        self.bridge.start_recording(path)
        self.recording = path
        self.publish(ev.RecordingStarted(self.call_id, _now(), str(path)))

    def stop_recording(self) -> None:
        if self.recording is None:
            return
        path, self.recording = self.recording, None
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                self.bridge.stop_recording()
        self.publish(ev.RecordingStopped(self.call_id, _now(), str(path)))

    def _hold(self, leg: Leg, on: bool) -> None:
        """A phone put the call on hold (re-INVITE sendonly/inactive) or took it back."""
        leg.media.hold(on)  # it does not want our audio while it holds
        by = leg.extension or leg.number
        self.publish((ev.CallHeld if on else ev.CallResumed)(self.call_id, _now(), by))

    def _bye(self, leg: Leg) -> None:
        """One side hung up: hang up the other, unless a feature takes the call elsewhere."""
        if self.manager.features.on_hangup(self, leg):
            return
        self.flags.cause = self.flags.cause or CAUSE_NORMAL
        self.hangup_all()

    def hangup_all(self) -> None:
        self._abort("hangup")
        for leg in (self.a, self.b, *self.ringing.legs):
            if leg is None:
                continue
            if isinstance(leg, OutboundLeg) and not leg.up:
                leg.cancel()
            elif isinstance(leg, InboundLeg) and not leg.up:
                leg.reject(480, "Temporarily Unavailable")
            else:
                leg.hangup()
        if not self.finished.done():
            self.finished.set_result(None)

    def _end(self) -> None:
        self.stop_recording()
        for room, spy in self.spies:
            spy.hangup()
            room.close()
        if self.bridge is not None:
            self.bridge.unbridge()
            self.bridge = None
        for leg in (self.a, self.b):
            if leg is not None and not leg.ended and not leg.up:
                leg.hangup()
        self._stop_ringing(tuple(self.rang_at))
        self.publish(
            ev.CallEnded(self.call_id, _now(), self.flags.disposition(self.direction), self.flags.cause)
        )
        self.manager.ended(self)
        if not self.finished.done():
            self.finished.set_result(None)
