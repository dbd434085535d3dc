"""Call routing: dialplan + call facts -> an ordered decision the PBX executes (pure, no I/O).

:func:`route` decides, :func:`explain` prints the decision step by step (``cti dialplan explain``),
:func:`call_facts` builds facts from a call's two ends. The values are in :mod:`cti.routing.decision`.
"""

from __future__ import annotations

from cti.routing._walk import MAX_DEPTH, RING_SECONDS
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
from cti.routing.engine import SUPERVISOR, call_facts, explain, route

__all__ = [
    "MAX_DEPTH",
    "RING_SECONDS",
    "SUPERVISOR",
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
    "call_facts",
    "explain",
    "route",
]
