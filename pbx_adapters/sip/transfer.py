"""Transfers: announced (DTMF ``<prefix><ext><terminator>``), blind (REFER) and attended (REFER
with Replaces), all inside one :class:`Session` so the call keeps its id and its caller.

Announced transfer, as the office knows it from its old PBX: the other party waits (hearing a
ringback tone), the transferer talks to the target first; the transferer hanging up completes
the transfer; the target hanging up (or not answering) brings the transferer back to the caller.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

import structlog

from cti import events as ev
from cti.model import TransferKind
from cti.routing import DecisionKind, Phone, Ring, route

from .legs import Leg, OutboundLeg
from .media import Bridge, Tone, bridge
from .message import BadMessage, NameAddr, split_params
from .transaction import ServerTransaction

if TYPE_CHECKING:
    from .calls import CallManager
    from .session import Session

__all__ = ["Transfers"]

log = structlog.get_logger(__name__)

CONSULT_TIMEOUT = 30.0
"Seconds the target of an announced transfer rings before the transferer is given back the call."
MAX_DIGITS = 12


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Consult:
    """An announced transfer in progress."""

    session: Session
    transferer: Leg
    waiting: Leg
    target: str
    leg: OutboundLeg | None = None
    talk: Bridge | None = None
    task: asyncio.Task[None] | None = None


class Transfers:
    def __init__(self, manager: CallManager) -> None:
        self.manager = manager
        self._consults: dict[Leg, _Consult] = {}

    # -- arming: DTMF and REFER ------------------------------------------------------------------

    def arm(self, session: Session, leg: Leg) -> None:
        digits: list[str] = []

        def key(digit: str) -> None:
            codes = self.manager.plan().feature_codes.announced_transfer
            digits.append(digit)
            typed = "".join(digits)
            if (
                not (codes.prefix.startswith(typed) or typed.startswith(codes.prefix))
                or len(typed) > MAX_DIGITS
            ):
                digits.clear()
                if digit == codes.prefix[:1]:
                    digits.append(digit)
                return
            if (
                typed.startswith(codes.prefix)
                and typed.endswith(codes.terminator)
                and len(typed) > len(codes.prefix) + 1
            ):
                digits.clear()
                target = typed[len(codes.prefix) : -len(codes.terminator)]
                self.announced(session, leg, target)

        leg.media.on_dtmf = key
        leg.on_refer = lambda refer_leg, tx: self.refer(session, refer_leg, tx)

    # -- announced transfer ----------------------------------------------------------------------

    def announced(self, session: Session, transferer: Leg, target: str) -> None:
        waiting = session.b if transferer is session.a else session.a
        if waiting is None or transferer in self._consults or not transferer.extension:
            return
        if target not in self.manager.plan().extensions or target == transferer.extension:
            transferer.media.play(Tone.CONGESTION)
            return
        log.info("sip_announced_transfer", call_id=session.call_id, by=transferer.extension, to=target)
        consult = _Consult(session, transferer, waiting, target)
        self._consults[transferer] = consult
        if session.bridge is not None:
            session.bridge.unbridge()
            session.bridge = None
        waiting.media.play(Tone.RINGBACK, loop=True)
        session.publish(ev.CallHeld(session.call_id, _now(), transferer.extension))
        consult.task = asyncio.get_running_loop().create_task(self._consult(consult))

    async def _consult(self, consult: _Consult) -> None:
        session = consult.session
        target = Phone(extension=consult.target, name="", record=False)
        legs = await self.manager.place(session, target)
        if not legs:
            self._give_back(consult)
            return
        consult.leg = legs[0]
        for extra in legs[1:]:
            extra.close_media()
        leg = consult.leg
        leg.on_ringing = lambda _leg: session.publish(
            ev.CallRinging(session.call_id, _now(), (consult.target,))
        )
        try:
            async with asyncio.timeout(CONSULT_TIMEOUT):
                response = await leg.invite(self.manager.offer_codecs(consult.transferer))
        except TimeoutError:
            leg.cancel()
            self._give_back(consult)
            return
        if not (200 <= response.status < 300 and leg.up) or consult.transferer.ended:
            if leg.up:
                leg.hangup()
            self._give_back(consult)
            return
        consult.talk = bridge(consult.transferer.media, leg.media)
        session.publish(ev.CallAnswered(session.call_id, _now(), consult.target))
        leg.on_bye = lambda _leg: self._give_back(consult)

    def _give_back(self, consult: _Consult) -> None:
        """The target is not there (or hung up): the transferer talks to the caller again."""
        if self._consults.pop(consult.transferer, None) is None:
            return
        session = consult.session
        if consult.talk is not None:
            consult.talk.unbridge()
        if consult.leg is not None and not consult.leg.ended:
            consult.leg.hangup() if consult.leg.up else consult.leg.cancel()
        consult.waiting.media.stop_playing()
        if consult.transferer.ended:
            session.hangup_all()
            return
        session.bridge = bridge(session.a.media, session.b.media) if session.b is not None else None
        session.publish(ev.CallResumed(session.call_id, _now(), consult.transferer.extension or ""))

    def on_hangup(self, session: Session, leg: Leg) -> bool:
        consult = self._consults.get(leg)
        if consult is None:
            return False
        if consult.leg is None or not consult.leg.up:  # hung up while the target rings: blonde
            if consult.task is not None:
                consult.task.cancel()
            self._consults.pop(leg, None)
            if consult.leg is not None:
                consult.leg.cancel()
            session.hangup_all()
            return True
        self._consults.pop(leg, None)
        if consult.talk is not None:
            consult.talk.unbridge()
        self._complete(session, leg, consult.waiting, consult.leg, TransferKind.ATTENDED)
        return True

    def _complete(
        self, session: Session, transferer: Leg, waiting: Leg, target: Leg, kind: TransferKind
    ) -> None:
        waiting.media.stop_playing()
        session.stop_recording()
        if transferer is session.a:
            session.a, session.b = waiting, None
        session.publish(
            ev.CallTransferred(
                session.call_id, _now(), kind, transferer.extension or "", target.extension or ""
            )
        )
        session.connect(target, announce=False)
        self.arm(session, target)

    # -- REFER -----------------------------------------------------------------------------------

    def refer(self, session: Session, leg: Leg, tx: ServerTransaction) -> None:
        try:
            refer_to = NameAddr.parse(tx.request.header("Refer-To"))
        except BadMessage:
            tx.reply(400, "Bad Request (Refer-To)")
            return
        waiting = session.b if leg is session.a else session.a
        if waiting is None or not leg.extension:
            tx.reply(603, "Declined")
            return
        tx.reply(202, "Accepted")
        self._notify(leg, "100 Trying")
        replaces = _replaces(tx.request.header("Refer-To"))
        if replaces is not None:
            self._attended_refer(session, leg, waiting, replaces)
        else:
            self.manager.spawn(self.blind(session, leg, waiting, refer_to.uri.user, refer=True))

    def _notify(self, leg: Leg, status: str) -> None:
        leg.send_in_dialog(
            "NOTIFY",
            body=f"SIP/2.0 {status}\r\n".encode(),
            content_type="message/sipfrag;version=2.0",
            headers={
                "Event": "refer",
                "Subscription-State": "terminated;reason=noresource"
                if not status.startswith("1")
                else "active",
            },
        )

    async def blind(
        self, session: Session, transferer: Leg, waiting: Leg, target: str, *, refer: bool = False
    ) -> None:
        """Send *waiting* to *target* at once; *transferer* leaves (told by NOTIFY when it REFERred).

        *target* is routed as if the transferer dialled it (its permissions, the target's forwards,
        a group number, an outside number through the trunk); the first ring step is rung.
        """
        step, reason = self.where(transferer, target)
        if step is None:
            log.info("sip_blind_transfer_refused", call_id=session.call_id, to=target, reason=reason)
            if refer:
                self._notify(transferer, "403 Forbidden")
            return
        log.info("sip_blind_transfer", call_id=session.call_id, by=transferer.extension, to=target)
        if session.bridge is not None:
            session.bridge.unbridge()
            session.bridge = None
        session.stop_recording()
        if refer:
            self._notify(transferer, "200 OK")
        transferer.on_bye = lambda _leg: None
        transferer.hangup()
        if transferer is session.a:
            session.a, session.b = waiting, None
        else:
            session.b = None
        session.publish(
            ev.CallTransferred(
                session.call_id, _now(), TransferKind.BLIND, transferer.extension or "", target
            )
        )
        waiting.media.play(Tone.RINGBACK, loop=True)
        winner = await self._ring_first(session, waiting, step)
        if winner is None or waiting.ended:
            session.hangup_all()
            return
        waiting.media.stop_playing()
        session.publish(ev.CallAnswered(session.call_id, _now(), winner.extension or target))
        session.connect(winner, announce=False)
        self.arm(session, winner)

    def where(self, transferer: Leg, target: str) -> tuple[Ring | None, str]:
        """The ring step a blind transfer to *target* by *transferer* would ring, or (None, why not)."""
        decision = route(self.manager.plan(), self.manager.facts(transferer.extension or "", target))
        step = next((s for s in decision.steps if isinstance(s, Ring)), None)
        if decision.kind not in (DecisionKind.RING, DecisionKind.OUTBOUND) or step is None:
            return None, decision.reason or f"{target} cannot be reached"
        return step, ""

    async def _ring_first(self, session: Session, waiting: Leg, step: Ring) -> OutboundLeg | None:
        """Ring every leg of *step* (at most CONSULT_TIMEOUT); the first to answer, others cancelled."""
        legs = [leg for target in step.legs for leg in await self.manager.place(session, target)]
        if not legs:
            return None
        tasks = [asyncio.create_task(leg.invite(self.manager.offer_codecs(waiting))) for leg in legs]
        for leg in legs:
            if leg.extension:
                extension = leg.extension
                leg.on_ringing = lambda _leg, ext=extension: session.publish(
                    ev.CallRinging(session.call_id, _now(), (ext,))
                )
        winner: OutboundLeg | None = None
        timeout = min(step.timeout or CONSULT_TIMEOUT, CONSULT_TIMEOUT)
        for next_done in asyncio.as_completed(tasks, timeout=timeout):
            try:
                response = await next_done
            except TimeoutError:
                break
            answered = next((leg for leg in legs if leg.up), None)
            if response.status < 300 and answered is not None:
                winner = answered
                break
        for leg in legs:
            if leg is not winner:
                leg.cancel()
        return winner

    def _attended_refer(
        self, session: Session, transferer: Leg, waiting: Leg, replaces: tuple[str, str, str]
    ) -> None:
        """The phone's own attended transfer: the consult call's other party replaces the transferer."""
        found = self._replaced(replaces)
        if found is None or found[0] is session:
            self._notify(transferer, "481 Call/Transaction Does Not Exist")
            return
        other_session, consult_transferer = found
        target = other_session.b if consult_transferer is other_session.a else other_session.a
        if target is None:
            self._notify(transferer, "481 Call/Transaction Does Not Exist")
            return
        log.info("sip_attended_refer", call_id=session.call_id, by=transferer.extension, to=target.extension)
        # Take the target out of the consult call without hanging it up; end that call's other leg.
        if other_session.bridge is not None:
            other_session.bridge.unbridge()
            other_session.bridge = None
        if target is other_session.a:
            other_session.a = consult_transferer
        other_session.b = None
        consult_transferer.on_bye = lambda _leg: None
        consult_transferer.hangup()
        other_session.hangup_all()
        if session.bridge is not None:
            session.bridge.unbridge()
            session.bridge = None
        self._notify(transferer, "200 OK")
        transferer.on_bye = lambda _leg: None
        transferer.hangup()
        self._complete(session, transferer, waiting, target, TransferKind.ATTENDED)

    def _replaced(self, replaces: tuple[str, str, str]) -> tuple[Session, Leg] | None:
        """The session and leg whose dialog the Replaces names (Call-ID, and both tags when given)."""
        call_id, to_tag, from_tag = replaces
        tags = {tag for tag in (to_tag, from_tag) if tag}
        for candidate in self.manager.sessions.values():
            for leg in (candidate.a, candidate.b):
                if leg is None or leg.dialog is None or leg.dialog.call_id != call_id:
                    continue
                if not tags or tags <= {leg.dialog.local_tag, leg.dialog.remote_tag}:
                    return candidate, leg
        return None


def _replaces(refer_to: str) -> tuple[str, str, str] | None:
    """(call-id, to-tag, from-tag) from ``<sip:x@y?Replaces=id%3Bto-tag%3Da%3Bfrom-tag%3Db>``."""
    _, question, headers = refer_to.partition("?")
    if not question:
        return None
    for header in headers.rstrip(">").split("&"):
        name, _, value = header.partition("=")
        if name.lower() == "replaces":
            call_id, params = split_params(unquote(value))
            return call_id, params.get("to-tag", ""), params.get("from-tag", "")
    return None
