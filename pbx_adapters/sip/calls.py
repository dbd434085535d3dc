"""New calls: who is calling (a phone, by digest; the carrier, by address), where the plan sends
the call, and the sessions that carry it out.

A call from one of our phones must prove who it is (407 challenge, the extension's HA1); a call
from the carrier is recognised by its source address only (a From header is no proof) and any
other source gets 403. The routing engine decides with the live facts (who is registered, who
is busy) and the :class:`~pbx_adapters.sip.session.Session` executes the decision.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from config.dialplan_spec import DialplanSpec
from cti import events as ev
from cti.events import CtiEvent
from cti.model import CallId, Direction, Disposition, Party
from cti.numbers import to_e164
from cti.routing import CallFacts, Cause, DecisionKind, External, Phone, RouteDecision, route

from .auth import Authenticator
from .endpoint import SipEndpoint
from .legs import InboundLeg, Leg, OutboundLeg
from .media import MediaEngine
from .message import BadMessage, SipUri
from .registrar import Registrar
from .sdp import AUDIO_CODECS, Sdp, SdpError, parse_sdp
from .session import Session
from .transaction import ServerTransaction

if TYPE_CHECKING:
    from .features import Features
    from .trunk import Trunks

__all__ = ["CAUSE_STATUS", "CallManager"]

log = structlog.get_logger(__name__)

CAUSE_STATUS: dict[Cause, tuple[int, str]] = {
    Cause.BUSY: (486, "Busy Here"),
    Cause.UNAVAILABLE: (480, "Temporarily Unavailable"),
    Cause.CLOSED: (480, "Temporarily Unavailable (closed)"),
    Cause.HANGUP: (480, "Temporarily Unavailable"),
    Cause.NOT_FOUND: (404, "Not Found"),
    Cause.FORBIDDEN: (403, "Forbidden"),
    Cause.NO_ROUTE: (404, "Not Found (no route)"),
    Cause.TOO_DEEP: (500, "Server Internal Error (forwarding loop)"),
}
_SEQUENCE = itertools.count(1)


def new_call_id() -> CallId:
    """Our call ids look like Asterisk's (``<epoch>.<n>``): readable, sortable, safe as a file name."""
    return CallId(f"{int(time.time())}.{next(_SEQUENCE)}")


class CallManager:
    """Take new INVITEs, decide with the running plan, and keep the live sessions."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        engine: MediaEngine,
        registrar: Registrar,
        auth: Authenticator,
        plan: Callable[[], DialplanSpec],
        publish: Callable[[CtiEvent], object],
        recordings: Path,
    ) -> None:
        self.endpoint = endpoint
        self.engine = engine
        self.registrar = registrar
        self.auth = auth
        self.plan = plan
        self.publish = publish
        self.recordings = recordings
        self.sessions: dict[CallId, Session] = {}
        self.last_answered: dict[str, str] = {}
        "Per group: the member who answered its last call (a hunt group starts after them)."
        self.trunks: Trunks | None = None
        self.features: Features
        self._tasks: set[asyncio.Task[None]] = set()
        endpoint.handlers["INVITE"] = self.on_invite

    # -- facts ---------------------------------------------------------------------------------

    def busy(self) -> frozenset[str]:
        return frozenset(ext for session in self.sessions.values() for ext in session.talking)

    def facts(self, caller: str, dialled: str, trunk: str | None = None) -> CallFacts:
        plan = self.plan()
        registered = self.registrar.registered()
        return CallFacts(
            caller=caller,
            dialled=dialled,
            at=datetime.now(UTC),
            trunk=trunk,
            unavailable=frozenset(plan.extensions.keys() - registered),
            busy=self.busy(),
            last_answered=dict(self.last_answered),
        )

    def recording_path(self, call_id: CallId) -> Path:
        day = datetime.now(UTC)
        directory = self.recordings / f"{day:%Y/%m/%d}"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{call_id}.wav"

    @staticmethod
    def offer_codecs(a: Leg) -> tuple[int, ...]:
        """What we offer the called side: the caller's codec first, the other G.711 as well."""
        return (a.codec_pt, *(pt for pt in AUDIO_CODECS if pt != a.codec_pt))

    # -- a new INVITE --------------------------------------------------------------------------

    def on_invite(self, tx: ServerTransaction) -> None:
        trunk = self.trunks.identify(tx.peer.host) if self.trunks is not None else None
        if trunk is None:
            extension = self.auth.authenticate(tx, proxy=True)
            if extension is None:
                return
        try:
            offer = parse_sdp(tx.request.body)
        except SdpError as exc:
            tx.reply(488, f"Not Acceptable Here ({str(exc)[:50]})")
            return
        if not offer.codecs:
            tx.reply(488, "Not Acceptable Here (PCMU or PCMA only)")
            return
        self.spawn(self._start(tx, offer, trunk=trunk, extension=None if trunk else extension))

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run *coroutine* as a task the manager keeps (and cancels at stop)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for session in list(self.sessions.values()):
            session.hangup_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _start(
        self, tx: ServerTransaction, offer: Sdp, *, trunk: str | None, extension: str | None
    ) -> None:
        request = tx.request
        try:
            dialled = SipUri.parse(request.uri).user or request.to.uri.user
            from_ = request.from_
        except BadMessage:
            tx.reply(400, "Bad Request")
            return
        plan = self.plan()
        if trunk is not None:
            number = to_e164(from_.uri.user, plan.default_region) or from_.uri.user
            did = to_e164(dialled, plan.default_region) or dialled
            caller = Party(number=number, name=from_.display)
            decision = route(plan, self.facts(from_.uri.user, did, trunk))
            dialled_text, external, did_value = did, number, did
        else:
            assert extension is not None
            spec = plan.extensions.get(extension)
            caller = Party(number=extension, name=spec.name if spec else "", extension=extension)
            decision = route(plan, self.facts(extension, dialled))
            dialled_text, external, did_value = dialled, None, None
            outside = next((leg for leg in decision.legs() if isinstance(leg, External)), None)
            if decision.kind is DecisionKind.OUTBOUND and outside is not None:
                dialled_text = external = outside.number
        log.info("sip_call", caller=caller.number, dialled=dialled_text, decision=decision.kind.value)
        media = await self.engine.open_leg()
        a = InboundLeg(self.endpoint, media, tx, offer, number=caller.number, extension=caller.extension)
        if a.ended:
            return
        await self._dispatch(a, decision, caller, dialled_text, external, did_value)

    async def _dispatch(
        self,
        a: InboundLeg,
        decision: RouteDecision,
        caller: Party,
        dialled: str,
        external: str | None,
        did: str | None,
    ) -> None:
        kind = decision.kind
        if kind in (DecisionKind.RING, DecisionKind.OUTBOUND):
            session = Session(
                self,
                new_call_id(),
                a,
                decision,
                caller=caller,
                dialled=dialled,
                external_number=external,
                did=did,
            )
            self.sessions[session.call_id] = session
            self.features.watch(session)
            await session.run()
        elif kind is DecisionKind.PICKUP:
            self.features.pickup(a, decision, dialled)
        elif kind in (DecisionKind.LISTEN, DecisionKind.WHISPER, DecisionKind.BARGE):
            self.features.spy(a, decision)
        elif kind is DecisionKind.CONFERENCE:
            await self.features.conference(a, decision, caller, dialled, external, did, new_call_id())
        else:
            self._refused(a, decision, caller, dialled, external, did)

    def _refused(
        self,
        a: InboundLeg,
        decision: RouteDecision,
        caller: Party,
        dialled: str,
        external: str | None,
        did: str | None,
    ) -> None:
        status, reason = CAUSE_STATUS.get(decision.cause or Cause.NOT_FOUND, (404, "Not Found"))
        log.info("sip_call_refused", caller=caller.number, dialled=dialled, reason=decision.reason)
        a.reject(status, reason)
        if decision.kind is DecisionKind.REJECTED:
            return
        call_id, now = new_call_id(), datetime.now(UTC)
        direction = decision.direction
        if decision.cause is Cause.BUSY:
            disposition = Disposition.BUSY
        elif direction is Direction.INBOUND:
            disposition = Disposition.MISSED
        else:
            disposition = Disposition.FAILED
        self.publish(ev.CallStarted(call_id, now, direction, caller, dialled, external, did))
        self.publish(ev.CallEnded(call_id, now, disposition, 17 if disposition is Disposition.BUSY else 16))

    # -- placing the called legs ---------------------------------------------------------------

    async def place(self, session: Session, target: Phone | External) -> list[OutboundLeg]:
        """One leg per registered phone of *target* (or the trunk leg of an outside number)."""
        if isinstance(target, External):
            if self.trunks is None:
                return []
            leg = await self.trunks.place(session, target)
            return [] if leg is None else [leg]
        legs: list[OutboundLeg] = []
        local = self.endpoint.local
        name = session.decision.caller_name or session.caller.name
        number = session.decision.caller_id or session.caller.number
        display = f'"{name}" ' if name else ""
        own = session.a.dialog.peer if session.a.dialog is not None else None
        for binding in self.registrar.contacts(target.extension):
            if binding.peer == own:  # never ring the phone the call comes from
                continue
            media = await self.engine.open_leg()
            legs.append(
                OutboundLeg(
                    self.endpoint,
                    media,
                    number=target.extension,
                    extension=target.extension,
                    target=binding.contact,
                    to=f"<sip:{target.extension}@{local.host}>",
                    from_=f"{display}<sip:{number}@{local.host}>",
                    peer=binding.peer,
                )
            )
        return legs

    def ended(self, session: Session) -> None:
        self.sessions.pop(session.call_id, None)
        self.features.release_rooms()
