"""Fixtures for the media tests: an engine on loopback with a port range of its own."""

from __future__ import annotations

import random

import pytest

from pbx_adapters.sip.media import MediaEngine

from .phones import RtpPhone


@pytest.fixture(name="port_base")
def _port_base() -> int:
    """An even port with 40 free-looking ports above it (random, so parallel runs rarely meet)."""
    return 2 * random.randrange(20000, 29000)


@pytest.fixture(name="engine")
async def _engine(port_base):
    engine = MediaEngine("127.0.0.1", port_base, port_base + 39, latch_only=True)
    await engine.start()
    yield engine
    await engine.stop()


@pytest.fixture(name="phones")
async def _phones():
    opened: list[RtpPhone] = []

    async def open_phone() -> RtpPhone:
        phone = await RtpPhone.open()
        opened.append(phone)
        return phone

    yield open_phone
    for phone in opened:
        phone.close()
