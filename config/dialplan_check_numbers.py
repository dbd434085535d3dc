"""Plan-wide checks of what phones dial: the region, extensions, groups and the numbering plan.

Extensions (logins, mobiles, forwards), groups (members, strategies, overflows), then the numbers
dialled from an idle phone: each used once and none the beginning of another (an error when a
feature code or an emergency number is involved, a warning between plain numbers), and the
announced-transfer clash where a pickup code cuts a transfer short during a call.
"""

from __future__ import annotations

import phonenumbers

from config.dialplan_check_base import NO_EXTENSIONS, NUMBER_NOUNS, DialledNumber, PlanChecker, one_of
from config.dialplan_issues import Loc
from config.dialplan_spec import GroupStrategy

__all__ = ["NumberingChecks"]

_FEATURE_KINDS = ("pickup", "listen", "whisper", "barge", "emergency")
_PREFIX_VERBS = {"listen": "listening in on", "whisper": "whispering to", "barge": "barging in on"}


class NumberingChecks(PlanChecker):
    """The region, extensions, groups, dialled numbers and announced transfer."""

    def region(self) -> None:
        region = self.spec.default_region
        if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            self.error(
                ("default_region",),
                f"{region!r} is not a region (expected a two-letter country code, e.g. RU)",
            )

    def extensions(self) -> None:
        users: dict[str, str] = {}
        for number, extension in self.spec.extensions.items():
            here: Loc = ("extensions", number)
            node = f"ext:{number}"
            self.node_loc[node] = here
            if extension.user is not None:
                if extension.user in users:
                    other = users[extension.user]
                    self.warn(
                        (*here, "user"),
                        f"user {extension.user!r} is also at extension {other} "
                        f"({self.pos.where(('extensions', other, 'user'))}; "
                        "expected one extension per login)",
                    )
                else:
                    users[extension.user] = number
            if extension.mobile is not None:
                parsed = self.phone_number(extension.mobile, (*here, "mobile"), what="mobile ")
                if (
                    parsed is not None
                    and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE
                ):
                    self.warn(
                        (*here, "mobile"),
                        f"mobile {extension.mobile} is a fixed-line number, not a mobile "
                        "(forwards still work; expected e.g. +79161234567)",
                    )
            forward = extension.forward
            floc: Loc = (*here, "forward")
            for key in ("always", "busy", "unavailable"):
                self.link(node, getattr(forward, key), (*floc, key), forward_of=number)
            if forward.no_answer is not None:
                self.link(node, forward.no_answer.to, (*floc, "no_answer", "to"), forward_of=number)
            if forward.always is not None:
                for key in ("busy", "no_answer", "unavailable"):
                    if getattr(forward, key) is not None:
                        self.warn(
                            (*floc, key),
                            f"forward.{key} is never used: forward.always sends every call away first "
                            "(expected always alone, or no always)",
                        )

    def groups(self) -> None:
        extensions = self.spec.extensions
        for name, group in self.spec.groups.items():
            here: Loc = ("groups", name)
            self.node_loc[f"group:{name}"] = here
            seen: set[str] = set()
            for index, member in enumerate(group.members):
                loc = (*here, "members", index)
                if member in seen:
                    self.error(loc, f"member {member} is listed twice (expected each extension once)")
                elif member not in extensions:
                    choices = one_of(extensions, NO_EXTENSIONS)
                    self.error(loc, f"member {member} is not an extension (expected {choices})")
                elif extensions[member].disabled:
                    self.warn(
                        loc, f"member {member} is disabled and never rings (expected extensions in service)"
                    )
                seen.add(member)
            ordered = group.strategy in (GroupStrategy.SEQUENTIAL, GroupStrategy.HUNT)
            if ordered and len(group.members) == 1:
                self.warn(
                    (*here, "strategy"),
                    f"strategy {group.strategy} with a single member just rings that phone "
                    "(expected two or more members, or strategy ringall)",
                )
            if ordered and group.member_timeout > group.timeout:
                self.warn(
                    (*here, "member_timeout"),
                    f"member_timeout {group.member_timeout} s is longer than timeout {group.timeout} s, "
                    "so only the first member rings (expected member_timeout at most timeout)",
                )
            if not ordered and "member_timeout" in group.model_fields_set:
                self.warn(
                    (*here, "member_timeout"),
                    "member_timeout has no effect with strategy ringall "
                    "(expected it only with sequential or hunt)",
                )
            self.link(f"group:{name}", group.overflow, (*here, "overflow"))

    def numbers(self) -> None:
        """Each dialled number means one thing, and none is the beginning of another."""
        numbers = self.dialled()
        firsts: dict[str, DialledNumber] = {}
        for item in numbers:
            first = firsts.setdefault(item.number, item)
            if first is not item:
                self.duplicate(first, item)
        for short in numbers:
            for long in numbers:
                if long.number != short.number and long.number.startswith(short.number):
                    self.prefix(short, long)

    def duplicate(self, first: DialledNumber, second: DialledNumber) -> None:
        if not self.pos.has(second.loc):
            return
        where = self.pos.where(first.loc)
        if first.kind == second.kind:
            message = f"{second.number} is listed twice (first at {where}; expected each number once)"
            self.error(second.loc, message)
            return
        emergency = next((item for item in (first, second) if item.kind == "emergency"), None)
        if emergency is not None:
            other = second if emergency is first else first
            loc = other.loc if self.pos.has(other.loc) else emergency.loc
            self.error(
                loc,
                f"{other.label} is also emergency number {other.number} "
                f"({self.pos.where(emergency.loc)}): dialling {other.number} must reach the emergency "
                "service (expected a number not listed in emergency)",
            )
            return
        self.error(
            second.loc,
            f"{second.label} has the number of {first.label} "
            f"({where}; expected each number to mean one thing)",
        )

    def prefix(self, short: DialledNumber, long: DialledNumber) -> None:
        features = short.kind in _FEATURE_KINDS or long.kind in _FEATURE_KINDS
        at_long = self.pos.has(long.loc)
        if not at_long and not self.pos.has(short.loc):
            return
        if at_long:
            subject, loc = f"{long.label} begins with {short.label} ({self.pos.where(short.loc)})", long.loc
        else:
            subject, loc = (
                f"{short.label} is the beginning of {long.label} ({self.pos.where(long.loc)})",
                short.loc,
            )
        if short.kind in _PREFIX_VERBS and long.kind in _PREFIX_VERBS:
            message = (
                f"{subject}, so {long.number} followed by an extension is ambiguous "
                "(expected prefixes where none is the beginning of another)"
            )
        elif short.kind in _PREFIX_VERBS:
            rest = long.number[len(short.number) :]
            noun = NUMBER_NOUNS.get(long.kind, "a number")
            message = (
                f"{subject}: a phone that dials as soon as the digits make a known number stops at "
                f"{long.number}, so {_PREFIX_VERBS[short.kind]} an extension starting with {rest} "
                f"cannot be dialled (expected {noun} that does not begin with {short.number})"
            )
        else:
            message = (
                f"{subject}: a phone that dials as soon as the digits make a known number stops at "
                f"{short.number} (expected numbers where none is the beginning of another)"
            )
        if features:
            self.error(loc, message)
        else:
            self.warn(loc, message)

    def transfer(self) -> None:
        """During a call a pickup code acts as soon as it is complete: ``*11`` cuts ``*110#`` short."""
        codes = self.spec.feature_codes
        prefix, end = codes.announced_transfer.prefix, codes.announced_transfer.terminator
        targets = [item for item in self.dialled() if item.kind in NUMBER_NOUNS]
        for index, code in enumerate(codes.pickup):
            if not code.startswith(prefix):
                continue
            code_loc: Loc = ("feature_codes", "pickup", index)
            rest = code[len(prefix) :]
            if not rest:
                self.error(
                    code_loc,
                    f"pickup code {code} is the announced-transfer prefix, so no transfer can be dialled "
                    f"(expected a pickup code other than {prefix})",
                )
                continue
            for item in targets:
                if item.number.startswith(rest):
                    self.error(
                        item.loc,
                        f"{item.label}: during a call {prefix}{item.number}{end} (announced transfer) begins "
                        f"with pickup code {code} ({self.pos.where(code_loc)}), which acts as soon as it is "
                        f"dialled (expected numbers that do not start with {rest}, or another "
                        "announced_transfer prefix)",
                    )
