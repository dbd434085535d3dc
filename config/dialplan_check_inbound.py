"""Plan-wide checks of how calls come in: trunks and their numbers, inbound routes, schedules.

Each number is carried by one trunk and taken by one inbound route (the first route for a DID
decides: ``to`` while its schedule is open, ``otherwise`` when closed), a route needs a trunk that
carries its number, groups are reachable, and schedules and holiday lists are defined, used and
never overlap themselves. Routes add their targets to the call graph for the loop check.
"""

from __future__ import annotations

import itertools
from datetime import time

from pydantic import ValidationError

from config.dialplan_check_base import PlanChecker, one_of
from config.dialplan_issues import Loc
from config.dialplan_spec import DAYS, Schedule, TimeRange

__all__ = ["InboundChecks"]

_NO_SCHEDULES = "one under schedules:, and there is none yet"
_NO_HOLIDAYS = "a list under holidays:, and there is none yet"


class InboundChecks(PlanChecker):
    """Trunks, inbound routes, schedules and holiday lists."""

    def trunks(self) -> None:
        carried: dict[str, tuple[str, Loc]] = {}
        used = {route.trunk for route in self.spec.outbound} | {
            route.failover for route in self.spec.outbound
        }
        for name, trunk in self.spec.trunks.items():
            here: Loc = ("trunks", name)
            for index, number in enumerate(trunk.numbers):
                loc = (*here, "numbers", index)
                if number in carried:
                    other, other_loc = carried[number]
                    if other == name:
                        self.warn(
                            loc,
                            f"{number} is listed twice "
                            f"(first at {self.pos.where(other_loc)}; expected each number once)",
                        )
                    else:
                        self.error(
                            loc,
                            f"{number} is already carried by trunk {other!r} at {self.pos.where(other_loc)} "
                            "(expected each number on one trunk)",
                        )
                    continue
                carried[number] = (name, loc)
                self.phone_number(number, loc)
            if trunk.caller_id is not None:
                self.caller_id(trunk.caller_id, name, (*here, "caller_id"))
            if not trunk.numbers and name not in used:
                self.warn(
                    here,
                    f"trunk {name!r} carries no numbers and no outbound route uses it "
                    f"(expected numbers: or a route with trunk: {name})",
                )

    def inbound(self) -> None:
        spec = self.spec
        dids = {number for trunk in spec.trunks.values() for number in trunk.numbers}
        firsts: dict[str, int] = {}
        for index, route in enumerate(spec.inbound):
            here: Loc = ("inbound", index)
            node = f"number:{route.number}" if route.number != "any" else "number:any"
            self.node_loc.setdefault(node, here)
            if route.number in firsts:
                where = self.pos.where(("inbound", firsts[route.number]))
                if route.number == "any":
                    message = (
                        f"a second 'any' route: the route at {where} already takes every call no other route "
                        "takes (expected one any route)"
                    )
                else:
                    message = (
                        f"a second route for {route.number}: the route at {where} already takes "
                        "every call to it (expected one route per number; "
                        "a schedule chooses between to and otherwise)"
                    )
                self.error((*here, "number"), message)
            else:
                firsts[route.number] = index
            if (
                route.number != "any"
                and self.phone_number(route.number, (*here, "number")) is not None
                and route.number not in dids
            ):
                self.warn(
                    (*here, "number"),
                    f"no trunk carries {route.number}, so this route never gets a call "
                    f"(expected {route.number} in a trunk's numbers)",
                )
            duplicate = route.number in firsts and firsts[route.number] != index
            for key in ("to", "otherwise", "fallback"):
                target = getattr(route, key)
                if duplicate:
                    if target is not None:
                        self.target(target, (*here, key))
                else:
                    self.link(node, target, (*here, key))
            if route.schedule is not None and route.otherwise is None:
                self.error(
                    (*here, "schedule"),
                    f"schedule {route.schedule!r} but no otherwise: where do calls go when it is closed? "
                    "(expected otherwise: a target, e.g. ext:110 or hangup)",
                )
            if route.schedule is None and route.otherwise is not None:
                self.warn(
                    (*here, "otherwise"),
                    "otherwise is never used: the route has no schedule "
                    "(expected schedule: NAME, or no otherwise)",
                )
            if route.fallback is not None and route.fallback == route.to:
                self.warn(
                    (*here, "fallback"),
                    f"fallback is the same as to ({route.to}), so it adds nothing (expected another target)",
                )
            if "responsible_timeout" in route.model_fields_set and not route.responsible_first:
                self.warn(
                    (*here, "responsible_timeout"),
                    "responsible_timeout has no effect without responsible_first: true "
                    "(expected both, or neither)",
                )
        if "any" not in firsts:
            for name, trunk in spec.trunks.items():
                for index, number in enumerate(trunk.numbers):
                    if number not in firsts:
                        self.warn(
                            ("trunks", name, "numbers", index),
                            f"no inbound route for {number} and no 'any' route, so its calls are refused "
                            f'(expected a route with number: "{number}" or number: any)',
                        )
        for name, group in spec.groups.items():
            if not group.number and name not in self.reached_groups:
                self.warn(
                    ("groups", name),
                    f"group {name!r} has no number and no route, forward or overflow leads to it "
                    f"(expected number: or a target group:{name})",
                )

    def schedules(self) -> None:
        spec = self.spec
        used = {route.schedule for route in spec.inbound if route.schedule is not None}
        for index, route in enumerate(spec.inbound):
            if route.schedule is not None and route.schedule not in spec.schedules:
                self.error(
                    ("inbound", index, "schedule"),
                    f"schedule {route.schedule!r} is not defined "
                    f"(expected {one_of(spec.schedules, _NO_SCHEDULES)})",
                )
        lists_used: set[str] = set()
        for name, schedule in spec.schedules.items():
            here: Loc = ("schedules", name)
            if name not in used:
                self.warn(
                    here,
                    f"schedule {name!r} is not used by any inbound route "
                    f"(expected schedule: {name} on a route, or remove it)",
                )
            if not any(schedule.hours.values()):
                self.error(
                    here,
                    f"schedule {name!r} is never open: no day has hours "
                    '(expected e.g. hours: {mon-fri: "09:00-18:00"})',
                )
            overlaps: dict[tuple[Loc, str], list[str]] = {}
            for day in DAYS:
                ranges = sorted(schedule.hours.get(day, ()), key=lambda span: span.start)
                for before, after in itertools.pairwise(ranges):
                    if after.start < before.end:
                        pair = f"{_span(before)} and {_span(after)}"
                        overlaps.setdefault((self.day_loc(name, day), pair), []).append(day)
            for (loc, pair), days in overlaps.items():
                self.error(
                    loc,
                    f"{pair} overlap on {', '.join(days)} "
                    "(expected ranges that do not overlap, e.g. 09:00-13:00, 14:00-18:00)",
                )
            if isinstance(schedule.holidays, str):
                lists_used.add(schedule.holidays)
                if schedule.holidays not in spec.holidays:
                    self.error(
                        (*here, "holidays"),
                        f"holiday list {schedule.holidays!r} is not defined "
                        f"(expected {one_of(spec.holidays, _NO_HOLIDAYS)})",
                    )
        for name in spec.holidays:
            if name not in lists_used:
                self.warn(
                    ("holidays", name),
                    f"holiday list {name!r} is not used by any schedule "
                    f"(expected holidays: {name} in a schedule, or remove it)",
                )

    def day_loc(self, schedule: str, day: str) -> Loc:
        """The key under ``hours`` that gave *day* its hours (``mon-fri`` for ``wed``)."""
        for key in self.pos.keys(("schedules", schedule, "hours")):
            try:
                days = Schedule(hours={key: "closed"}).hours
            except ValidationError:
                continue
            if day in days:
                return ("schedules", schedule, "hours", key)
        return ("schedules", schedule, "hours")


def _span(span: TimeRange) -> str:
    def hhmm(moment: time) -> str:
        return "24:00" if moment == time.max else moment.strftime("%H:%M")

    return f"{hhmm(span.start)}-{hhmm(span.end)}"
