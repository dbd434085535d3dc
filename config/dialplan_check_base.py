"""The state and vocabulary every plan-wide dialplan check shares: :class:`PlanChecker`.

A checker holds the spec, the positions to place issues at, the issues found so far and the call
graph (forwards, overflows and routes as :class:`Edge` values) that the loop check walks at the end.
Here too are the checks more than one topic needs: targets (``ext:``, ``group:``, ``conference:``,
``number:``, ``mobile``), phone numbers and caller ids, and the list of numbers dialled from an idle
phone (:meth:`PlanChecker.dialled`). The topic checks subclass it (``dialplan_check_numbers``,
``dialplan_check_inbound``, ``dialplan_check_outbound``); :mod:`config.dialplan_checks` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from config.dialplan_issues import Issue, Loc, Positions
from config.dialplan_spec import DialplanSpec, Target

__all__ = [
    "NO_EXTENSIONS",
    "NUMBER_NOUNS",
    "DialledNumber",
    "Edge",
    "PlanChecker",
    "one_of",
]

NO_EXTENSIONS = "an extension, and there is none yet"
_NO_GROUPS = "a group under groups:, and there is none yet"
_NO_ROOMS = "a room under conferences:, and there is none yet"
NUMBER_NOUNS = {"extension": "an extension", "group": "a group number", "room": "a conference room"}


@dataclass(frozen=True, slots=True)
class DialledNumber:
    """Something dialled from an idle phone."""

    number: str
    kind: str
    "extension, group, room, pickup, emergency; listen, whisper, barge are prefixes."
    label: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Edge:
    """A call can go from one node of the call graph to *to*; *loc* says where the plan sends it."""

    to: str
    loc: Loc


class PlanChecker:
    """Shared state and checks of the plan-wide dialplan checks; the topics subclass it."""

    def __init__(self, spec: DialplanSpec, positions: Positions) -> None:
        self.spec = spec
        self.pos = positions
        self.issues: list[Issue] = []
        self.group_numbers = {group.number: name for name, group in spec.groups.items() if group.number}
        self.reached_groups: set[str] = set()
        self.edges: dict[str, list[Edge]] = {}
        self.node_loc: dict[str, Loc] = {}

    def error(self, loc: Loc, message: str) -> None:
        self.issues.append(self.pos.issue(loc, message))

    def warn(self, loc: Loc, message: str) -> None:
        self.issues.append(self.pos.issue(loc, message, "warning"))

    def target(self, target: Target, loc: Loc, *, forward_of: str | None = None) -> str | None:
        """Check *target* at *loc*; return its node in the call graph (None: the call ends there)."""
        spec = self.spec
        if target.kind == "ext":
            if target.ref in self.group_numbers:
                self.reached_groups.add(self.group_numbers[target.ref])
                return f"group:{self.group_numbers[target.ref]}"
            extension = spec.extensions.get(target.ref)
            if extension is None:
                choices = one_of([*spec.extensions, *self.group_numbers], NO_EXTENSIONS)
                self.error(loc, f"{target} is not an extension or a group number (expected {choices})")
                return None
            if extension.disabled:
                self.warn(
                    loc,
                    f"{target} is disabled, calls sent there ring nowhere (expected an extension in service)",
                )
            return str(target)
        if target.kind == "group":
            if target.ref not in spec.groups:
                self.error(
                    loc,
                    f"{target} is not a group (expected {one_of(spec.groups, _NO_GROUPS)})",
                )
                return None
            self.reached_groups.add(target.ref)
            return str(target)
        if target.kind == "conference" and target.ref not in spec.conferences:
            self.error(
                loc,
                f"{target} is not a conference room (expected {one_of(spec.conferences, _NO_ROOMS)})",
            )
        if target.kind == "number":
            self.phone_number(target.ref, loc)
            return str(target)
        if target.kind == "mobile":
            if forward_of is None:
                self.error(
                    loc,
                    "mobile is only for an extension's forwards "
                    "(expected ext:, group:, conference:, number: or hangup here)",
                )
            elif spec.extensions[forward_of].mobile is None:
                self.error(
                    loc,
                    f"extension {forward_of} has no mobile to forward to "
                    "(expected a mobile: key on the extension, or another target)",
                )
        return None

    def link(self, node: str, target: Target | None, loc: Loc, *, forward_of: str | None = None) -> None:
        """Check *target* and, if a call goes on from there, add the edge from *node* to the call graph."""
        if target is None:
            return
        reached = self.target(target, loc, forward_of=forward_of)
        if reached is not None:
            self.edges.setdefault(node, []).append(Edge(reached, loc))

    def phone_number(self, number: str, loc: Loc, *, what: str = "") -> phonenumbers.PhoneNumber | None:
        """Parse *number* (E.164); an error at *loc* and None if it is not a valid number."""
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            self.error(
                loc,
                f"{what}{number} is not a valid phone number "
                "(expected a number in service: country code, then area or mobile code, e.g. +74951234567)",
            )
            return None
        return parsed

    def caller_id(self, number: str, trunk: str, loc: Loc) -> None:
        """A caller id must be a valid number, and should be one the trunk carries."""
        if self.phone_number(number, loc) is None or trunk not in self.spec.trunks:
            return
        numbers = self.spec.trunks[trunk].numbers
        if number not in numbers:
            self.warn(
                loc,
                f"caller_id {number} is not a number of trunk {trunk!r}, "
                "the carrier may reject or replace it "
                f"(expected {one_of(numbers, 'one of its numbers:, and it has none')})",
            )

    def dialled(self) -> list[DialledNumber]:
        """What can be dialled from an idle phone, in file order (what the file does not say first)."""
        spec, codes = self.spec, self.spec.feature_codes
        out = [
            DialledNumber(number, "extension", f"extension {number}", ("extensions", number))
            for number in spec.extensions
        ]
        out += [
            DialledNumber(group.number, "group", f"group {name!r}", ("groups", name, "number"))
            for name, group in spec.groups.items()
            if group.number
        ]
        out += [
            DialledNumber(room, "room", f"conference room {room}", ("conferences", room))
            for room in spec.conferences
        ]
        out += [
            DialledNumber(code, "pickup", f"pickup code {code}", ("feature_codes", "pickup", index))
            for index, code in enumerate(codes.pickup)
        ]
        out += [
            DialledNumber(number, "emergency", f"emergency number {number}", ("emergency", index))
            for index, number in enumerate(spec.emergency)
        ]
        for kind in ("listen", "whisper", "barge"):
            code = getattr(codes, kind)
            if code:
                out.append(DialledNumber(code, kind, f"{kind} prefix {code}", ("feature_codes", kind)))
        # file order; what the file does not say (defaults) comes first
        return sorted(out, key=lambda item: (self.pos.has(item.loc), self.pos.find(item.loc)[:2]))


def one_of(names: Iterable[str], empty: str) -> str:
    """``one of: a, b`` or, when there are none, *empty*."""
    listed = list(dict.fromkeys(names))
    if not listed:
        return empty
    shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
    return f"one of: {shown}"
