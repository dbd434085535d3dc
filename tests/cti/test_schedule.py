"""Schedules read at an instant: wall-clock hours, day boundaries, 24:00, holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config.dialplan_spec import DAYS, DialplanSpec, Schedule
from cti.schedule import format_ranges, is_open, schedule_state

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ("Europe/Berlin", "America/New_York", "Europe/Moscow", "Australia/Lord_Howe", "Asia/Kolkata")
"Lord Howe moves its clocks by 30 minutes; Kolkata sits on a half hour and has no DST."

# No example database (no .hypothesis/ in the work tree); no timing checks on a busy CI machine.
PROPERTY = settings(
    database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)


def schedule(hours: dict[str, str], **more: object) -> Schedule:
    return Schedule.model_validate({"hours": hours, **more})


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    """An instant given by its wall time in *zone*, handed over in UTC (as a PBX would)."""
    return datetime(*args, tzinfo=zone, fold=fold).astimezone(UTC)


def transitions(zone: ZoneInfo) -> list[datetime]:
    """The UTC instants in 2025-2027 when *zone* changes its offset (hour by hour scan)."""
    found = []
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year < 2028:
        moment += timedelta(minutes=30)
        now = moment.astimezone(zone).utcoffset()
        if now != offset:
            found.append(moment)
            offset = now
    return found


TRANSITIONS = {name: transitions(ZoneInfo(name)) for name in ZONES}


class TestIsOpen:
    def test_start_is_open_and_end_is_closed(self):
        """
        A range includes its start minute and excludes its end: 09:00 open, 18:00 closed.
        """
        weekdays = schedule({"mon-fri": "09:00-18:00"})
        friday = (2026, 11, 27)

        assert [False, True, True, False] == [
            is_open(weekdays, at(MOSCOW, *friday, h, m), MOSCOW)
            for h, m in ((8, 59), (9, 0), (17, 59), (18, 0))
        ]

    def test_24_00_runs_to_the_last_microsecond_and_the_next_day_is_its_own(self):
        """
        ``18:00-24:00`` on Friday is open at 23:59:59.999999; Saturday 00:00 follows Saturday's hours.
        """
        evenings = schedule({"fri": "18:00-24:00"})

        assert is_open(evenings, at(MOSCOW, 2026, 11, 27, 23, 59, 59, 999_999), MOSCOW)
        assert not is_open(evenings, at(MOSCOW, 2026, 11, 28, 0, 0), MOSCOW)

    def test_night_shift_split_at_midnight(self):
        """
        A night shift written as ``fri 22:00-24:00`` + ``sat 00:00-06:00`` is open across midnight.
        """
        night = schedule({"fri": "22:00-24:00", "sat": "00:00-06:00"})

        assert [True, True, True, False] == [
            is_open(night, at(MOSCOW, *when), MOSCOW)
            for when in (
                (2026, 11, 27, 23, 59),
                (2026, 11, 28, 0, 0),
                (2026, 11, 28, 5, 59),
                (2026, 11, 28, 6, 0),
            )
        ]

    def test_missing_day_is_closed(self):
        """
        A weekday with no entry is closed all day.
        """
        weekdays = schedule({"mon-fri": "00:00-24:00"})

        assert not is_open(weekdays, at(MOSCOW, 2026, 11, 29, 12, 0), MOSCOW)

    def test_holiday_closes_the_whole_local_day(self):
        """
        A holiday is closed from local 00:00 (still the day before in UTC) to 24:00.
        """
        always = schedule({"mon-sun": "00:00-24:00"})
        holidays = [date(2026, 12, 31)]

        assert [True, False, False, True] == [
            is_open(always, at(MOSCOW, *when), MOSCOW, holidays)
            for when in (
                (2026, 12, 30, 23, 59),
                (2026, 12, 31, 0, 0),
                (2026, 12, 31, 23, 59),
                (2027, 1, 1, 0, 0),
            )
        ]

    def test_reads_the_instant_in_the_zone_given(self):
        """
        18:30 in Moscow is 16:30 in Berlin in winter: closed in Moscow, open in Berlin.
        """
        weekdays = schedule({"mon-fri": "09:00-18:00"})
        instant = at(MOSCOW, 2026, 11, 27, 18, 30)

        assert (False, True) == (is_open(weekdays, instant, MOSCOW), is_open(weekdays, instant, BERLIN))

    def test_spring_forward_keeps_wall_clock_hours(self):
        """
        Berlin skips 02:00-03:00 on 2026-03-29: 01:59 CET is inside 01:00-02:30, 03:00 CEST one
        minute later is not; that morning 09:00-10:00 CEST is 07:00-08:00 UTC.
        """
        sunday = schedule({"sun": "01:00-02:30, 09:00-10:00"})
        before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)  # 01:59 CET
        after = before + timedelta(minutes=1)  # 03:00 CEST

        assert (True, False) == (is_open(sunday, before, BERLIN), is_open(sunday, after, BERLIN))
        assert is_open(sunday, datetime(2026, 3, 29, 7, 0, tzinfo=UTC), BERLIN)
        assert not is_open(sunday, datetime(2026, 3, 29, 8, 0, tzinfo=UTC), BERLIN)

    def test_fall_back_hour_is_open_both_times(self):
        """
        New York repeats 01:00-02:00 on 2026-11-01: a range over it is open for two real hours.
        """
        night = schedule({"sun": "01:00-02:00"})
        hours = [datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in (4, 5, 6, 7)]

        assert [False, True, True, False] == [is_open(night, h, NEW_YORK) for h in hours]


class TestScheduleState:
    def test_plan_zone_is_the_default(self):
        """
        A schedule without a zone is read in the plan's; its own zone wins when given.
        """
        plan = DialplanSpec.model_validate(
            {
                "timezone": "Europe/Moscow",
                "schedules": {
                    "moscow": {"hours": {"mon-fri": "09:00-18:00"}},
                    "berlin": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-18:00"}},
                },
            }
        )
        instant = at(MOSCOW, 2026, 11, 27, 18, 30)

        assert (False, True) == (
            schedule_state(plan, plan.schedules["moscow"], instant).is_open,
            schedule_state(plan, plan.schedules["berlin"], instant).is_open,
        )

    def test_named_holiday_list_and_reasons(self):
        """
        A schedule names a holiday list of the plan; each answer says why in words.
        """
        plan = DialplanSpec.model_validate(
            {
                "schedules": {"office": {"hours": {"mon-fri": "09:00-18:00"}, "holidays": "ru"}},
                "holidays": {"ru": ["2026-12-31"]},
            }
        )
        office = plan.schedules["office"]

        assert [
            "2026-12-31 is a holiday",
            "Sat 19:00 Europe/Moscow: no hours on Saturdays",
            "Fri 11:00 Europe/Moscow: hours on Fridays 09:00-18:00",
        ] == [
            schedule_state(plan, office, at(MOSCOW, *when)).why
            for when in ((2026, 12, 31, 11, 0), (2026, 11, 28, 19, 0), (2026, 11, 27, 11, 0))
        ]


class TestFormatRanges:
    def test_24_00_and_closed(self):
        """
        ``time.max`` is written back as 24:00; no ranges read "closed".
        """
        spans = schedule({"mon": "00:00-09:30, 18:00-24:00"}).hours["mon"]

        assert ("00:00-09:30, 18:00-24:00", "closed") == (format_ranges(spans), format_ranges(()))


# -- properties: the schedule against a brute-force minute grid of the local week ------------------


@st.composite
def week_hours(draw: st.DrawFn) -> dict[str, str]:
    """Per weekday: up to three non-overlapping minute-grid ranges (any may end at 24:00), or none."""
    hours = {}
    for day in DAYS:
        cuts = sorted(draw(st.sets(st.integers(0, 1440), max_size=6)))
        pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
        if pairs:
            hours[day] = ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in pairs)
    return hours


def grid(hours: dict[str, str]) -> list[list[bool]]:
    """The reference: 7 x 1440 minutes, True where a range covers the minute."""
    week = [[False] * 1440 for _ in DAYS]
    for day, text in hours.items():
        for span in text.split(", "):
            first, last = span.split("-")
            start = int(first[:2]) * 60 + int(first[3:])
            end = int(last[:2]) * 60 + int(last[3:])
            for minute in range(start, end):
                week[DAYS.index(day)][minute] = True
    return week


@st.composite
def wall_times(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a local wall time near one of its offset changes (or anywhere), fold 0 or 1."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    if TRANSITIONS[name] and draw(st.booleans()):
        base = draw(st.sampled_from(TRANSITIONS[name])).astimezone(zone).replace(tzinfo=None)
        naive = base + draw(st.timedeltas(timedelta(hours=-30), timedelta(hours=30)))
    else:
        naive = draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)))
    return name, naive.replace(tzinfo=zone, fold=draw(st.integers(0, 1)))


class TestScheduleProperties:
    @PROPERTY
    @given(hours=week_hours(), wall=wall_times(), holiday_shift=st.none() | st.integers(-1, 1))
    def test_open_matches_the_wall_clock_grid(self, hours, wall, holiday_shift):
        """
        For any wall time that exists (DST gaps excluded, both sides of a fold included), the
        schedule is open exactly when the local week's minute grid says so, unless the local day
        is a holiday; the instant is handed over in UTC.
        """
        name, local = wall
        zone = ZoneInfo(name)
        instant = local.astimezone(UTC)
        assume(instant.astimezone(zone).replace(fold=0) == local.replace(fold=0))  # not in a gap
        holidays = [] if holiday_shift is None else [local.date() + timedelta(days=holiday_shift)]
        expected = holiday_shift != 0 and grid(hours)[local.weekday()][local.hour * 60 + local.minute]

        assert expected == is_open(schedule(hours), instant, zone, holidays)

    @PROPERTY
    @given(hours=week_hours(), wall=wall_times())
    def test_repeated_wall_time_gives_one_answer(self, hours, wall):
        """
        Both real instants of an ambiguous wall time (after a fall-back) get the same answer.
        """
        name, local = wall
        zone = ZoneInfo(name)
        first, second = local.replace(fold=0).astimezone(UTC), local.replace(fold=1).astimezone(UTC)
        assume(first.astimezone(zone).replace(fold=0) == local.replace(fold=0))  # not in a gap

        assert is_open(schedule(hours), first, zone) == is_open(schedule(hours), second, zone)

    @PROPERTY
    @given(hours=week_hours(), wall=wall_times())
    def test_same_answer_whatever_zone_the_instant_comes_in(self, hours, wall):
        """
        The instant's own tzinfo does not matter, only the schedule's zone.
        """
        name, local = wall
        zone = ZoneInfo(name)

        assert is_open(schedule(hours), local, zone) == is_open(
            schedule(hours), local.astimezone(ZoneInfo("Pacific/Kiritimati")), zone
        )

    @pytest.mark.parametrize("name", ZONES)
    def test_transition_scan_finds_the_dst_zones(self, name):
        """
        The helper the properties rely on sees two changes a year where the zone has DST, else none.
        """
        expected = 6 if name in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe") else 0

        assert expected == len(TRANSITIONS[name])
