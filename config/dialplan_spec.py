"""The dialplan schema: what ``config/dialplan.yaml`` may say, as frozen, typed values.

Field syntax is checked here (numbers, durations, targets, schedules); the checks that need the
whole plan (unknown targets, duplicates, collisions with feature codes, loops...) live in
:mod:`config.dialplan`, which also turns every error into ``FILE:LINE:COLUMN: problem``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DAYS",
    "SUPERVISOR_CLASS",
    "Conference",
    "DialplanSpec",
    "Extension",
    "FeatureCodes",
    "Forwarding",
    "Group",
    "GroupStrategy",
    "InboundRoute",
    "NoAnswerForward",
    "OutboundRoute",
    "RecordingMode",
    "RecordingPolicy",
    "Schedule",
    "Target",
    "TimeRange",
    "Trunk",
    "parse_duration",
    "parse_target",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUPERVISOR_CLASS = "supervisor"
"The permission class a phone needs to use the listen / whisper / barge codes."
_NUMBER = re.compile(r"^[0-9*#]{1,15}$")
"A number dialled on a keypad: extensions, group numbers, rooms, feature codes."
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h)?$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: Any) -> int:
    """``20``, ``"20s"``, ``"2m"``, ``"1h"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (expected seconds, or e.g. 20s, 2m)")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value).strip())
        if match is None:
            raise ValueError(f"{value!r} is not a duration (expected seconds, or e.g. 20s, 2m)")
        seconds = int(match.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    if not 1 <= seconds <= 86_400:
        raise ValueError(f"{value!r} is out of range (expected 1 s to 24 h)")
    return seconds


Seconds = Annotated[int, BeforeValidator(parse_duration)]


def _keypad(value: Any) -> str:
    text = str(value)
    if not _NUMBER.match(text):
        raise ValueError(f"{text!r} is not a number to dial (expected digits, * and #, at most 15)")
    return text


Dialable = Annotated[str, BeforeValidator(_keypad)]


def _e164(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted +74951234567 as the integer 74951234567: the + is gone
        raise ValueError(f'{value} was read as a number (expected a phone number in quotes, e.g. "+{value}")')
    text = str(value)
    if not _E164.match(text):
        raise ValueError(f"{text!r} is not a phone number in E.164 (expected e.g. +74951234567)")
    return text


E164 = Annotated[str, BeforeValidator(_e164)]

# Everything below ends up in Asterisk's configuration files and dialplan: a line break, a `;` or a
# bracket there would write configuration of its own. Names are identifiers; free text is one line.
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.:/-]{1,253}$|^\[[0-9A-Fa-f:.]+\](/\d{1,3})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _matching(pattern: re.Pattern[str], problem: str) -> Callable[[Any], str]:
    """A validator: the text must match *pattern*, else ``'<text>' <problem>``."""

    def check(value: Any) -> str:
        text = str(value)
        if not pattern.match(text):
            raise ValueError(f"{text!r} {problem}")
        return text

    return check


_identifier = _matching(_IDENTIFIER, "is not a name (expected a letter, then letters, digits, _ or -)")
_host = _matching(_HOST, "is not a host name or IP address")
_address = _matching(_ADDRESS, "is not an IP address, network (a.b.c.d/nn) or host name")


def _one_line(value: Any) -> str:
    text = str(value)
    if _CONTROL.search(text):
        raise ValueError("contains a line break or another control character (expected one line of text)")
    return text


def _credential(value: Any) -> str:
    text = str(value)
    if _CONTROL.search(text) or text != text.strip():
        raise ValueError("may not contain control characters or start or end with a space")
    return text


Name = Annotated[str, BeforeValidator(_identifier)]
Text = Annotated[str, BeforeValidator(_one_line)]
Credential = Annotated[str, BeforeValidator(_credential)]


class Target(_Spec):
    """Where a call goes: ``ext:101``, ``group:sales``, ``conference:800``, ``number:+7...``,
    ``mobile`` (the extension's own mobile, in forwards only) or ``hangup``."""

    kind: Literal["ext", "group", "conference", "number", "mobile", "hangup"]
    ref: str = ""

    def __str__(self) -> str:
        return self.kind if not self.ref else f"{self.kind}:{self.ref}"


_TARGET_KINDS = ("ext", "group", "conference", "number")


def parse_target(value: Any) -> Target:
    if isinstance(value, Target):
        return value
    text = str(value).strip()
    if text in ("hangup", "mobile"):
        return Target(kind=text)  # type: ignore[arg-type]
    kind, colon, ref = text.partition(":")
    kind, ref = kind.strip(), ref.strip()
    if not colon or kind not in _TARGET_KINDS or not ref:
        raise ValueError(
            f"{text!r} is not a target (expected ext:NUMBER, group:NAME, conference:ROOM, "
            "number:+E164, mobile or hangup)"
        )
    if kind == "number":
        _e164(ref)
    elif kind in ("ext", "conference"):
        _keypad(ref)
    return Target(kind=kind, ref=ref)  # type: ignore[arg-type]


TargetRef = Annotated[Target, BeforeValidator(parse_target)]


class RecordingMode(StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    INHERIT = "inherit"


class NoAnswerForward(_Spec):
    to: TargetRef
    after: Seconds = 20


class Forwarding(_Spec):
    always: TargetRef | None = None
    busy: TargetRef | None = None
    no_answer: NoAnswerForward | None = None
    unavailable: TargetRef | None = None
    "When the phone is not registered (or DND)."


class Extension(_Spec):
    name: Text = Field(min_length=1, max_length=100)
    user: str | None = None
    "The CRM login of the employee at this phone."
    secret: str | None = Field(None, min_length=8, max_length=128)
    "SIP password of the phone (stored by the PBX as a digest hash)."
    mobile: E164 | None = None
    forward: Forwarding = Forwarding()
    dnd: bool = False
    recording: RecordingMode = RecordingMode.INHERIT
    outbound: tuple[Name, ...] = ("national",)
    "Permission classes the phone holds; an outbound route names the class it needs."
    disabled: bool = False

    @field_validator("secret")
    @classmethod
    def _secret_is_one_token(cls, value: str | None) -> str | None:
        return None if value is None else _credential(value)


class GroupStrategy(StrEnum):
    RINGALL = "ringall"
    SEQUENTIAL = "sequential"
    HUNT = "hunt"
    "Like sequential, but starts after the member who answered last (spreads the calls)."


class Group(_Spec):
    name: Text | None = None
    number: Dialable | None = None
    "Optional internal number that rings the group."
    strategy: GroupStrategy = GroupStrategy.RINGALL
    members: tuple[Dialable, ...] = Field(min_length=1)
    member_timeout: Seconds = 15
    "Sequential and hunt: how long each member rings."
    timeout: Seconds = 30
    "How long the group rings in all before the overflow target."
    pickup: bool = True
    "Members form a pickup group: *11 / 40 takes a call ringing at any of them."
    overflow: TargetRef | None = None


class AnnouncedTransfer(_Spec):
    prefix: str = Field("*", pattern=r"^[*#0-9]{1,3}$")
    terminator: str = Field("#", pattern=r"^[*#]$")


class FeatureCodes(_Spec):
    pickup: tuple[Dialable, ...] = ("*11", "40")
    announced_transfer: AnnouncedTransfer = AnnouncedTransfer()
    listen: Dialable | None = "555"
    """Supervisor listens: the prefix and the extension (555101 -> 101's call); the phone needs
    the ``supervisor`` permission class."""
    whisper: Dialable | None = "556"
    barge: Dialable | None = "557"


class Conference(_Spec):
    name: Text = Field(min_length=1, max_length=100)
    pin: str | None = Field(None, pattern=r"^\d{3,10}$")


class Trunk(_Spec):
    host: Annotated[str, BeforeValidator(_host)]
    port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    username: Credential | None = None
    secret: Credential | None = None
    registers: bool = Field(False, alias="register")
    "``register: true``: keep a registration with the carrier (digest, refreshed before expiry)."
    numbers: tuple[E164, ...] = ()
    "The DIDs this trunk carries."
    caller_id: E164 | None = None
    "The number presented on outbound calls unless a route says otherwise."
    allow_from: tuple[Annotated[str, BeforeValidator(_address)], ...] = ()
    "Addresses inbound calls may come from (default: the host)."

    @model_validator(mode="after")
    def _credentials_for_registration(self) -> Trunk:
        if self.registers and not (self.username and self.secret):
            raise ValueError("register: true needs username and secret (expected both, or register: false)")
        return self


class TimeRange(_Spec):
    start: time
    end: time
    "Exclusive; 24:00 is written as 23:59:59.999999."


def _time(text: str) -> time:
    if not _TIME.match(text):
        raise ValueError(f"{text!r} is not a time (expected HH:MM, 00:00 to 24:00)")
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _day_set(text: str) -> tuple[str, ...]:
    """``mon-fri``, ``sat``, ``mon,wed,fri`` -> the days."""
    days: list[str] = []
    for part in text.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise ValueError(f"{text!r} is not a day or day range (expected e.g. mon-fri, sat, mon,wed)")
        if not dash:
            days.append(first)
            continue
        start, stop = DAYS.index(first), DAYS.index(last)
        if stop < start:
            raise ValueError(f"{text!r} runs backwards (expected e.g. mon-fri)")
        days.extend(DAYS[start : stop + 1])
    return tuple(days)


def _ranges(text: Any) -> tuple[TimeRange, ...]:
    """``09:00-18:00`` or ``09:00-13:00, 14:00-18:00`` (or a list of ranges); ``closed`` for none."""
    if isinstance(text, list | tuple):
        return tuple(span for part in text for span in _ranges(part))
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a time range (expected HH:MM-HH:MM, or closed)")
    if text.strip().lower() == "closed":
        return ()
    out = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not dash:
            raise ValueError(f"{part.strip()!r} is not a time range (expected HH:MM-HH:MM)")
        start, end = _time(first.strip()), _time(last.strip())
        if end <= start:
            raise ValueError(
                f"{part.strip()!r} ends before it starts (expected start < end; split a night shift at 24:00)"
            )
        out.append(TimeRange(start=start, end=end))
    return tuple(out)


class Schedule(_Spec):
    """Open hours per weekday, closed on holidays, in a time zone."""

    timezone: str | None = None
    "Default: the plan's timezone."
    hours: dict[str, tuple[TimeRange, ...]] = Field(default_factory=dict)
    "Per weekday (mon..sun) after expansion of ``mon-fri`` style keys; a missing day is closed."
    holidays: tuple[date, ...] | str = ()
    "Dates closed all day, or the name of a list in the plan's ``holidays``."

    @field_validator("hours", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> dict[str, tuple[TimeRange, ...]]:
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of days to hours, e.g. {mon-fri: '09:00-18:00'}")
        out: dict[str, tuple[TimeRange, ...]] = {}
        given: dict[str, str] = {}
        for key, ranges in value.items():
            for day in _day_set(str(key)):
                if day in out:
                    raise ValueError(
                        f"{day} is given twice, in {given[day]!r} and {key!r} (expected each day once)"
                    )
                given[day] = str(key)
                is_ranges = isinstance(ranges, tuple) and all(isinstance(span, TimeRange) for span in ranges)
                out[day] = ranges if is_ranges else _ranges(ranges)
        return out

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone_info(value)
        return value


def _zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (expected e.g. Europe/Moscow)") from None


def _did(value: Any) -> str:
    return "any" if str(value) == "any" else _e164(value)


class InboundRoute(_Spec):
    number: Annotated[str, BeforeValidator(_did)]
    "The DID dialled, or ``any`` for calls no other route matches."
    to: TargetRef
    schedule: str | None = None
    "When set, ``to`` applies while the schedule is open, ``otherwise`` when it is closed."
    otherwise: TargetRef | None = None
    fallback: TargetRef | None = None
    "Where the call goes when ``to`` does not answer (or is busy)."
    responsible_first: bool = False
    "A caller the CRM knows rings their responsible manager first."
    responsible_timeout: Seconds = 15
    caller_id_name: Text | None = None
    "A label put before the caller's name on the phones' displays (e.g. 'Sales line')."


class OutboundRoute(_Spec):
    name: Text | None = None
    match: tuple[str, ...] = Field(min_length=1)
    "Regular expressions over the dialled number (a match must cover the whole number)."
    strip: int = Field(0, ge=0, le=15)
    "Digits removed from the front before the prefix."
    prefix: str = Field("", pattern=r"^[+0-9*#]*$")
    trunk: str
    failover: str | None = None
    permission: Name = "national"
    "The class an extension must hold to use this route (see extensions' ``outbound``)."
    caller_id: E164 | None = None

    @field_validator("match", mode="before")
    @classmethod
    def _patterns(cls, value: Any) -> tuple[str, ...]:
        if not isinstance(value, str | list | tuple):
            return value  # the type check says what is wrong
        patterns = (value,) if isinstance(value, str) else tuple(value)
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise ValueError(f"{pattern!r} is not a regular expression (expected text in quotes)")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"{pattern!r} is not a regular expression: {exc} (expected e.g. '^8\\d{{10}}$')"
                ) from None
        return patterns


class RecordingPolicy(_Spec):
    inbound: Literal["always", "never"] = "always"
    outbound: Literal["always", "never"] = "always"
    internal: Literal["always", "never"] = "never"


class DialplanSpec(_Spec):
    """The whole plan; a valid one has passed :func:`config.dialplan.check` too."""

    timezone: str = "Europe/Moscow"
    default_region: str = Field("RU", min_length=2, max_length=2)
    extensions: dict[Dialable, Extension] = Field(default_factory=dict)
    groups: dict[Name, Group] = Field(default_factory=dict)
    feature_codes: FeatureCodes = FeatureCodes()
    conferences: dict[Dialable, Conference] = Field(default_factory=dict)
    trunks: dict[Name, Trunk] = Field(default_factory=dict)
    inbound: tuple[InboundRoute, ...] = ()
    outbound: tuple[OutboundRoute, ...] = ()
    emergency: tuple[Dialable, ...] = ("112",)
    "Numbers every phone may call, whatever its permission classes."
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    holidays: dict[Name, tuple[date, ...]] = Field(default_factory=dict)
    "Named holiday lists that schedules may refer to."
    recording: RecordingPolicy = RecordingPolicy()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _zone_info(value)
        return value

    def zone(self, schedule: Schedule | None = None) -> ZoneInfo:
        return ZoneInfo(schedule.timezone if schedule is not None and schedule.timezone else self.timezone)

    def holidays_of(self, schedule: Schedule) -> tuple[date, ...]:
        if isinstance(schedule.holidays, str):
            return self.holidays.get(schedule.holidays, ())
        return schedule.holidays
