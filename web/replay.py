"""Run a recorded AMI trace through the real pipeline: socket, panoramisk, tracker, bus, CRM rules.

Used by ``cti ami replay`` and by the tests: a local :class:`AmiTraceServer` plays the trace as an
Asterisk would, and the product connects to it exactly as it connects to a real one.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from config.settings import AmiSettings, CrmSettings, DatabaseSettings, PbxSettings, Settings
from crm_core.calllog import CrmOutcome
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import upgrade
from crm_core.seed import apply_seed
from crm_core.writer import CallLogWriter
from cti.bus import EventBus
from cti.events import CallEnded
from cti.model import Call
from cti.record import call_record
from cti.registry import CallRegistry
from pbx_adapters.asterisk.pbx import AsteriskPbx
from pbx_adapters.asterisk.trace import TraceLine
from pbx_adapters.asterisk.trace_server import AmiTraceServer

__all__ = ["ReplayResult", "replay_trace"]

log = structlog.get_logger(__name__)

_USER, _SECRET = "cti", "replay"


@dataclass
class ReplayResult:
    calls: list[tuple[Call, CrmOutcome | None]] = field(default_factory=list)
    events: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": [
                call_record(
                    call,
                    crm=None
                    if outcome is None
                    else {"entity": outcome.entity, "id": outcome.id, "created": outcome.created},
                )
                for call, outcome in self.calls
            ]
        }


async def replay_trace(
    lines: list[TraceLine],
    *,
    database_url: str | None = None,
    seed: Mapping[str, Any] | None = None,
    crm: CrmSettings | None = None,
    pbx_id: str = "replay",
    timeout: float = 60.0,
) -> ReplayResult:
    """Play *lines* to the product over TCP and return the calls and what the CRM made of them."""
    with tempfile.TemporaryDirectory(prefix="cti-replay-") as scratch:
        url = database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'replay.sqlite3'}"
        crm = crm or CrmSettings()
        if seed and seed.get("own_numbers"):
            crm = crm.model_copy(update={"own_numbers": (*crm.own_numbers, *seed["own_numbers"])})
        await upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            if seed:
                async with sessions() as session:
                    await apply_seed(session, seed, region=crm.default_region)
                    await session.commit()
            return await _run(lines, sessions, crm=crm, pbx_id=pbx_id, timeout=timeout)
        finally:
            await engine.dispose()


async def _run(
    lines: list[TraceLine], sessions: Any, *, crm: CrmSettings, pbx_id: str, timeout: float
) -> ReplayResult:
    server = AmiTraceServer(lines, username=_USER, secret=_SECRET)
    port = await server.start()
    settings = Settings(
        pbx=PbxSettings(id=pbx_id),
        ami=AmiSettings(host="127.0.0.1", port=port, username=_USER, secret=SecretStr(_SECRET)),
        database=DatabaseSettings(),
        crm=crm,
    )
    result = ReplayResult()
    outcomes: dict[str, CrmOutcome] = {}
    bus = EventBus(CallRegistry())
    writer = CallLogWriter(
        sessions,
        pbx_id=pbx_id,
        settings=crm,
        on_recorded=lambda call, outcome: outcomes.__setitem__(call.call_id, outcome),
    )
    pbx = AsteriskPbx(settings, bus.publish)
    async with bus.subscribe("crm") as crm_queue, bus.subscribe("replay") as mine:
        await pbx.start()
        try:
            await asyncio.wait_for(server.wait_finished(), timeout)
            # The stream is ordered: once a Ping is answered, every event before it has been handled.
            await _when_connected(pbx, timeout)
            await pbx.ami.send({"Action": "Ping"})
        finally:
            await pbx.stop()
            await server.stop()
        await writer.drain(crm_queue)
        while mine.pending:
            notice = mine.get_nowait()
            result.events += 1
            if isinstance(notice.event, CallEnded) and notice.call is not None:
                result.calls.append((notice.call, None))
    result.calls = [(call, outcomes.get(call.call_id)) for call, _ in result.calls]
    return result


async def _when_connected(pbx: AsteriskPbx, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pbx.connected:
        if loop.time() > deadline:
            raise TimeoutError("the replayed AMI link never logged in")
        await asyncio.sleep(0.01)
