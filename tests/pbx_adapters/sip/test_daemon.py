"""The daemon in embedded mode: the app's own factory starts the SIP PBX on the running dialplan,
and a call through it reaches the CRM like an Asterisk call does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from crm_core.migrate import upgrade
from crm_core.models import CallActivity
from pbx_adapters.sip.pbx import SipPbx
from web import keys
from web.app import create_app

from .conftest import PLAN, settings
from .peers import Sipp, free_port, tone_wav


class TestEmbeddedDaemon:
    async def test_embedded_mode_serves_health_registers_phones_and_logs_calls(
        self, aiohttp_client, tmp_path: Path
    ):
        """``pbx.mode: embedded`` with the default factory: /healthz says connected, phones register
        with the secrets of the dialplan file, and an internal call lands in the call log."""
        database = f"sqlite+aiosqlite:///{tmp_path}/cti.sqlite3"
        await upgrade(database)
        plan = tmp_path / "dialplan.yaml"
        plan.write_text(PLAN, encoding="utf-8")
        configured = settings(tmp_path).model_copy(
            update={
                "dialplan": plan,
                "database": settings(tmp_path).database.model_copy(update={"url": database}),
                "web": settings(tmp_path).web.model_copy(update={"secret_key_file": tmp_path / "secret_key"}),
            }
        )
        app = create_app(configured)
        client = await aiohttp_client(app)
        health = await (await client.get("/healthz")).json()
        assert {"status": "ok", "database": "ok", "pbx": "connected"} == health
        pbx = app[keys.PBX]
        assert isinstance(pbx, SipPbx)
        sipp = Sipp(pbx.address, tmp_path)
        tone_wav(tmp_path / "tone_a.wav", 440, 1.0)
        tone_wav(tmp_path / "tone_b.wav", 1000, 1.0)
        callee_port = free_port()
        assert 0 == (await sipp.register("102", callee_port)).rc
        callee = await sipp.start("uas_answer.xml", port=callee_port, pause_ms=100)
        caller = await sipp.run(
            "uac_call.xml",
            service="102",
            user="101",
            password="secret-101",
            pause_ms=300,
            variables={"caller": "101", "caller_name": "Anna Sokolova"},
        )
        assert 0 == caller.rc, caller.errors
        assert 0 == (await sipp.finish(callee, callee_port)).rc

        async with asyncio.timeout(10):
            while not (rows := await _call_log(app)):
                await asyncio.sleep(0.05)
        (activity,) = rows
        assert ("internal", "102", "answered") == (
            activity.direction,
            activity.answered_by,
            activity.disposition,
        )


async def _call_log(app) -> list[CallActivity]:
    """What the CRM writer has logged so far (it runs in its own task)."""
    async with app[keys.DB]() as session:
        return list(await session.scalars(select(CallActivity)))
