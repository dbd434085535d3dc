"""The media engine: RTP port pairs handed out, exhausted, refused and given back."""

from __future__ import annotations

import socket

import pytest

from pbx_adapters.sip.media import MediaEngine, MediaError, MediaNotReady, PortsExhausted


@pytest.fixture(name="small_engine")
async def _small_engine(port_base):
    engine = MediaEngine("127.0.0.1", port_base, port_base + 3)  # two pairs
    await engine.start()
    yield engine
    await engine.stop()


class TestMediaEngine:
    async def test_legs_get_even_rtp_ports_in_the_range(self, engine, port_base):
        """Every leg's RTP port is even and inside the configured range."""
        legs = [await engine.open_leg() for _ in range(3)]
        assert [port_base, port_base + 2, port_base + 4] == [leg.local_port for leg in legs]
        assert ("127.0.0.1", 3) == (legs[0].local_host, engine.active_legs)

    async def test_rtcp_port_is_held_too(self, engine):
        """The odd port above a leg's RTP port is bound by the engine, so nobody else can take it."""
        leg = await engine.open_leg()
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other,
            pytest.raises(OSError, match="Address already in use"),
        ):
            other.bind(("127.0.0.1", leg.local_port + 1))

    async def test_exhausted_range_gives_a_clear_error(self, small_engine, port_base):
        """With every pair taken the error names the range, the host and what to do."""
        await small_engine.open_leg()
        await small_engine.open_leg()
        with pytest.raises(PortsExhausted) as caught:
            await small_engine.open_leg()
        message = str(caught.value)
        assert f"{port_base}-{port_base + 3}" in message
        assert "127.0.0.1" in message
        assert "widen the RTP port range" in message

    async def test_close_frees_the_ports(self, small_engine):
        """A closed leg's pair is reusable and no longer counted."""
        first = await small_engine.open_leg()
        await small_engine.open_leg()
        first.close()
        assert 1 == small_engine.active_legs
        again = await small_engine.open_leg()
        assert first.local_port == again.local_port

    async def test_closed_leg_releases_its_sockets(self, small_engine):
        """Right after close the RTP and RTCP ports can be bound by anyone."""
        leg = await small_engine.open_leg()
        port = leg.local_port
        leg.close()
        for number in (port, port + 1):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", number))

    async def test_ports_taken_by_another_program_are_skipped(self, small_engine, port_base):
        """A pair whose RTP port someone else holds is passed over for the next one."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
            squatter.bind(("127.0.0.1", port_base))
            leg = await small_engine.open_leg()
        assert port_base + 2 == leg.local_port

    async def test_freed_ports_are_reused_last(self, engine, port_base):
        """Round-robin allocation: a just-freed pair is not the next one handed out."""
        first = await engine.open_leg()
        first.close()
        second = await engine.open_leg()
        assert port_base + 2 == second.local_port

    async def test_stop_closes_every_leg(self, port_base):
        """Stopping the engine closes what is still open."""
        engine = MediaEngine("127.0.0.1", port_base, port_base + 9)
        await engine.start()
        legs = [await engine.open_leg() for _ in range(2)]
        await engine.stop()
        assert (0, [True, True]) == (engine.active_legs, [leg.closed for leg in legs])

    async def test_open_before_start_is_refused(self, port_base):
        """A leg needs the running loop: opening one before start() says so."""
        with pytest.raises(MediaNotReady, match="not started"):
            await MediaEngine("127.0.0.1", port_base, port_base + 9).open_leg()

    def test_range_without_a_pair_is_refused(self):
        """A range that holds no even/odd pair is a configuration error, named as such."""
        with pytest.raises(MediaError, match="10001-10002 holds no even/odd port pair"):
            MediaEngine("127.0.0.1", 10001, 10002)

    async def test_unusable_address_is_a_clear_error(self, port_base):
        """Binding to an address this machine does not have names the address."""
        engine = MediaEngine("192.0.2.1", port_base, port_base + 9)
        await engine.start()
        try:
            with pytest.raises(MediaError, match=r"cannot bind RTP port \d+ on 192.0.2.1"):
                await engine.open_leg()
        finally:
            await engine.stop()
