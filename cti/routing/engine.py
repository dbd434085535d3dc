"""The routing engine: dialplan + call facts -> an ordered, executable decision (pure, no I/O).

The order of questions for a call from one of our phones: an emergency number (always allowed,
even from a disabled phone), then the exact numbers (pickup codes, extensions, group numbers,
rooms), then listen/whisper/barge prefix + extension, then the outbound routes: the first route
whose pattern covers the whole number and whose permission class the phone holds. A call from a
trunk goes by its inbound route (the DID's, else ``any``), its schedule, the caller's responsible
manager when the route asks for it, then ``to`` (or ``otherwise``) and ``fallback``. How targets
expand into ring steps is :mod:`cti.routing._walk`.
"""

from __future__ import annotations

from datetime import datetime

from config.dialplan_spec import SUPERVISOR_CLASS, DialplanSpec, Extension, parse_target
from cti.model import Direction
from cti.numbers import to_e164
from cti.routing._walk import Walk, matches, route_label
from cti.routing.decision import CallFacts, Cause, DecisionKind, External, RouteDecision, Via
from cti.schedule import local_label

__all__ = ["SUPERVISOR", "call_facts", "explain", "route"]

SUPERVISOR = SUPERVISOR_CLASS
"The permission class (in an extension's ``outbound``) needed for listen, whisper and barge."

_SPY_VERBS = {
    DecisionKind.LISTEN: "listens to",
    DecisionKind.WHISPER: "whispers to",
    DecisionKind.BARGE: "barges into",
}


def route(plan: DialplanSpec, facts: CallFacts) -> RouteDecision:
    """Decide where the call described by *facts* goes under *plan*."""
    return _run(Walk(plan, facts))


def explain(plan: DialplanSpec, facts: CallFacts) -> list[str]:
    """The decision for *facts*, step by step, as numbered lines for an admin."""
    return [f"{n}. {line}" for n, line in enumerate(route(plan, facts).explanation, start=1)]


def call_facts(
    plan: DialplanSpec, caller: str, dialled: str, at: datetime, *, responsible: str | None = None
) -> CallFacts:
    """Facts for a call known only by its two ends, as ``cti dialplan explain`` gets it.

    A caller that is not an extension of *plan* comes in from outside: on the trunk that carries
    the dialled DID, else on the first trunk. A naive *at* is read in the plan's time zone.
    """
    if at.tzinfo is None:
        at = at.replace(tzinfo=plan.zone())
    trunk = None
    if caller not in plan.extensions and plan.trunks:
        did = to_e164(dialled, plan.default_region) or dialled
        carrying = (name for name, trunk in plan.trunks.items() if did in trunk.numbers)
        trunk = next(carrying, next(iter(plan.trunks)))
    return CallFacts(caller=caller, dialled=dialled, at=at, trunk=trunk, responsible=responsible)


def _run(walk: Walk) -> RouteDecision:
    facts = walk.facts
    trunk = f" (trunk {facts.trunk})" if facts.trunk is not None else ""
    local = local_label(facts.at.astimezone(walk.plan.zone()))
    walk.lines.append(f"{facts.caller} called {facts.dialled}{trunk} on {local}")
    if facts.trunk is not None:
        return _inbound(walk, facts.trunk)
    return _from_phone(walk)


def _from_phone(walk: Walk) -> RouteDecision:
    plan, dialled, number = walk.plan, walk.facts.dialled, walk.facts.caller
    if dialled in plan.emergency:
        return _emergency(walk)
    caller = plan.extensions.get(number)
    if caller is None:
        return walk.reject(Cause.FORBIDDEN, f"{number} is not an extension of this plan")
    if caller.disabled:
        return walk.reject(Cause.FORBIDDEN, f"{number} is disabled: it may call emergency numbers only")
    walk.caller = caller
    codes = plan.feature_codes
    if dialled in codes.pickup:
        return _pickup(walk)
    group = next((name for name, group in plan.groups.items() if group.number == dialled), None)
    target = None
    if dialled in plan.extensions:
        target, what = f"ext:{dialled}", "an extension"
    elif group is not None:
        target, what = f"group:{group}", f"the number of group {group}"
    elif dialled in plan.conferences:
        target, what = f"conference:{dialled}", "a conference room"
    if target is not None:
        walk.lines.append(f"{dialled} is {what}")
        walk.target(parse_target(target), depth=0)
        return walk.finish()
    for spy, prefix in (
        (DecisionKind.LISTEN, codes.listen),
        (DecisionKind.WHISPER, codes.whisper),
        (DecisionKind.BARGE, codes.barge),
    ):
        if prefix and dialled.startswith(prefix) and dialled[len(prefix) :] in plan.extensions:
            return _supervise(walk, caller, spy, prefix, dialled[len(prefix) :])
    return _outbound(walk, caller)


def _inbound(walk: Walk, trunk: str) -> RouteDecision:
    plan, facts = walk.plan, walk.facts
    if trunk not in plan.trunks:
        return walk.reject(Cause.NOT_FOUND, f"trunk {trunk} is not in this plan")
    did = to_e164(facts.dialled, plan.default_region) or facts.dialled
    chosen = next((r for r in plan.inbound if r.number in (facts.dialled, did)), None)
    chosen = chosen or next((r for r in plan.inbound if r.number == "any"), None)
    if chosen is None:
        return walk.reject(Cause.NOT_FOUND, f"no inbound route for {did} (and no 'any' route)")
    walk.label = chosen.caller_id_name
    walk.inbound_route(chosen, depth=0)
    return walk.finish()


def _outbound(walk: Walk, caller: Extension) -> RouteDecision:
    plan, dialled, number = walk.plan, walk.facts.dialled, walk.facts.caller
    matching = [(i, r) for i, r in enumerate(plan.outbound) if matches(r, dialled)]
    if not matching:
        return walk.reject(
            Cause.NOT_FOUND,
            f"nothing answers to {dialled}: no extension, group, room or feature code, "
            "and no outbound route matches",
        )
    allowed = next(((i, r) for i, r in matching if r.permission in caller.outbound), None)
    if allowed is None:
        index, first = matching[0]
        held = ", ".join(caller.outbound) or "none"
        return walk.reject(
            Cause.FORBIDDEN,
            f"{number} may not call {dialled}: outbound route {route_label(index, first)} needs "
            f"permission '{first.permission}' ({number} holds: {held})",
        )
    walk.direction = Direction.OUTBOUND
    index, chosen = allowed
    leg = walk.external(index, chosen, dialled, owner=None)
    if leg is None:
        return walk.reject(Cause.NO_ROUTE, f"outbound route {route_label(index, chosen)} has no known trunk")
    walk.ring((leg,), None, f"outbound route {leg.route}")
    permission = f"permission '{chosen.permission}'"
    walk.lines.append(f"outbound route {leg.route} ({permission}): {walk.dialling(leg)}")
    return walk.finish()


def _emergency(walk: Walk) -> RouteDecision:
    # Life safety first: no permission check, a disabled or unknown phone may call, and every
    # trunk is tried after the route's own.
    plan, dialled = walk.plan, walk.facts.dialled
    walk.direction = Direction.OUTBOUND
    walk.caller = plan.extensions.get(walk.facts.caller)
    everything = tuple(plan.trunks)
    found = next(((i, r) for i, r in enumerate(plan.outbound) if matches(r, dialled)), None)
    if found is not None:
        leg = walk.external(found[0], found[1], dialled, owner=None, extra=everything)
    elif everything:
        via = tuple(Via(name, trunk.caller_id) for name, trunk in plan.trunks.items())
        record, _why = walk.record(None, external=True)
        leg = External(dialled, dialled, via, "emergency", record)
    else:
        leg = None
    if leg is None:
        return walk.reject(Cause.NO_ROUTE, f"no trunk reaches the emergency number {dialled}")
    walk.ring((leg,), None, "emergency number")
    walk.lines.append(f"{dialled} is an emergency number (always allowed): {walk.dialling(leg)}")
    return walk.finish()


def _pickup(walk: Walk) -> RouteDecision:
    number = walk.facts.caller
    peers: list[str] = []
    for group in walk.plan.groups.values():
        if group.pickup and number in group.members:
            peers.extend(m for m in group.members if m != number and m not in peers)
    peers = [m for m in peers if m in walk.plan.extensions and not walk.plan.extensions[m].disabled]
    if not peers:
        return walk.reject(Cause.NOT_FOUND, f"{number} is in no pickup group")
    walk.lines.append(
        f"{walk.facts.dialled} is a pickup code: {number} takes a call ringing at {', '.join(peers)}"
    )
    return walk.finish(DecisionKind.PICKUP, peers=tuple(peers))


def _supervise(walk: Walk, caller: Extension, kind: DecisionKind, prefix: str, watched: str) -> RouteDecision:
    number = walk.facts.caller
    verb = _SPY_VERBS[kind]
    if SUPERVISOR not in caller.outbound:
        return walk.reject(
            Cause.FORBIDDEN, f"{number} may not {kind.value} (needs permission '{SUPERVISOR}')"
        )
    if watched == number:
        return walk.reject(Cause.NOT_FOUND, f"{number} cannot {kind.value} on its own call")
    if walk.plan.extensions[watched].disabled:
        return walk.reject(Cause.UNAVAILABLE, f"{watched} is disabled")
    code = f"{kind.value} ({prefix} + {watched})"
    walk.lines.append(f"{walk.facts.dialled} is {code}: {number} {verb} {watched}")
    return walk.finish(kind, peers=(watched,))
