"""Open or closed: a dialplan schedule read at one instant, in the schedule's own wall-clock time.

Hours are wall-clock hours: at any instant the schedule is open when the local time (in the
schedule's zone, else the plan's) falls in one of that weekday's ranges. So DST needs no special
case: on a spring-forward day the skipped hour is simply never seen, and after a fall-back the
repeated hour is open (or closed) both times. A holiday closes its whole local day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from config.dialplan_spec import DAYS, DialplanSpec, Schedule, TimeRange

__all__ = ["ScheduleState", "format_ranges", "is_open", "local_label", "schedule_state"]

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What a schedule says at one instant, and why (for ``cti dialplan explain``)."""

    is_open: bool
    local: datetime
    "The instant in the schedule's zone."
    why: str
    "E.g. ``'Sat 19:00 Europe/Moscow: no hours on Saturdays'``."


def _covers(span: TimeRange, moment: time) -> bool:
    # 24:00 is stored as time.max; a range ending there runs to the end of the day, inclusive of
    # the last microsecond.
    return span.start <= moment and (moment < span.end or span.end == time.max)


def is_open(schedule: Schedule, at: datetime, zone: ZoneInfo, holidays: Iterable[date] = ()) -> bool:
    """Return whether *schedule* is open at the aware instant *at*, read in *zone*."""
    local = at.astimezone(zone)
    if local.date() in set(holidays):
        return False
    moment = local.time()
    return any(_covers(span, moment) for span in schedule.hours.get(DAYS[local.weekday()], ()))


def _hhmm(moment: time) -> str:
    return "24:00" if moment == time.max else moment.strftime("%H:%M")


def format_ranges(spans: Iterable[TimeRange]) -> str:
    """``'09:00-13:00, 14:00-18:00'``; ``'closed'`` for none."""
    text = ", ".join(f"{_hhmm(span.start)}-{_hhmm(span.end)}" for span in spans)
    return text or "closed"


def local_label(local: datetime) -> str:
    """``'Sat 2026-11-28 19:00 Europe/Moscow'`` (weekday names do not follow the locale)."""
    return f"{DAYS[local.weekday()].capitalize()} {local:%Y-%m-%d %H:%M} {local.tzinfo}"


def schedule_state(plan: DialplanSpec, schedule: Schedule, at: datetime) -> ScheduleState:
    """Read *schedule* of *plan* at *at*, with the reason in words."""
    zone = plan.zone(schedule)
    holidays = plan.holidays_of(schedule)
    local = at.astimezone(zone)
    when = f"{DAYS[local.weekday()].capitalize()} {local:%H:%M} {zone}"
    if local.date() in holidays:
        return ScheduleState(False, local, f"{local:%Y-%m-%d} is a holiday")
    spans = schedule.hours.get(DAYS[local.weekday()], ())
    day = _DAY_NAMES[local.weekday()]
    if not spans:
        return ScheduleState(False, local, f"{when}: no hours on {day}s")
    opened = is_open(schedule, at, zone)
    return ScheduleState(opened, local, f"{when}: hours on {day}s {format_ranges(spans)}")
