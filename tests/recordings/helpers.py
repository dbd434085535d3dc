"""Builders for the pipeline tests: settings, a pipeline on a real catalog, a clock to move, calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import CrmSettings, RecordingSettings
from crm_core.calllog import record_call
from crm_core.models import CallActivity, Recording
from crm_core.recordings import SqlRecordingCatalog
from cti.model import Call
from recordings import Converter, RecordingStore
from recordings.pipeline import RecordingPipeline
from tests.crm_core.factories import make_call

PBX = "main"
CRM = CrmSettings(default_region="RU", own_numbers=("+74951234567",), default_responsible="admin")


@dataclass
class Clock:
    """A clock the test moves forward (the sweep compares it with the rows' times)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_pipeline(
    root: Path, sessionmaker, clock: Clock | None = None, alerts: list | None = None, **settings: Any
) -> RecordingPipeline:
    """A pipeline storing under *root*, cataloguing in the real database; no waiting by default."""
    options: dict[str, Any] = {"directory": root, "file_wait": 0, "retry_delay": 30, **settings}
    config = RecordingSettings(**options)
    store = RecordingStore(root, Converter(2, bitrate=config.bitrate, format=config.format))
    return RecordingPipeline(
        store,
        SqlRecordingCatalog(sessionmaker),
        pbx_id=PBX,
        settings=config,
        clock=clock,
        on_alert=alerts.append if alerts is not None else None,
    )


def call_with(source: Path | str, call_id: str = "1718012345.42", **changes: Any) -> Call:
    """A finished, answered inbound call that recorded *source*."""
    return make_call(call_id, recordings=(str(source),), **changes)


async def log_call(sessionmaker, call: Call) -> None:
    """Write the call as the CRM writer does at call end."""
    async with sessionmaker() as session:
        await record_call(session, call, pbx_id=PBX, settings=CRM)
        await session.commit()


async def recordings(sessionmaker) -> list[Recording]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(Recording).order_by(Recording.id)))


async def call_pk(sessionmaker, call_id: str) -> int | None:
    async with sessionmaker() as session:
        return await session.scalar(select(CallActivity.id).where(CallActivity.call_id == call_id))
