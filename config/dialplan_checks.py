"""The dialplan checks that need the whole plan: :func:`check`, run after the schema has passed.

:func:`check` runs the topic checks in a fixed order (numbering, then inbound, then outbound; see
``dialplan_check_*``), each adding errors and warnings placed by :class:`~config.dialplan_issues.Positions`
and edges to the call graph, and finally looks for loops in that graph: forwards, overflows and our
own DIDs reached through ``number:`` must end at a phone, a mobile, an outside number or hangup.
The rules themselves are listed in :mod:`config.dialplan`, which re-exports :func:`check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from config.dialplan_check_base import Edge
from config.dialplan_check_inbound import InboundChecks
from config.dialplan_check_numbers import NumberingChecks
from config.dialplan_check_outbound import OutboundChecks
from config.dialplan_issues import Issue, Loc, Positions, ordered
from config.dialplan_spec import DialplanSpec

__all__ = ["check"]


def check(spec: DialplanSpec, positions: Positions | None = None) -> list[Issue]:
    """Every problem that needs the whole plan, errors and warnings, in file order."""
    checker = _Checker(spec, positions or Positions("<dialplan>"))
    checker.run()
    return ordered(checker.issues)


class _Checker(NumberingChecks, InboundChecks, OutboundChecks):
    """Every topic's checks, run in the order that decides which of two equal-place issues comes first."""

    def run(self) -> None:
        for run in (
            self.region,
            self.extensions,
            self.groups,
            self.numbers,
            self.transfer,
            self.trunks,
            self.inbound,
            self.schedules,
            self.outbound,
            self.emergency,
            self.loops,
        ):
            run()

    def loops(self) -> None:
        own = {route.number for route in self.spec.inbound}
        dids = {number for trunk in self.spec.trunks.values() for number in trunk.numbers}
        for number in dids - own:  # our own number without a route of its own: the any route takes it
            if "number:any" in self.edges:
                self.edges[f"number:{number}"] = self.edges["number:any"]
        order = {node: self.pos.find(loc)[:2] for node, loc in self.node_loc.items()}
        nodes = sorted(self.edges, key=lambda node: (order.get(node, (1 << 30, 0)), node))
        rank = {node: index for index, node in enumerate(nodes)}
        found: set[tuple[str, ...]] = set()
        for start in nodes:
            for cycle, loc in _cycles(start, self.edges, lambda node, s=start: rank.get(node, -1) > rank[s]):
                if cycle in found or len(found) >= 20:
                    continue
                found.add(cycle)
                path = " -> ".join((*cycle, cycle[0]))
                self.error(
                    loc,
                    f"calls can loop: {path} (expected forwards and overflows that end at a phone, "
                    "a mobile, an outside number or hangup)",
                )


def _cycles(
    start: str, edges: dict[str, list[Edge]], allowed: Callable[[str], bool]
) -> Iterator[tuple[tuple[str, ...], Loc]]:
    """Elementary cycles through *start* whose other nodes pass *allowed*; with the first edge's place."""
    stack: list[tuple[str, list[str], Loc | None]] = [(start, [start], None)]
    while stack:
        node, path, first = stack.pop()
        for edge in reversed(edges.get(node, [])):
            loc = first if first is not None else edge.loc
            if edge.to == start:
                yield tuple(path), loc
            elif edge.to not in path and allowed(edge.to):
                stack.append((edge.to, [*path, edge.to], loc))
