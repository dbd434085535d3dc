"""The CTI's call commands on the embedded PBX (the verbs of the ``PbxControl`` port).

Each verb acts on a live session and fails with a cti error that says what is wrong:
``NoSuchCall`` when the call is not live, ``PbxActionFailed`` when the call or the phone cannot
do it (not registered, not in the call), ``PbxUnavailable`` when the PBX is not running. Verbs
that ring a phone first (click-to-call, pickup, spy, adding to a room) return once the phone
rings; what happens next arrives as cti events.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cti import events as ev
from cti.errors import NoSuchCall, PbxActionFailed, PbxUnavailable
from cti.model import CallId, Party
from cti.ports import SpyMode
from cti.routing import DecisionKind, External, RouteDecision, route

from .calls import new_call_id
from .legs import Leg, OutboundLeg
from .media import Conference
from .session import Session

if TYPE_CHECKING:
    from .calls import CallManager
    from .features import Features

__all__ = ["SipControl"]

log = structlog.get_logger(__name__)

RING_FIRST_TIMEOUT = 30.0


class SipControl(ABC):
    calls: CallManager
    features: Features

    @property
    @abstractmethod
    def connected(self) -> bool:
        """True while the PBX is serving (its endpoint and media engine are up)."""

    def _session(self, call_id: CallId) -> Session:
        if not self.connected:
            raise PbxUnavailable("The embedded PBX is not running")
        session = self.calls.sessions.get(call_id)
        if session is None:
            raise NoSuchCall(call_id)
        return session

    @staticmethod
    def _agent(session: Session, by: str | None, verb: str) -> tuple[Leg, Leg]:
        """(our phone's leg in the call, the other party's leg)."""
        for leg, other in ((session.b, session.a), (session.a, session.b)):
            if (
                leg is not None
                and other is not None
                and leg.extension
                and leg.up
                and by in (None, leg.extension)
            ):
                return leg, other
        who = f"extension {by}" if by else "any of our phones"
        raise PbxActionFailed(verb, f"{who} is not talking on call {session.call_id}")

    async def _ring_phone(
        self, extension: str, verb: str, then: Callable[[OutboundLeg], Awaitable[None]]
    ) -> None:
        """Ring *extension*'s phone (us calling it); run *then* with its leg once it answers."""
        if not self.connected:
            raise PbxUnavailable("The embedded PBX is not running")
        bindings = self.calls.registrar.contacts(extension)
        if not bindings:
            raise PbxActionFailed(verb, f"extension {extension} has no registered phone")
        binding = bindings[0]
        local = self.calls.endpoint.local
        media = await self.calls.engine.open_leg()
        leg = OutboundLeg(
            self.calls.endpoint,
            media,
            number=extension,
            extension=extension,
            target=binding.contact,
            to=f"<sip:{extension}@{local.host}>",
            from_=f'"{verb}" <sip:{extension}@{local.host}>',
            peer=binding.peer,
        )

        async def run() -> None:
            response = await leg.invite(self.calls.offer_codecs(leg))
            if 200 <= response.status < 300 and leg.up:
                await then(leg)
            else:
                log.info("sip_ring_first_unanswered", verb=verb, extension=extension, status=response.status)

        self.calls.spawn(run())

    # -- the verbs ---------------------------------------------------------------------------------

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        plan = self.calls.plan()
        if from_extension not in plan.extensions:
            raise PbxActionFailed("originate", f"{from_extension} is not an extension of the plan")
        decision = route(plan, self.calls.facts(from_extension, to_number))
        if decision.kind not in (DecisionKind.RING, DecisionKind.OUTBOUND):
            raise PbxActionFailed("originate", decision.reason or f"{to_number} cannot be called from here")

        async def connected(leg: OutboundLeg) -> None:
            await self._run_originated(leg, decision, from_extension, to_number, caller_id)

        await self._ring_phone(from_extension, "originate", connected)

    async def _run_originated(
        self, leg: OutboundLeg, decision: RouteDecision, from_extension: str, to_number: str, caller_id: str
    ) -> None:
        plan = self.calls.plan()
        name = plan.extensions[from_extension].name
        outside = next((leg.number for leg in decision.legs() if isinstance(leg, External)), None)
        session = Session(
            self.calls,
            new_call_id(),
            leg,
            decision,
            caller=Party(number=caller_id or from_extension, name=name, extension=from_extension),
            dialled=outside or to_number,
            external_number=outside,
            did=None,
        )
        self.calls.sessions[session.call_id] = session
        self.features.watch(session)
        await session.run()

    async def hangup(self, call_id: CallId) -> None:
        self._session(call_id).hangup_all()

    async def blind_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        session = self._session(call_id)
        leg, other = self._agent(session, by, "blind transfer")
        step, reason = self.features.transfers.where(leg, to_extension)
        if step is None:
            raise PbxActionFailed("blind transfer", reason)
        self.calls.spawn(self.features.transfers.blind(session, leg, other, to_extension))

    async def attended_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        session = self._session(call_id)
        leg, _other = self._agent(session, by, "attended transfer")
        self.features.transfers.announced(session, leg, to_extension)

    async def pickup(self, call_id: CallId, by_extension: str) -> None:
        session = self._session(call_id)
        ringing = [leg for leg in session.ringing.legs if leg.rang and not leg.ended and leg.extension]
        if not ringing or session.b is not None:
            raise PbxActionFailed("pickup", f"call {call_id} is not ringing at any phone")

        async def take(leg: OutboundLeg) -> None:
            if session.taken.done() or session.b is not None:
                leg.hangup()
                return
            session.taken.set_result((leg, ringing[0].extension or "", ""))

        await self._ring_phone(by_extension, "pickup", take)

    async def move_to_conference(self, call_id: CallId, room: str) -> None:
        session = self._session(call_id)
        if room not in self.calls.plan().conferences:
            raise PbxActionFailed("conference", f"{room} is not a conference room of the plan")
        conference = self.features.rooms.get(room) or Conference(self.calls.engine, room)
        self.features.rooms[room] = conference
        # A recorded two-party call goes on being recorded in the room, into a file of its own:
        # the two-party file is finished here, the room's when the call ends (Session.stop_recording).
        recorded = session.bridge is not None and session.recording is not None
        if recorded:
            session.stop_recording()
        if session.bridge is not None:
            session.bridge.unbridge()
            session.bridge = None
        now = datetime.now(UTC)
        members = [leg for leg in (session.a, session.b) if leg is not None and leg.up]
        for leg in members:
            conference.add(leg.media)
            party = Party(number=leg.number, extension=leg.extension)
            self.calls.publish(ev.ConferenceJoined(session.call_id, now, room, party))
        if recorded and members:
            first = self.calls.recording_path(session.call_id)
            path = first.with_stem(f"{first.stem}-room-{room}")
            if self.features.record_member(conference, members[0].media, session.call_id, path):
                session.recording = path

    async def add_to_conference(self, room: str, extension: str) -> None:
        if room not in self.calls.plan().conferences:
            raise PbxActionFailed("conference", f"{room} is not a conference room of the plan")

        async def join(leg: OutboundLeg) -> None:
            conference = self.features.rooms.get(room) or Conference(self.calls.engine, room)
            self.features.rooms[room] = conference
            conference.add(leg.media)
            gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            leg.on_bye = lambda _leg: gone.done() or gone.set_result(None)
            await gone
            conference.remove(leg.media)

        await self._ring_phone(extension, "conference", join)

    async def start_recording(self, call_id: CallId, file: str) -> None:
        session = self._session(call_id)
        if session.bridge is None:
            raise PbxActionFailed("record", f"call {call_id} is not connected")
        if session.recording is not None:
            raise PbxActionFailed("record", f"call {call_id} is already being recorded")
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        session.bridge.start_recording(path)
        session.recording = path
        self.calls.publish(ev.RecordingStarted(session.call_id, datetime.now(UTC), str(path)))

    async def stop_recording(self, call_id: CallId) -> None:
        session = self._session(call_id)
        if session.recording is None:
            raise PbxActionFailed("record", f"call {call_id} is not being recorded")
        session.stop_recording()

    async def spy(
        self, call_id: CallId, supervisor: str, mode: SpyMode = "listen", *, on: str | None = None
    ) -> None:
        session = self._session(call_id)
        agent, _other = self._agent(session, on, "spy")
        kind = {"listen": DecisionKind.LISTEN, "whisper": DecisionKind.WHISPER}.get(mode, DecisionKind.BARGE)
        decision = RouteDecision(kind=kind, direction=session.direction, peers=(agent.extension or "",))

        async def listen(leg: OutboundLeg) -> None:
            self.features.spy(leg, decision)

        await self._ring_phone(supervisor, "spy", listen)
