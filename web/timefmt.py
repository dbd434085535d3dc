"""Times on the pages in the office's zone, and the office's days as UTC ranges for filters.

The database keeps every instant in UTC. People read and type the office's wall clock: the zone is
``web.timezone`` when set, else the running dialplan's ``timezone`` (the zone its schedules already
use), so a call logged at 07:05 UTC shows as 10:05 in Moscow on every page, and "calls of
27 November" means the office's 27 November, not UTC's.

Templates use the ``when`` filter (``{{ call.started_at|when }}``, ``|when(seconds=True)``); the
scripts get the zone from ``<body data-timezone>`` (``office_timezone()``) and pass it to
``toLocaleString``. A naive value, as SQLite hands back, is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from . import keys

__all__ = ["day_range", "local", "office_zone", "setup_jinja"]


def office_zone(app: web.Application) -> ZoneInfo:
    """The zone the office reads its clocks in: ``web.timezone``, else the running dialplan's."""
    configured = app[keys.SETTINGS].web.timezone
    if configured:
        return ZoneInfo(configured)
    plan = app.get(keys.PLAN)
    return ZoneInfo(plan.current.spec.timezone) if plan is not None else ZoneInfo("UTC")


def local(value: datetime, zone: ZoneInfo) -> datetime:
    """*value* on the office's wall clock (a naive value is UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)


Range = tuple[datetime | None, datetime | None]


def day_range(start: date | None, end: date | None, zone: ZoneInfo) -> Range:
    """The office's days *start* .. *end* (both included) as a half-open UTC range; None stays open."""
    since = datetime.combine(start, time(), zone).astimezone(UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC) if end else None
    return since, until


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    shown = local(value, office_zone(context["app"]))
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


@jinja2.pass_context
def _office_timezone(context: jinja2.runtime.Context) -> str:
    return office_zone(context["app"]).key


def setup_jinja(env: jinja2.Environment) -> None:
    """Give templates the ``when`` filter and ``office_timezone()``."""
    env.filters["when"] = _when
    env.globals["office_timezone"] = _office_timezone
