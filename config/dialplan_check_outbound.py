"""Plan-wide checks of how calls go out: outbound routes and emergency numbers.

Routes are tried in order and the first whose pattern matches the whole number (and whose permission
the caller holds) wins. Two patterns are compared on samples (:mod:`config.regex_samples`, plus the
plan's own numbers): a sample both match is an overlap (an error when the trunks differ), a route
whose every sample goes to earlier routes its callers may use is shadowed (a warning). Also checked:
trunks, failovers, caller ids, permissions nobody holds, strip/prefix rewrites that cannot make a
phone number, internal numbers a route would match, and emergency numbers without a route.
"""

from __future__ import annotations

import re
from re import _parser as sre_parser  # type: ignore[attr-defined]

import phonenumbers

from config.dialplan_check_base import NUMBER_NOUNS, PlanChecker, one_of
from config.dialplan_issues import Loc
from config.dialplan_spec import SUPERVISOR_CLASS, OutboundRoute
from config.regex_samples import sample_numbers

__all__ = ["OutboundChecks"]

_NO_TRUNKS = "a trunk under trunks:, and there is none yet"


class OutboundChecks(PlanChecker):
    """Outbound routes (overlaps, shadowing, rewrites) and emergency numbers."""

    def outbound(self) -> None:
        spec = self.spec
        routes = spec.outbound
        compiled = [[re.compile(pattern) for pattern in route.match] for route in routes]

        def matches(index: int, number: str) -> bool:
            return any(pattern.fullmatch(number) for pattern in compiled[index])

        own = [sample_numbers(route.match) for route in routes]
        pool = list(
            dict.fromkeys(
                [*self.plan_numbers(), *sorted({s for samples in own for s in samples}, key=_by_size)]
            )
        )
        held = {kind for extension in spec.extensions.values() for kind in extension.outbound}
        holders: dict[str, set[str]] = {route.permission: set() for route in routes}
        for number, extension in spec.extensions.items():
            for kind in extension.outbound:
                holders.setdefault(kind, set()).add(number)
        needed = {route.permission for route in routes}
        codes = spec.feature_codes
        if codes.listen or codes.whisper or codes.barge:
            needed.add(SUPERVISOR_CLASS)  # the supervisor codes are the class's use
        for index, route in enumerate(routes):
            here: Loc = ("outbound", index)
            label = _route_label(route, index)
            if route.trunk not in spec.trunks:
                self.error(
                    (*here, "trunk"),
                    f"trunk {route.trunk!r} is not defined (expected {one_of(spec.trunks, _NO_TRUNKS)})",
                )
            if route.failover is not None:
                if route.failover not in spec.trunks:
                    self.error(
                        (*here, "failover"),
                        f"failover trunk {route.failover!r} is not defined "
                        f"(expected {one_of(spec.trunks, _NO_TRUNKS)})",
                    )
                elif route.failover == route.trunk:
                    self.warn(
                        (*here, "failover"),
                        f"failover {route.failover!r} is the route's own trunk, so it adds nothing "
                        "(expected another trunk)",
                    )
            if route.caller_id is not None:
                self.caller_id(route.caller_id, route.trunk, (*here, "caller_id"))
            if route.permission not in held:
                self.warn(
                    (*here, "permission"),
                    f"no extension holds permission {route.permission!r}, so nobody can use this route "
                    f"(expected {route.permission!r} in some extension's outbound:)",
                )
            self.strip(route, here)
            overlapped = False
            for earlier in range(index):
                other = routes[earlier].trunk
                if (
                    overlapped
                    or other == route.trunk
                    or route.trunk not in spec.trunks
                    or other not in spec.trunks
                ):
                    continue
                common = next((s for s in pool if matches(earlier, s) and matches(index, s)), None)
                if common is not None:
                    overlapped = True
                    self.error(
                        (*here, "match"),
                        f"{label} overlaps {_route_label(routes[earlier], earlier)} at "
                        f"{self.pos.where(('outbound', earlier))}, "
                        f"which uses trunk {routes[earlier].trunk!r} "
                        f"instead of {route.trunk!r}: {common} matches both and the first route wins "
                        "(expected patterns that do not overlap, or the same trunk)",
                    )
            # the first route the caller may use wins: an earlier route only shadows this one for
            # callers that hold its permission too
            covering = [e for e in range(index) if holders[route.permission] <= holders[routes[e].permission]]
            takers = [e for e in covering if any(matches(e, s) for s in own[index])]
            shadowed = bool(own[index]) and all(any(matches(e, s) for e in covering) for s in own[index])
            if shadowed and not overlapped:
                names = " and ".join(
                    f"{_route_label(routes[e], e)} at {self.pos.where(('outbound', e))}" for e in takers
                )
                self.warn(
                    (*here, "match"),
                    f"{label} is never used: every number it matches goes to {names} first "
                    "(expected it above those routes, or removed)",
                )
        if routes:
            for number, extension in spec.extensions.items():
                if "outbound" not in extension.model_fields_set:
                    continue
                for index, kind in enumerate(extension.outbound):
                    if kind not in needed:
                        self.warn(
                            ("extensions", number, "outbound", index),
                            f"extension {number} holds outbound class {kind!r}, which no route needs "
                            f"(a typo? expected {one_of(sorted(needed), 'none')})",
                        )
        for item in self.dialled():
            if item.kind not in NUMBER_NOUNS:
                continue
            for index, _route in enumerate(routes):
                if matches(index, item.number):
                    self.warn(
                        item.loc,
                        f"{item.label} also matches {_route_label(routes[index], index)} "
                        f"({self.pos.where(('outbound', index))}); the internal number wins "
                        "(expected patterns that no internal number matches)",
                    )
                    break

    def strip(self, route: OutboundRoute, here: Loc) -> None:
        if route.strip:
            shortest = min(sre_parser.parse(pattern).getwidth()[0] for pattern in route.match)
            if route.strip >= shortest:
                self.warn(
                    (*here, "strip"),
                    f"strip {route.strip} removes the whole of the shortest number this route matches "
                    f"({shortest} characters; expected strip below {shortest})",
                )
                return
        if not route.prefix.startswith("+"):
            return  # the carrier gets what was dialled, or a local form we cannot judge
        with_country = route.prefix != "+"
        for sample in sorted(sample_numbers(route.match), key=_by_size):
            rewritten = route.prefix + sample[route.strip :]
            broken = not re.fullmatch(r"\+\d+", rewritten) or (
                # "+7" + what is left: the length decides, so random digits judge it fairly
                with_country and _possible(sample, self.spec.default_region) and not _possible(rewritten)
            )
            if broken:
                self.warn(
                    (*here, "prefix"),
                    f"strip {route.strip} and prefix {route.prefix!r} turn {sample} into {rewritten}, "
                    "which is not a possible phone number "
                    "(expected a rewrite to E.164, e.g. one route per way of dialling)",
                )
                return

    def plan_numbers(self) -> list[str]:
        spec = self.spec
        numbers = [*spec.emergency, *spec.extensions, *(route.number for route in spec.inbound)]
        numbers += [number for trunk in spec.trunks.values() for number in trunk.numbers]
        numbers += [extension.mobile for extension in spec.extensions.values() if extension.mobile]
        for national in [n for n in numbers if n.startswith("+7")]:
            numbers.append("8" + national[2:])
        return [n for n in dict.fromkeys(numbers) if n != "any"]

    def emergency(self) -> None:
        """Emergency numbers always go out; without a route of their own, unchanged on every trunk."""
        spec = self.spec
        if not spec.trunks:
            return  # an internal-only plan calls nobody outside
        for index, number in enumerate(spec.emergency):
            if any(re.fullmatch(pattern, number) for route in spec.outbound for pattern in route.match):
                continue
            loc: Loc = next(
                (loc for loc in (("emergency", index), ("outbound",)) if self.pos.has(loc)), ("trunks",)
            )
            self.warn(
                loc,
                f"emergency number {number} matches no outbound route, so it goes out unchanged on every "
                f"trunk in turn (expected a route for it, e.g. match: '^{number}$')",
            )


def _route_label(route: OutboundRoute, index: int) -> str:
    return f"outbound route {route.name!r}" if route.name else f"outbound route #{index + 1}"


def _possible(number: str, region: str | None = None) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _by_size(number: str) -> tuple[int, str]:
    return len(number), number
