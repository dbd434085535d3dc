"""The composition root wires the CRM writer onto the bus: calls become CRM facts, and pops see them."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Lead
from cti.model import Disposition
from web import keys

from .conftest import UNKNOWN_CALLER, cookie_header, origin_of
from .fakes import ended, inbound, ringing


async def written(app, count: int) -> None:
    """Wait until the app's CRM writer has logged *count* calls."""
    for _ in range(500):
        if app[keys.CRM_WRITER].logged >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the CRM writer logged {app[keys.CRM_WRITER].logged} calls, not {count}")


async def leads(settings) -> list[str]:
    engine = make_engine(settings.database.url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await session.scalars(select(Lead.title).order_by(Lead.id)))
    finally:
        await engine.dispose()


class TestCallLog:
    async def test_missed_new_caller_becomes_a_lead_that_pops_on_the_next_call(
        self, client, app, template, pbx
    ):
        """
        An unknown number's missed call makes a Lead; when it calls again, the agent sees that lead.
        """
        pbx.publish(inbound("m1", UNKNOWN_CALLER))
        pbx.publish(ringing("m1", "101"))
        pbx.publish(ended("m1", Disposition.MISSED))
        await written(app, 1)

        headers = {**cookie_header(app, template.users["ivanov"]), "Origin": origin_of(client)}
        ws = await client.ws_connect("/ws/screenpop", headers=headers)
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        pbx.publish(inbound("m2", UNKNOWN_CALLER))
        pbx.publish(ringing("m2", "101"))

        card = (await ws.receive_json(timeout=5))["card"]
        assert (card["entity"], card["title"]) == ("lead", f"Incoming call {UNKNOWN_CALLER}")
        metrics = await (await client.get("/metrics")).text()
        assert "cti_crm_calls_logged_total 1.0" in metrics
        await ws.close()

    async def test_calls_queued_at_shutdown_are_still_written(self, client, app, settings, pbx):
        """
        Stopping the server drains the CRM writer's queue: a call that just ended is not lost.
        """
        for index in range(5):
            pbx.publish(inbound(f"s{index}", f"+7999000112{index}"))
            pbx.publish(ended(f"s{index}", Disposition.MISSED))

        await client.close()

        assert len(await leads(settings)) == 5
        assert pbx.stopped
