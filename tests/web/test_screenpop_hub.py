"""ScreenPopHub on its own: what it sends when the CRM lookup fails or is slow."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from structlog.testing import capture_logs

from config.settings import CrmSettings
from cti.bus import EventBus
from cti.registry import CallRegistry
from web.screenpop import ScreenPopHub

from .conftest import KNOWN_CALLER
from .fakes import inbound, ringing


class FakeSocket:
    """Stands in for a WebSocketResponse: records the frames sent to it."""

    closed = False

    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.rang = asyncio.Event()

    async def send_json(self, frame: dict) -> None:
        self.frames.append(frame)
        if frame["type"] == "ringing":
            self.rang.set()


def broken_sessionmaker():
    @asynccontextmanager
    async def session():
        raise ConnectionRefusedError("database down")
        yield

    return session


def stuck_sessionmaker():
    @asynccontextmanager
    async def session():
        await asyncio.Event().wait()
        yield

    return session


async def run_until_frame(hub: ScreenPopHub, bus: EventBus, socket: FakeSocket) -> None:
    task = asyncio.create_task(hub.run(bus))
    await hub.started.wait()
    await hub.add("101", socket)
    bus.publish(inbound("c1", KNOWN_CALLER))
    bus.publish(ringing("c1", "101"))
    try:
        await asyncio.wait_for(socket.rang.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class TestLookupTrouble:
    async def test_failing_lookup_still_pops_without_a_card(self):
        """
        A database error is logged, and the agent still sees the ringing call.
        """
        registry = CallRegistry()
        bus = EventBus(registry)
        hub = ScreenPopHub(broken_sessionmaker(), CrmSettings(), registry)
        socket = FakeSocket()

        with capture_logs() as logs:
            await run_until_frame(hub, bus, socket)

        assert [(f["type"], f.get("card")) for f in socket.frames] == [("hello", None), ("ringing", None)]
        failed = [e for e in logs if e["event"] == "screenpop_lookup_failed"]
        assert [e["error"] for e in failed] == ["ConnectionRefusedError"]

    async def test_slow_lookup_times_out_and_pops_without_a_card(self):
        registry = CallRegistry()
        bus = EventBus(registry)
        hub = ScreenPopHub(stuck_sessionmaker(), CrmSettings(), registry, lookup_timeout=0.05)
        socket = FakeSocket()

        await run_until_frame(hub, bus, socket)

        assert [f["card"] for f in socket.frames if f["type"] == "ringing"] == [None]
