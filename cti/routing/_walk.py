"""Target expansion: how inbound routes and ``ext:``, ``group:``, ``conference:``, ``number:``
and ``mobile`` targets become ring steps, with the explanation lines that go with them.

An inbound route picks ``to`` or ``otherwise`` by its schedule, may ring the caller's responsible
manager first, and follows ``to`` with ``fallback``. A ``number:`` target that is one of our own
DIDs is routed by that DID's inbound route (no trip through the carrier and back).

An extension follows its own forwards (``always``; DND or not registered -> ``unavailable``; busy
-> ``busy``; ``no_answer`` after N s). Group members ring as plain phones (their personal forwards
do not apply) and members who cannot take a call (disabled, DND, not registered, busy, the caller)
are left out. Disabled extensions are never rung, nor reached through their own forwards. Each
extension, group and own DID is expanded at most once per call, and at most :data:`MAX_DEPTH`
nested forwards are followed, so even a plan with a loop gives a finite decision.
"""

from __future__ import annotations

import re

from config.dialplan_spec import (
    DialplanSpec,
    Extension,
    GroupStrategy,
    InboundRoute,
    OutboundRoute,
    RecordingMode,
    Target,
)
from cti.model import Direction
from cti.numbers import to_e164
from cti.routing.decision import (
    CallFacts,
    Cause,
    DecisionKind,
    External,
    JoinConference,
    Leg,
    Phone,
    Ring,
    RouteDecision,
    Step,
    Via,
)
from cti.schedule import schedule_state

__all__ = ["MAX_DEPTH", "RING_SECONDS", "Walk", "matches", "route_label"]

MAX_DEPTH = 8
"Nested forwards/overflows followed from one target before the engine stops (the caller waits)."
RING_SECONDS = 30
"How long a phone or outside number rings when the plan gives no time (no ``no_answer`` forward)."


def matches(outbound: OutboundRoute, number: str) -> bool:
    """Return whether a pattern of *outbound* covers the whole of *number*."""
    return any(re.fullmatch(pattern, number) for pattern in outbound.match)


def route_label(index: int, outbound: OutboundRoute) -> str:
    """The route's name, else its position in the plan (``#2``)."""
    return outbound.name or f"#{index + 1}"


class Walk:
    """One routing run: the steps and explanation lines collected while it walks the plan."""

    def __init__(self, plan: DialplanSpec, facts: CallFacts) -> None:
        self.plan = plan
        self.facts = facts
        self.direction = Direction.INBOUND if facts.trunk is not None else Direction.INTERNAL
        self.caller: Extension | None = None
        "The calling extension (for its recording mode, and so it never rings itself)."
        self.lines: list[str] = []
        self.steps: list[Step] = []
        self.visited: set[str] = set()
        self.skipped: tuple[Cause, str] = (Cause.NOT_FOUND, "nothing to ring")
        self.recording: dict[str, tuple[bool, str]] = {}
        self.label: str | None = None
        "The inbound route's label for the phones' displays."

    def inbound_route(self, chosen: InboundRoute, depth: int) -> bool:
        """Append the steps of an inbound route; False when nothing after them can be reached."""
        target, branch = self._branch(chosen)
        if target is None:
            return False
        if branch == "to" and chosen.responsible_first:
            self._responsible(chosen)
        going_on = self.target(target, depth)
        # The schema says fallback follows `to`; after hours `otherwise` is the whole story.
        if branch != "to" or chosen.fallback is None or not going_on:
            return going_on
        self.lines.append(f"if nobody answers -> fallback: {chosen.fallback}")
        return self.target(chosen.fallback, depth)

    def _branch(self, chosen: InboundRoute) -> tuple[Target | None, str]:
        """Pick ``to`` or ``otherwise`` by the route's schedule (None: closed, hang up)."""
        label = f"inbound route {chosen.number}"
        if chosen.caller_id_name:
            label += f" (phones show '{chosen.caller_id_name}')"
        if chosen.schedule is None:
            self.lines.append(f"{label} -> to: {chosen.to}")
            return chosen.to, "to"
        schedule = self.plan.schedules.get(chosen.schedule)
        if schedule is None:
            said = f"{label}: schedule {chosen.schedule} is not defined, taken as open"
            self.lines.append(f"{said} -> to: {chosen.to}")
            return chosen.to, "to"
        state = schedule_state(self.plan, schedule, self.facts.at)
        said = f"{label}: schedule {chosen.schedule} is {'open' if state.is_open else 'closed'} ({state.why})"
        if state.is_open:
            self.lines.append(f"{said} -> to: {chosen.to}")
            return chosen.to, "to"
        if chosen.otherwise is not None:
            self.lines.append(f"{said} -> otherwise: {chosen.otherwise}")
            return chosen.otherwise, "otherwise"
        self.lines.append(f"{said}, and the route has no 'otherwise' -> hang up")
        self.skipped = (Cause.CLOSED, f"schedule {chosen.schedule} is closed")
        return None, "closed"

    def _responsible(self, chosen: InboundRoute) -> None:
        number = self.facts.responsible
        if number is None:
            self.lines.append("responsible first: the CRM knows no responsible manager for this caller")
            return
        why_not = self.cannot_ring(number)
        if why_not is not None:
            self.lines.append(f"responsible first: {self.who(number)} is {why_not}: skipped")
            return
        timeout = chosen.responsible_timeout
        self.ring((self.phone(number),), timeout, "the caller's responsible manager")
        self.lines.append(f"ring {self.who(number)}, the caller's responsible manager, for {timeout} s")

    def target(self, target: Target, depth: int, owner: str | None = None) -> bool:
        """Append the steps for *target*; False when nothing after it can be reached."""
        if depth > MAX_DEPTH:
            self.lines.append(f"stopped at {target}: forwards nest deeper than {MAX_DEPTH} (a loop?)")
            self.skipped = (Cause.TOO_DEEP, f"forwards nest deeper than {MAX_DEPTH}")
            return False
        if target.kind == "hangup":
            self.lines.append("hang up")
            self.skipped = (Cause.HANGUP, "the plan says hang up")
            return False
        if target.kind == "mobile":
            return self._mobile(owner)
        own = None
        if target.kind == "number":
            own = next((r for r in self.plan.inbound if r.number == target.ref), None)
        if target.kind == "number" and own is None:
            return self._number(target.ref, owner, target.ref)
        if target.kind == "ext" and target.ref not in self.plan.extensions:
            # As the validator reads it: ext:NUMBER may name a group by its number.
            group = next((name for name, g in self.plan.groups.items() if g.number == target.ref), None)
            target = target if group is None else Target(kind="group", ref=group)
        key = str(target)
        if key in self.visited:
            self.lines.append(f"{key} was already tried on this call: skipped (no loops)")
            return True
        self.visited.add(key)
        if own is not None:
            # Our own DID: route it here rather than out through the carrier and back in.
            self.lines.append(f"{target.ref} is our own number: its inbound route decides (no trunk used)")
            return self.inbound_route(own, depth)
        if target.kind == "ext":
            return self._extension(target.ref, depth)
        if target.kind == "group":
            return self._group(target.ref, depth)
        return self._conference(target.ref)

    def _extension(self, number: str, depth: int) -> bool:
        ext = self.plan.extensions.get(number)
        who = self.who(number)
        if ext is None:
            return self.skip(Cause.NOT_FOUND, f"{number} is not an extension of this plan")
        if ext.disabled:
            return self.skip(Cause.UNAVAILABLE, f"{who} is disabled")
        if self.caller is not None and number == self.facts.caller:
            return self.skip(Cause.BUSY, f"{who} is the caller")
        forward = ext.forward
        if forward.always is not None:
            self.lines.append(f"{who} forwards every call -> {forward.always}")
            return self.target(forward.always, depth + 1, owner=number)
        state = None
        if ext.dnd:
            state = "is on do-not-disturb"
        elif number in self.facts.unavailable:
            state = "is not registered"
        if state is not None:
            if forward.unavailable is None:
                return self.skip(Cause.UNAVAILABLE, f"{who} {state} and has no 'unavailable' forward")
            self.lines.append(f"{who} {state} -> forward to {forward.unavailable}")
            return self.target(forward.unavailable, depth + 1, owner=number)
        if number in self.facts.busy:
            if forward.busy is None:
                return self.skip(Cause.BUSY, f"{who} is busy and has no 'busy' forward")
            self.lines.append(f"{who} is busy -> forward to {forward.busy}")
            return self.target(forward.busy, depth + 1, owner=number)
        after = forward.no_answer.after if forward.no_answer is not None else RING_SECONDS
        self.ring((self.phone(number),), after, f"extension {number}")
        if forward.no_answer is None:
            self.lines.append(f"ring {who} for {after} s")
            return True
        self.lines.append(f"ring {who} for {after} s; no answer -> forward to {forward.no_answer.to}")
        return self.target(forward.no_answer.to, depth + 1, owner=number)

    def _group(self, name: str, depth: int) -> bool:
        group = self.plan.groups.get(name)
        if group is None:
            return self.skip(Cause.NOT_FOUND, f"group {name} is not in this plan")
        members = list(group.members)
        last = self.facts.last_answered.get(name)
        if group.strategy is GroupStrategy.HUNT and last in members:
            cut = members.index(last) + 1
            members = members[cut:] + members[:cut]
            self.lines.append(f"group {name} hunts: starts after {last}, who answered its last call")
        ready: list[str] = []
        left_out: list[str] = []
        for member in members:
            why_not = self.cannot_ring(member)
            if why_not is None:
                ready.append(member)
            else:
                left_out.append(f"{self.who(member)} is {why_not}")
        if left_out:
            self.lines.append(f"group {name} leaves out: {'; '.join(left_out)}")
        if not ready:
            self.skip(Cause.UNAVAILABLE, f"nobody in group {name} can take the call")
        elif group.strategy is GroupStrategy.RINGALL:
            phones = tuple(self.phone(m) for m in ready)
            self.ring(phones, group.timeout, f"group {name} (ringall)", group=name)
            people = ", ".join(self.who(m) for m in ready)
            self.lines.append(f"ring group {name} (ringall) for {group.timeout} s: {people}")
        else:
            left = group.timeout
            for position, member in enumerate(ready, start=1):
                if left <= 0:
                    self.lines.append(f"group {name}: its {group.timeout} s are used up before {member}")
                    break
                seconds = min(group.member_timeout, left)
                left -= seconds
                why = f"group {name} ({group.strategy.value} {position}/{len(ready)})"
                self.ring((self.phone(member),), seconds, why, group=name)
                self.lines.append(f"ring {self.who(member)} for {seconds} s ({why})")
        if group.overflow is None:
            return True
        self.lines.append(f"group {name}: if nobody answers -> overflow {group.overflow}")
        return self.target(group.overflow, depth + 1)

    def _conference(self, room: str) -> bool:
        conference = self.plan.conferences.get(room)
        if conference is None:
            return self.skip(Cause.NOT_FOUND, f"conference room {room} is not in this plan")
        record, why = self.record(None, external=False)
        pin = conference.pin is not None
        self.steps.append(JoinConference(room, conference.name, pin, record, f"conference {room}"))
        self.recording[f"room {room}"] = (record, why)
        self.lines.append(f"join conference room {room} ({conference.name}){', PIN asked' if pin else ''}")
        return False

    def _mobile(self, owner: str | None) -> bool:
        if owner is None:
            self.lines.append("'mobile' means the forwarding extension's mobile; there is none here: skipped")
            return True
        mobile = self.plan.extensions[owner].mobile
        if mobile is None:
            self.lines.append(f"{owner} has no mobile: forward skipped")
            return True
        return self._number(mobile, owner, f"mobile of {owner}")

    def _number(self, number: str, owner: str | None, what: str) -> bool:
        # Forwards are company policy written by the admin: the permission classes of the caller
        # (or of the forwarding phone) do not apply; the first route that matches carries it.
        found = next(((i, r) for i, r in enumerate(self.plan.outbound) if matches(r, number)), None)
        leg = None if found is None else self.external(found[0], found[1], number, owner=owner)
        if leg is None:
            return self.skip(Cause.NO_ROUTE, f"no outbound route reaches {number} ({what})")
        self.ring((leg,), RING_SECONDS, what)
        label = what if what == number else f"{number} ({what})"
        self.lines.append(f"ring {label} for {RING_SECONDS} s: {self.dialling(leg)}")
        return True

    # -- helpers --------------------------------------------------------------------------------

    def external(
        self, index: int, outbound: OutboundRoute, number: str, owner: str | None, extra: tuple[str, ...] = ()
    ) -> External | None:
        names = (outbound.trunk, *((outbound.failover,) if outbound.failover else ()), *extra)
        via = tuple(
            Via(name, outbound.caller_id or self.plan.trunks[name].caller_id)
            for name in dict.fromkeys(names)
            if name in self.plan.trunks
        )
        if not via:
            return None
        record, _why = self.record(owner, external=True)
        return External(
            number=to_e164(number, self.plan.default_region) or number,
            dial=outbound.prefix + number[outbound.strip :],
            via=via,
            route=route_label(index, outbound),
            record=record,
            for_extension=owner,
        )

    def dialling(self, leg: External) -> str:
        trunks = ", then ".join(
            f"trunk {via.trunk}" + (f" presenting {via.caller_id}" if via.caller_id else "")
            for via in leg.via
        )
        return f"dial {leg.dial} via {trunks}"

    def phone(self, number: str) -> Phone:
        record, _why = self.record(number, external=False)
        return Phone(number, self.plan.extensions[number].name, record)

    def ring(self, legs: tuple[Leg, ...], timeout: int | None, why: str, group: str | None = None) -> None:
        self.steps.append(Ring(legs, timeout, why, group))
        for leg in legs:
            owner = leg.extension if isinstance(leg, Phone) else leg.for_extension
            label = leg.extension if isinstance(leg, Phone) else leg.number
            self.recording[label] = self.record(owner, external=isinstance(leg, External))

    def record(self, owner: str | None, *, external: bool) -> tuple[bool, str]:
        """Whether to record if *owner*'s leg answers, and why.

        Our side's extension decides before the policy: the caller for calls a phone makes, then
        the extension that answers (or whose forward rings an outside number).
        """
        sides: list[tuple[str, Extension]] = []
        if self.direction is not Direction.INBOUND and self.caller is not None:
            sides.append((self.facts.caller, self.caller))
        if owner is not None and owner in self.plan.extensions:
            sides.append((owner, self.plan.extensions[owner]))
        for number, ext in sides:
            if ext.recording is not RecordingMode.INHERIT:
                return ext.recording is RecordingMode.ALWAYS, f"{number} records {ext.recording.value}"
        policy = "outbound" if external and self.direction is Direction.INTERNAL else self.direction.value
        mode = getattr(self.plan.recording, policy)
        return mode == "always", f"{policy} policy {mode}"

    def cannot_ring(self, number: str) -> str | None:
        """Why a phone rung as itself (group member, responsible manager) is left out, if it is."""
        ext = self.plan.extensions.get(number)
        if ext is None:
            return "not an extension of this plan"
        if ext.disabled:
            return "disabled"
        if self.caller is not None and number == self.facts.caller:
            return "the caller"
        if ext.dnd:
            return "on do-not-disturb"
        if number in self.facts.unavailable:
            return "not registered"
        if number in self.facts.busy:
            return "busy"
        return None

    def who(self, number: str) -> str:
        ext = self.plan.extensions.get(number)
        return number if ext is None else f"{number} ({ext.name})"

    def skip(self, cause: Cause, reason: str) -> bool:
        self.lines.append(f"{reason}: skipped")
        self.skipped = (cause, reason)
        return True

    def reject(self, cause: Cause, reason: str) -> RouteDecision:
        self.lines.append(f"rejected: {reason}")
        caller_id, caller_name = self._caller_id()
        return RouteDecision(
            kind=DecisionKind.REJECTED,
            direction=self.direction,
            caller_id=caller_id,
            caller_name=caller_name,
            cause=cause,
            reason=reason,
            explanation=tuple(self.lines),
        )

    def _caller_id(self) -> tuple[str, str | None]:
        if self.direction is Direction.INBOUND:
            return to_e164(self.facts.caller, self.plan.default_region) or self.facts.caller, self.label
        ext = self.plan.extensions.get(self.facts.caller)
        return self.facts.caller, None if ext is None else ext.name

    def finish(self, kind: DecisionKind | None = None, peers: tuple[str, ...] = ()) -> RouteDecision:
        cause = reason = None
        if kind is None:
            if not self.steps:
                kind = DecisionKind.HANGUP
                cause, reason = self.skipped
                self.lines.append(f"nothing to ring: hang up ({cause.value}: {reason})")
            elif isinstance(self.steps[0], JoinConference):
                kind = DecisionKind.CONFERENCE
            elif self.direction is Direction.OUTBOUND:
                kind = DecisionKind.OUTBOUND
            else:
                kind = DecisionKind.RING
        if self.recording:
            self.lines.append(self._recording_line())
        caller_id, caller_name = self._caller_id()
        return RouteDecision(
            kind=kind,
            direction=self.direction,
            steps=tuple(self.steps),
            caller_id=caller_id,
            caller_name=caller_name,
            peers=peers,
            cause=cause,
            reason=reason,
            explanation=tuple(self.lines),
        )

    def _recording_line(self) -> str:
        by_reason: dict[tuple[bool, str], list[str]] = {}
        for label, said in self.recording.items():
            by_reason.setdefault(said, []).append(label)
        if len(by_reason) == 1:
            ((on, why),) = by_reason
            return f"recording: {'on' if on else 'off'} ({why})"
        parts = []
        for (on, why), labels in by_reason.items():
            parts.append(f"{'on' if on else 'off'} for {', '.join(labels)} ({why})")
        return f"recording: {'; '.join(parts)}"
