"""What the routing engine is told about a call, and what it decides: plain frozen values.

A decision is complete enough to execute without the plan: the embedded PBX rings each
:class:`Ring` step in order (all its legs at once, for its timeout), moves on when nobody answers,
and hangs up when the steps run out; the Asterisk renderer writes the same steps as ``Dial()``s.
Busy phones and phones that are not registered were already taken into account from the facts
(their forwards applied); a leg that turns out busy or unreachable at ring time is simply a leg
that did not answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cti.model import Direction

__all__ = [
    "CallFacts",
    "Cause",
    "DecisionKind",
    "External",
    "JoinConference",
    "Leg",
    "Phone",
    "Ring",
    "RouteDecision",
    "Step",
    "Via",
]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """One call as the PBX sees it when it must decide where the call goes."""

    caller: str
    "An extension (``'101'``), or the outside number as the trunk sent it."
    dialled: str
    "What was dialled (extension, group number, room, feature code, outside number); the DID inbound."
    at: datetime
    "When the call arrived; must be aware."
    trunk: str | None = None
    "Set for inbound calls: the trunk the call came in on (then ``dialled`` is the DID)."
    responsible: str | None = None
    "The extension of the caller's responsible manager, when the CRM knows the caller."
    unavailable: frozenset[str] = frozenset()
    "Extensions not registered right now (empty when the PBX cannot tell)."
    busy: frozenset[str] = frozenset()
    "Extensions in a call right now."
    last_answered: Mapping[str, str] = field(default_factory=dict, hash=False)
    "Per hunt group name: the member who answered its last call (the hunt starts after them)."

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"CallFacts.at must be an aware datetime, got {self.at.isoformat()}")


class DecisionKind(StrEnum):
    RING = "ring"
    "Ring the steps in order (phones, and outside numbers for forwards)."
    CONFERENCE = "conference"
    "Put the caller in a conference room (the first step)."
    OUTBOUND = "outbound"
    "A phone dialled an outside (or emergency) number: one step, through a trunk."
    PICKUP = "pickup"
    "Take a call ringing at one of ``peers``."
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    "Supervisor features on the current call of ``peers[0]``."
    HANGUP = "hangup"
    "Nothing to ring: hang up with ``cause``."
    REJECTED = "rejected"
    "The call is refused before any routing (unknown number, permission, unknown trunk)."


class Cause(StrEnum):
    """Why nothing rang, for the answer the caller gets (SIP code / tone)."""

    BUSY = "busy"
    "486 Busy Here."
    UNAVAILABLE = "unavailable"
    "480: the phones are off, on do-not-disturb or disabled."
    CLOSED = "closed"
    "The schedule is closed and the route says nothing for that time."
    HANGUP = "hangup"
    "The plan says hang up."
    NOT_FOUND = "not_found"
    "404: nothing answers to the number."
    FORBIDDEN = "forbidden"
    "403: the caller may not make this call."
    NO_ROUTE = "no_route"
    "No outbound route or trunk reaches the number."
    TOO_DEEP = "too_deep"
    "Forwards nest deeper than the engine follows (a plan the validator should have refused)."


@dataclass(frozen=True, slots=True)
class Phone:
    """One of our phones to ring."""

    extension: str
    name: str
    record: bool
    "Record the conversation if this phone answers."


@dataclass(frozen=True, slots=True)
class Via:
    """One trunk to try for an outside number, with the number presented on it."""

    trunk: str
    caller_id: str | None


@dataclass(frozen=True, slots=True)
class External:
    """An outside number, dialled through the first trunk of ``via`` that takes the call."""

    number: str
    "The number in E.164 when it is one (for the CRM), else as dialled."
    dial: str
    "The number as sent to the trunk (the route's strip and prefix applied)."
    via: tuple[Via, ...]
    "The route's trunk, then its failover (then, for emergency numbers, every other trunk)."
    route: str
    "The outbound route used, by name or position (``'#2'``)."
    record: bool
    for_extension: str | None = None
    "The extension whose forward (e.g. to its mobile) this is; None for a call dialled by a phone."


Leg = Phone | External


@dataclass(frozen=True, slots=True)
class Ring:
    """Ring every leg at once; the first to answer takes the call."""

    legs: tuple[Leg, ...]
    timeout: int | None
    "Seconds before the next step; None: until the caller gives up (outbound calls)."
    why: str
    group: str | None = None
    "The group whose members ring here; the PBX remembers who answers (``CallFacts.last_answered``)."


@dataclass(frozen=True, slots=True)
class JoinConference:
    """Put the caller into a conference room; always the last step."""

    room: str
    name: str
    pin_required: bool
    record: bool
    why: str


Step = Ring | JoinConference


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one call goes, in order, and why (``explanation``: the lines ``explain`` prints)."""

    kind: DecisionKind
    direction: Direction
    steps: tuple[Step, ...] = ()
    caller_id: str | None = None
    "The number our phones show for the caller (E.164 for outside callers, else the extension)."
    caller_name: str | None = None
    "The name shown with it: the calling extension's name, or the inbound route's label."
    peers: tuple[str, ...] = ()
    "Pickup: the extensions whose ringing call may be taken; listen/whisper/barge: the one watched."
    cause: Cause | None = None
    "For ``hangup`` and ``rejected``."
    reason: str | None = None
    "For ``hangup`` and ``rejected``, in words (e.g. ``'101 may not call 0044...'``)."
    explanation: tuple[str, ...] = ()

    def legs(self) -> tuple[Leg, ...]:
        """Every leg of every ring step, in order."""
        return tuple(leg for step in self.steps if isinstance(step, Ring) for leg in step.legs)
