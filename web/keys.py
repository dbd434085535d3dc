"""Typed keys for everything stored on the aiohttp Application and Request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from crm_core.writer import CallLogWriter
from cti.bus import EventBus
from cti.events import CtiEvent
from cti.plan import RunningPlan
from cti.ports import PbxControl
from cti.registry import CallRegistry

from .board import LiveBoard
from .dialplan import DialplanService
from .screenpop import ScreenPopHub
from .sessions import CurrentUser, SessionCodec, SessionData

if TYPE_CHECKING:
    # recordings_service reads its settings through these keys: importing it here would be a cycle.
    from .recordings_service import RecordingsService

__all__ = [
    "BOARD",
    "CRM_WRITER",
    "DB",
    "DIALPLAN",
    "EVENT_BUS",
    "METRICS",
    "PBX",
    "PBX_FACTORY",
    "PLAN",
    "RECORDINGS",
    "REGISTRY",
    "SCREENPOP",
    "SECRET",
    "SESSION",
    "SESSIONS",
    "SETTINGS",
    "USER",
    "PbxFactory",
]

PbxFactory = Callable[[Settings, Callable[[CtiEvent], None]], PbxControl]
"Build the PBX link from the settings and the bus's ``publish``; tests pass a fake."

SETTINGS = web.AppKey("settings", Settings)
PBX_FACTORY = web.AppKey[PbxFactory]("pbx_factory")
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
REGISTRY = web.AppKey("registry", CallRegistry)
EVENT_BUS = web.AppKey("event_bus", EventBus)
CRM_WRITER = web.AppKey("crm_writer", CallLogWriter)
PLAN = web.AppKey("plan", RunningPlan)
"The dialplan running now; the PBX reads ``current`` per call and may subscribe to swaps."
DIALPLAN = web.AppKey("dialplan", DialplanService)
PBX = web.AppKey[PbxControl]("pbx")
SCREENPOP = web.AppKey("screenpop", ScreenPopHub)
BOARD = web.AppKey("board", LiveBoard)
SECRET = web.AppKey("secret", bytes)
"The raw server secret (``web.secret_key_file``); use SESSIONS rather than this directly."
SESSIONS = web.AppKey("sessions", SessionCodec)
METRICS = web.AppKey("metrics", CollectorRegistry)
RECORDINGS: web.AppKey[RecordingsService] = web.AppKey("recordings")
"The running recordings service (its pipeline's figures feed /metrics and /healthz)."

SESSION = web.RequestKey("session", SessionData)
"The verified session cookie of this request, when there is one."
USER = web.RequestKey("user", CurrentUser)
"The logged-in, active user of this request (set by ``current_user``)."
