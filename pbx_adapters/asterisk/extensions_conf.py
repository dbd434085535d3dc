"""extensions.conf from the dialplan: each target a Gosub routine, checked at call time.

Extensions, groups, rooms and inbound routes become ``cti-...`` routines, so a route's
``fallback`` rings after its ``to`` and after everything that forwards or overflows to; each
target runs once per call (``CTI_SEEN``); busy and unregistered phones are read from
``DEVICE_STATE`` / ``DIALSTATUS``; outbound numbers go through one routine that tries the routes in
plan order with ``REGEX()`` and the caller's permission classes. ``responsible_first`` needs the
CRM at call time and is not rendered (the generated file says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time

from config.dialplan_spec import (
    DAYS,
    SUPERVISOR_CLASS,
    DialplanSpec,
    Extension,
    Group,
    GroupStrategy,
    InboundRoute,
    OutboundRoute,
    RecordingMode,
    Schedule,
    Target,
    TimeRange,
)
from cti.routing import RING_SECONDS

from .dial_patterns import RenderError, asterisk_patterns, posix_regex

__all__ = ["LIMITED_CONTEXT", "RECORDING_DIR", "ExtensionsConf", "slug", "text"]
RECORDING_DIR = "/var/spool/asterisk/monitor"
LIMITED_CONTEXT = "cti-emergency-only"
"Where phones with no secret (or disabled) land: they may call emergency numbers only."
_BUSY_STATES = "^(UNAVAILABLE|INVALID|INUSE|BUSY|RINGINUSE|ONHOLD)$"


@dataclass
class _Exten:
    name: str
    comment: str = ""
    hint: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    "(label, application) in order; the first is priority 1."
    pending: str = ""

    def add(self, app: str, label: str = "") -> None:
        if self.pending and label:
            self.steps.append((self.pending, "NoOp()"))
        self.steps.append((label or self.pending, app))
        self.pending = ""

    def mark(self, label: str) -> None:
        """Give *label* to the next step added."""
        if self.pending:
            self.add("NoOp()")
        self.pending = label


@dataclass
class _Context:
    name: str
    comment: str = ""
    extens: list[_Exten] = field(default_factory=list)

    def exten(self, name: str, comment: str = "") -> _Exten:
        exten = _Exten(name, comment)
        self.extens.append(exten)
        return exten


def text(value: str) -> str:
    """User text (names, labels) made safe inside an application argument."""
    return re.sub(r"[;$\"\\{}\[\]()\r\n,|]", " ", value).strip()


def slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def _options(phone: bool, mode: str, policy: str, party: str, hunt: str = "") -> str:
    """Dial options: transfers, and the per-leg recording Gosub on whichever leg answers."""
    caller = "${CTI_RECORDING}"
    if hunt:
        sub = f"U(cti-hunt^{hunt}^{caller}^{mode}^{policy}^{party})"
    else:
        sub = f"U(sub-record^{caller}^{mode}^{policy}^{party})"
    return ("t" if phone else "") + "${CTI_DIAL_CALLER}" + sub


class ExtensionsConf:
    """Builds the contexts of extensions.conf from one plan."""

    def __init__(self, plan: DialplanSpec, internal: str, source: str) -> None:
        self.plan = plan
        self.internal = internal
        self.source = source
        self.notes: list[str] = []
        self.contexts: dict[str, _Context] = {}

    def context(self, name: str, comment: str = "") -> _Context:
        if name in self.contexts:
            raise RenderError(f"two parts of the plan render as the same context {name!r} (rename one)")
        self.contexts[name] = _Context(name, comment)
        return self.contexts[name]

    def usable(self, number: str) -> bool:
        ext = self.plan.extensions.get(number)
        return ext is not None and not ext.disabled and not ext.dnd

    # targets --------------------------------------------------------------------------------

    def call(self, exten: _Exten, target: Target, owner: str | None) -> None:
        """Append the steps that reach *target*; they fall through when it did not connect."""
        plan = self.plan
        kind, ref = target.kind, target.ref
        if kind == "ext" and ref not in plan.extensions:
            # as cti.routing reads it: ext:NUMBER may name a group by its number
            group = next((name for name, g in plan.groups.items() if g.number == ref), None)
            kind, ref = ("group", group) if group is not None else (kind, ref)
        own = self.own_route(ref) if kind == "number" else None
        if kind == "hangup":
            exten.add("Hangup()")
        elif kind == "ext" and ref in plan.extensions:
            exten.add(f"Gosub(cti-ext-{ref},s,1)")
        elif kind == "group" and ref in plan.groups:
            exten.add(f"Gosub(cti-group-{slug(ref)},s,1)")
        elif kind == "conference" and ref in plan.conferences:
            exten.add(f"Gosub(cti-room-{ref},s,1)")
        elif own is not None:
            exten.add(f"Gosub(cti-in-{own},s,1)")  # our own DID: its route decides, no trunk used
        elif kind == "number":
            self.external(exten, ref, owner, ref)
        elif kind == "mobile" and owner is not None and plan.extensions[owner].mobile:
            self.external(exten, plan.extensions[owner].mobile or "", owner, f"mobile of {owner}")
        else:
            exten.add(f"NoOp({text(str(target))}: nothing to ring - skipped)")

    def own_route(self, number: str) -> int | None:
        return next((i for i, r in enumerate(self.plan.inbound, start=1) if r.number == number), None)

    def external(self, exten: _Exten, number: str, owner: str | None, what: str) -> None:
        # Forwards are company policy: the first route that matches carries them, whoever calls.
        found = next((r for r in self.plan.outbound if _matches(r, number)), None)
        if found is None:
            exten.add(f"NoOp(no outbound route reaches {text(what)} - skipped)")
            return
        mode = self.plan.extensions[owner].recording.value if owner else RecordingMode.INHERIT.value
        self.dial_out(exten, found, found.prefix + number[found.strip :], RING_SECONDS, mode)

    def dial_out(
        self,
        exten: _Exten,
        route: OutboundRoute,
        dial: str,
        timeout: int | None,
        mode: str,
        extra: tuple[str, ...] = (),
    ) -> None:
        """Dial via the route's trunk, then its failover (and *extra*) when the trunk cannot carry it."""
        names = [
            n for n in dict.fromkeys((route.trunk, route.failover or "", *extra)) if n in self.plan.trunks
        ]
        if not names:
            exten.add(f"NoOp(outbound route {text(route.name or '')} has no known trunk)")
            return
        done = f"dialled-{len(exten.steps)}"
        for position, name in enumerate(names):
            caller_id = route.caller_id or self.plan.trunks[name].caller_id
            options = _options(False, mode, "${CTI_POLICY_OUT}", dial)
            if caller_id:
                options += f"b(cti-caller-id^s^1({caller_id}))"
            exten.add(f"Dial(PJSIP/{dial}@{name},{timeout or ''},{options})")
            exten.add('ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())')
            if position + 1 < len(names):
                # the next trunk only when this one could not carry the call, not when the callee said no
                carried = '"${DIALSTATUS}" != "CHANUNAVAIL" & "${DIALSTATUS}" != "CONGESTION"'
                exten.add(f"GotoIf($[{carried}]?{done})")
        if len(names) > 1:
            exten.mark(done)

    # the parts ------------------------------------------------------------------------------

    def build(self) -> dict[str, _Context]:
        self.subroutines()
        internal = self.context(self.internal, f"calls from our phones ({self.source})")
        limited = self.context(
            LIMITED_CONTEXT, "phones that are disabled or have no secret: emergency numbers only"
        )
        for ctx in (internal, limited):
            for number in self.plan.emergency:
                exten = ctx.exten(number, "emergency number: always allowed")
                exten.add(f"Gosub(cti-emergency,{number},1)")
                exten.add("Hangup()")
        self.emergency()
        self.from_phone(internal)
        self.outbound(internal)
        for number, ext in self.plan.extensions.items():
            self.extension(number, ext)
        for name, group in self.plan.groups.items():
            self.group(name, group)
        for room, conference in self.plan.conferences.items():
            self.room(room, conference.name)
        self.from_trunk()
        return self.contexts

    def subroutines(self) -> None:
        record = self.context(
            "sub-record",
            "MixMonitor on the leg that answered (Dial U()): ARG1 = the calling phone's own mode (empty\n"
            "from the trunk), ARG2 = the mode of this leg's extension (empty: the answering phone's own),\n"
            "ARG3 = the policy for this leg, ARG4 = the party rung (file name). The first always/never wins.",
        )
        exten = record.exten("s")
        undecided = '$["${mode}" != "always" & "${mode}" != "never"]'
        exten.add("Set(LOCAL(mode)=${ARG1})")
        exten.add(
            f'ExecIf({undecided}?Set(LOCAL(mode)=${{IF($["${{ARG2}}" = ""]?${{CTI_RECORDING}}:${{ARG2}})}}))'
        )
        exten.add(f"ExecIf({undecided}?Set(LOCAL(mode)=${{ARG3}}))")
        exten.add('GotoIf($["${mode}" != "always" | "${MIXMONITOR_FILENAME}" != ""]?done)')
        party = '${FILTER(0-9+*,${IF($["${ARG4}" = ""]?${CTI_EXTENSION}:${ARG4})})}'
        exten.add(
            f"Set(__REC_FILE={RECORDING_DIR}/${{STRFTIME(${{EPOCH}},,%Y%m%d-%H%M%S)}}"
            f"-${{FILTER(0-9+,${{CALLERID(num)}})}}-{party}-${{UNIQUEID}}.wav)"
        )
        exten.add("MixMonitor(${REC_FILE},b)")
        exten.add("Set(CDR(recordingfile)=${REC_FILE})")
        exten.add("Return()", label="done")
        hunt = self.context(
            "cti-hunt", "a hunt group's member answered: ARG1 = the group, the rest for sub-record"
        )
        exten = hunt.exten("s")
        exten.add("Set(GLOBAL(CTI_LAST_${ARG1})=${CTI_EXTENSION})")
        exten.add("Gosub(sub-record,s,1(${ARG2},${ARG3},${ARG4},${ARG5}))")
        exten.add("Return()")
        caller_id = self.context(
            "cti-caller-id", "pre-dial handler on the trunk leg: present ARG1 as the caller"
        )
        exten = caller_id.exten("s")
        exten.add("Set(CALLERID(num)=${ARG1})")
        exten.add("Return()")
        spy = self.context(
            "cti-spy",
            "listen / whisper / barge: ARG1 = the phone watched, ARG2 = ChanSpy options; only phones\n"
            f"holding the '{SUPERVISOR_CLASS}' class (CTI_CLASSES, set per endpoint in pjsip.conf) may",
        )
        exten = spy.exten("s")
        exten.add(f'GotoIf($[${{REGEX("(^|,){SUPERVISOR_CLASS}(,|$)" ${{CTI_CLASSES}})}}]?allowed)')
        exten.add("Hangup(21)")
        exten.add('GotoIf($["${CTI_EXTENSION}" = "${ARG1}"]?own)', label="allowed")
        exten.add("Answer()")
        exten.add("ChanSpy(PJSIP/${ARG1}-,${ARG2})")
        exten.add("Hangup()")
        exten.add("Hangup(21)", label="own")

    def emergency(self) -> None:
        ctx = self.context(
            "cti-emergency", "emergency numbers: no permission check; every trunk after the route's"
        )
        everything = tuple(self.plan.trunks)
        for number in self.plan.emergency:
            exten = ctx.exten(number)
            found = next((r for r in self.plan.outbound if _matches(r, number)), None)
            if found is not None:
                dial = found.prefix + number[found.strip :]
                self.dial_out(exten, found, dial, None, RecordingMode.INHERIT.value, everything)
            elif everything:
                route = OutboundRoute(match=("x",), trunk=everything[0])
                self.dial_out(exten, route, number, None, RecordingMode.INHERIT.value, everything)
            else:
                exten.add("NoOp(no trunk reaches the emergency number)")
            exten.add("Return()")

    def from_phone(self, ctx: _Context) -> None:
        plan, codes = self.plan, self.plan.feature_codes
        for code in codes.pickup:
            exten = ctx.exten(code, "pickup: a call ringing in one of the caller's (named) pickup groups")
            exten.add(f"UserEvent(CtiPickup,Code: {code})")
            exten.add("Pickup()")
            exten.add("Hangup()")
        for number, ext in plan.extensions.items():
            exten = ctx.exten(number, f"extension {number} {text(ext.name)}")
            exten.hint = f"PJSIP/{number}"
            # a fresh start: a trunk channel blind-transferred here keeps what its route visited
            exten.add("Set(CTI_SEEN=)")
            exten.add(f"Gosub(cti-ext-{number},s,1)")
            exten.add("Hangup()")
        for name, group in plan.groups.items():
            if group.number is not None:
                exten = ctx.exten(group.number, f"group {name}")
                exten.add("Set(CTI_SEEN=)")
                exten.add(f"Gosub(cti-group-{slug(name)},s,1)")
                exten.add("Hangup()")
        for room, conference in plan.conferences.items():
            exten = ctx.exten(room, f"conference room {text(conference.name)}")
            exten.add(f"Gosub(cti-room-{room},s,1)")
            exten.add("Hangup()")
        spies = (
            ("listen", codes.listen, "qE"),
            ("whisper", codes.whisper, "qwE"),
            ("barge", codes.barge, "qBE"),
        )
        for verb, prefix, options in spies:
            for number, ext in plan.extensions.items():
                if prefix is not None and not ext.disabled:
                    exten = ctx.exten(prefix + number, f"{verb} ({prefix} + {number})")
                    exten.add(f"Gosub(cti-spy,s,1({number},{options}))")
                    exten.add("Hangup()")

    def outbound(self, ctx: _Context) -> None:
        """Entry patterns for every route; cti-outbound tries the routes in plan order."""
        taken = {exten.name for exten in ctx.extens}
        patterns: list[str] = []
        inexact = False
        for route in self.plan.outbound:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", route.permission):
                raise RenderError(f"permission class {route.permission!r}: use letters, digits, _ and -")
            for regex in route.match:
                found = asterisk_patterns(regex)
                inexact = inexact or found is None
                patterns.extend(found or ())
        if inexact:
            patterns.extend(("_X!", "_+!", "_*!", "_#!"))
        for pattern in dict.fromkeys(patterns):
            if pattern not in taken:
                why = "catch-all for patterns Asterisk cannot express: REGEX() in cti-outbound decides"
                exten = ctx.exten(pattern, why if pattern.endswith("!") else "")
                exten.add("Gosub(cti-outbound,s,1(${EXTEN}))")
                exten.add("Hangup()")
        out = self.context(
            "cti-outbound",
            "outbound routes in plan order: the first whose pattern covers the number and whose\n"
            "permission class the phone holds (CTI_CLASSES, set per endpoint); none: rejected",
        )
        exten = out.exten("s")
        exten.add("Set(LOCAL(number)=${ARG1})")
        for index, route in enumerate(self.plan.outbound, start=1):
            test = " | ".join(f'${{REGEX("{posix_regex(r)}" ${{number}})}}' for r in route.match)
            allowed = f'${{REGEX("(^|,){route.permission}(,|$)" ${{CTI_CLASSES}})}}'
            exten.add(f"GotoIf($[({test}) & {allowed}]?route-{index})")
        exten.add("Hangup(21)")
        for index, route in enumerate(self.plan.outbound, start=1):
            label = text(route.name or f"#{index}")
            exten.add(f"NoOp(outbound route {label} - permission {route.permission})", label=f"route-{index}")
            dial = route.prefix + (f"${{number:{route.strip}}}" if route.strip else "${number}")
            self.dial_out(exten, route, dial, None, RecordingMode.INHERIT.value)
            exten.add("Return()")

    def extension(self, number: str, ext: Extension) -> None:
        ctx = self.context(f"cti-ext-{number}", f"extension {number} {text(ext.name)} and its forwards")
        exten = ctx.exten("s")
        if ext.disabled:
            exten.add("NoOp(disabled: never rung)")
            exten.add("Return()")
            return
        # each target once per call (CTI_SEEN), and never the caller itself
        exten.add(
            f'GotoIf($[${{REGEX("/ext{number}/" ${{CTI_SEEN}})}} | "${{CTI_EXTENSION}}" = "{number}"]?skip)'
        )
        exten.add(f"Set(CTI_SEEN=${{CTI_SEEN}}/ext{number}/)")
        forward = ext.forward
        if forward.always is not None:
            self.call(exten, forward.always, number)
            exten.add("Return()")
        else:
            if ext.dnd:
                exten.add("Goto(unavailable)")
            exten.add(f"Set(LOCAL(state)=${{DEVICE_STATE(PJSIP/{number})}})")
            exten.add('GotoIf($["${state}" = "UNAVAILABLE" | "${state}" = "INVALID"]?unavailable)')
            exten.add('GotoIf($[${REGEX("^(INUSE|BUSY|RINGINUSE|ONHOLD)$" ${state})}]?busy)')
            after = forward.no_answer.after if forward.no_answer is not None else RING_SECONDS
            exten.add(f"Dial(PJSIP/{number},{after},{_options(True, '', '${CTI_POLICY}', '')})")
            exten.add('ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())')
            exten.add('GotoIf($["${DIALSTATUS}" = "BUSY"]?busy)')
            exten.add('GotoIf($["${DIALSTATUS}" = "CHANUNAVAIL"]?unavailable)')
            if forward.no_answer is not None:
                self.call(exten, forward.no_answer.to, number)
            exten.add("Return()")
            for label, target in (("busy", forward.busy), ("unavailable", forward.unavailable)):
                exten.mark(label)
                if target is not None:
                    self.call(exten, target, number)
                exten.add("Return()")
        exten.add("Return()", label="skip")

    def group(self, name: str, group: Group) -> None:
        key = slug(name)
        ctx = self.context(
            f"cti-group-{key}", f"group {name} ({group.strategy.value}); members ring as plain phones"
        )
        exten = ctx.exten("s")
        exten.add(f'GotoIf($[${{REGEX("/group{key}/" ${{CTI_SEEN}})}}]?skip)')
        exten.add(f"Set(CTI_SEEN=${{CTI_SEEN}}/group{key}/)")
        members = [m for m in group.members if self.usable(m)]  # disabled and DND phones never ring
        if not members:
            exten.add("NoOp(nobody in the group can take a call)")
        elif group.strategy is GroupStrategy.RINGALL:
            self.ringall(exten, members, group.timeout)
        elif group.strategy is GroupStrategy.SEQUENTIAL:
            self.sequential(exten, members, group, "", "")
        else:
            # hunt: start after whoever answered last (remembered in a global by cti-hunt)
            for member in members:
                exten.add(f'GotoIf($["${{GLOBAL(CTI_LAST_{key})}}" = "{member}"]?after-{member})')
            for index in (len(members) - 1, *range(len(members) - 1)):
                start = (index + 1) % len(members)
                exten.mark(f"after-{members[index]}")
                self.sequential(exten, members[start:] + members[:start], group, key, f"r{index}-")
                exten.add("Goto(overflow)")
            exten.mark("overflow")
        if group.overflow is not None:
            self.call(exten, group.overflow, None)
        exten.add("Return()")
        exten.add("Return()", label="skip")

    def ringall(self, exten: _Exten, members: list[str], timeout: int) -> None:
        # the caller is left out of its own group: one Dial per member it could be
        for member in members:
            exten.add(f'GotoIf($["${{CTI_EXTENSION}}" = "{member}"]?without-{member})')
        for index, ring in enumerate([members] + [[m for m in members if m != x] for x in members]):
            if index:
                exten.mark(f"without-{members[index - 1]}")
            phones = "&".join(f"PJSIP/{m}" for m in ring)
            options = _options(True, "", "${CTI_POLICY}", "")
            exten.add(f"Dial({phones},{timeout},{options})" if ring else "NoOp(nobody else to ring)")
            exten.add("Goto(rung)")
        exten.add('ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())', label="rung")

    def sequential(self, exten: _Exten, members: list[str], group: Group, hunt: str, tag: str) -> None:
        # The time budget is static: each member gets min(member_timeout, what is left) by position,
        # as cti.routing gives it when every member can ring; one who cannot is skipped at once.
        left = group.timeout
        for position, member in enumerate(members):
            exten.mark(f"{tag}m{position}")
            if left <= 0:
                exten.add(f"NoOp(the group's {group.timeout} s are used up before {member})")
                return
            seconds = min(group.member_timeout, left)
            left -= seconds
            following = f"{tag}m{position + 1}"
            exten.add(f'GotoIf($["${{CTI_EXTENSION}}" = "{member}"]?{following})')
            exten.add(
                f'GotoIf($[${{REGEX("{_BUSY_STATES}" ${{DEVICE_STATE(PJSIP/{member})}})}}]?{following})'
            )
            exten.add(f"Dial(PJSIP/{member},{seconds},{_options(True, '', '${CTI_POLICY}', '', hunt)})")
            exten.add('ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())')
        exten.mark(f"{tag}m{len(members)}")

    def room(self, room: str, name: str) -> None:
        ctx = self.context(f"cti-room-{room}", f"conference room {room} {text(name)}")
        exten = ctx.exten("s")
        # ConfBridge records a room, not a leg: whoever opens it decides, by the rule of sub-record
        exten.add("Set(LOCAL(rec)=${CTI_RECORDING})")
        exten.add('ExecIf($["${rec}" != "always" & "${rec}" != "never"]?Set(LOCAL(rec)=${CTI_POLICY}))')
        exten.add(f'ExecIf($["${{rec}}" = "always"]?Set(CONFBRIDGE(bridge,template)=cti-room-{room}))')
        exten.add('ExecIf($["${rec}" = "always"]?Set(CONFBRIDGE(bridge,record_conference)=yes))')
        exten.add("Answer()")
        exten.add(f"ConfBridge({room},cti-room-{room},cti-room-{room}-user)")
        exten.add("Hangup()")

    def from_trunk(self) -> None:
        ctx = self.context(
            "from-trunk", f"calls from the carrier, by the number dialled (DID) ({self.source})"
        )
        seen: set[str] = set()
        for index, route in enumerate(self.plan.inbound, start=1):
            self.inbound_route(index, route)
            if route.number in seen:
                continue  # the first route for a DID decides
            seen.add(route.number)
            names = ("_X!", "_+!", "s") if route.number == "any" else (route.number,)
            for position, name in enumerate(names):
                exten = ctx.exten(name, "" if position else f"inbound route {route.number} ({self.source})")
                exten.add("UserEvent(CtiInbound,Did: ${FILTER(0-9+,${EXTEN})})")
                exten.add(f"Gosub(cti-in-{index},s,1)")
                exten.add("Hangup()")
            if route.number != "any":
                alias = ctx.exten(route.number.removeprefix("+"), "the same DID as the carrier may send it")
                alias.add(f"Goto({route.number},1)")
        if "any" not in seen:
            exten = ctx.exten("_X!", "no route for this DID (and no 'any' route)")
            exten.add("UserEvent(CtiInbound,Did: ${FILTER(0-9+,${EXTEN})})")
            exten.add("Hangup(1)")

    def inbound_route(self, index: int, route: InboundRoute) -> None:
        ctx = self.context(f"cti-in-{index}", f"inbound route {route.number} ({self.source})")
        exten = ctx.exten("s")
        key = "did" + slug(route.number)
        exten.add(f'GotoIf($[${{REGEX("/{key}/" ${{CTI_SEEN}})}}]?skip)')
        exten.add(f"Set(CTI_SEEN=${{CTI_SEEN}}/{key}/)")
        if route.caller_id_name:
            exten.add(f"Set(CALLERID(name)={text(route.caller_id_name)}: ${{CALLERID(name)}})")
        if route.responsible_first:
            self.notes.append(f"inbound route {route.number}: responsible_first")
            exten.add("NoOp(responsible_first is not rendered: it needs the CRM at call time)")
        schedule = self.plan.schedules.get(route.schedule) if route.schedule else None
        if schedule is not None:
            self.schedule(exten, schedule)
        self.call(exten, route.to, None)
        if route.fallback is not None:
            self.call(exten, route.fallback, None)
        exten.add("Return()")
        if schedule is not None:
            exten.mark("closed")
            if route.otherwise is not None:
                self.call(exten, route.otherwise, None)
            else:
                exten.add("Hangup()")
            exten.add("Return()")
        exten.add("Return()", label="skip")

    def schedule(self, exten: _Exten, schedule: Schedule) -> None:
        """GotoIfTime in the schedule's zone; holidays by local date (GotoIfTime knows no year)."""
        zone = str(self.plan.zone(schedule))
        holidays = self.plan.holidays_of(schedule)
        if holidays:
            exten.add(f"Set(LOCAL(today)=${{STRFTIME(${{EPOCH}},{zone},%Y-%m-%d)}})")
        for day in holidays:
            exten.add(f'GotoIf($["${{today}}" = "{day.isoformat()}"]?closed)')
        for spans, days in _day_runs(schedule):
            for span in spans:
                # GotoIfTime's end minute is inclusive, the plan's end exclusive (24:00 is time.max)
                end = span.end.hour * 60 + span.end.minute - (0 if span.end == time.max else 1)
                times = f"{span.start:%H:%M}-{end // 60:02d}:{end % 60:02d}"
                exten.add(f"GotoIfTime({times},{days},*,*,{zone}?open)")
        exten.add("Goto(closed)")
        exten.mark("open")


def _day_runs(schedule: Schedule) -> list[tuple[tuple[TimeRange, ...], str]]:
    """Consecutive weekdays with the same hours, as GotoIfTime writes them: ``mon-fri``."""
    runs: list[tuple[tuple[TimeRange, ...], str]] = []
    start = 0
    for i in range(1, len(DAYS) + 1):
        if i < len(DAYS) and schedule.hours.get(DAYS[i], ()) == schedule.hours.get(DAYS[start], ()):
            continue
        spans = schedule.hours.get(DAYS[start], ())
        if spans:
            runs.append((spans, DAYS[start] if i - 1 == start else f"{DAYS[start]}-{DAYS[i - 1]}"))
        start = i
    return runs


def _matches(route: OutboundRoute, number: str) -> bool:
    return any(re.fullmatch(pattern, number) for pattern in route.match)


# -- the other files -----------------------------------------------------------------------------
