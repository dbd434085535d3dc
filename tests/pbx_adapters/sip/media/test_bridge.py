"""Two legs bridged over real UDP on loopback: relay, latching, transcoding, hold and DTMF."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from pbx_adapters.sip.media import Codec, MediaEngine, bridge
from pbx_adapters.sip.media.errors import LegBusy
from pbx_adapters.sip.media.g711 import encode, transcode_table
from pbx_adapters.sip.media.leg import RELATCH_AFTER

from .audio import power_at, sine

NOWHERE = ("192.0.2.2", 40000)
"A TEST-NET address (RFC 5737), as baresip announces its external interface in SDP."


def at(leg) -> tuple[str, int]:
    return (leg.local_host, leg.local_port)


async def until(predicate, timeout: float = 3.0) -> None:
    """Poll until *predicate* holds (the media path is asynchronous)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def call(engine, phones, codec_a=Codec.PCMU, codec_b=Codec.PCMU, *, sdp_a=None, sdp_b=None):
    """Two phones, two legs configured from their 'SDP', bridged."""
    alice, bob = await phones(), await phones()
    a, b = await engine.open_leg(), await engine.open_leg()
    a.configure(sdp_a or alice.address, codec_a, 101)
    b.configure(sdp_b or bob.address, codec_b, 101)
    return alice, bob, a, b, bridge(a, b)


class TestRelay:
    async def test_relays_both_ways_untouched(self, engine, phones):
        """Each phone receives exactly the packets the other sent, byte for byte."""
        alice, bob, a, b, _ = await call(engine, phones)
        await asyncio.gather(
            alice.stream(at(a), Codec.PCMU, sine(440, 0.3)), bob.stream(at(b), Codec.PCMU, sine(660, 0.3))
        )
        await until(lambda: len(alice.received) >= 12 and len(bob.received) >= 12)
        assert set(alice.received) <= set(bob.sent)
        assert set(bob.received) <= set(alice.sent)
        assert power_at(alice.audio(), 660) > 0.8
        assert power_at(bob.audio(), 440) > 0.8

    async def test_transcodes_pcmu_to_pcma_and_back(self, engine, phones):
        """A µ-law caller and an A-law callee hear each other; payload types follow each side."""
        alice, bob, a, b, _ = await call(engine, phones, Codec.PCMU, Codec.PCMA)
        await asyncio.gather(
            alice.stream(at(a), Codec.PCMU, sine(440, 0.3)), bob.stream(at(b), Codec.PCMA, sine(660, 0.3))
        )
        await until(lambda: len(alice.received) >= 12 and len(bob.received) >= 12)
        assert {8} == {p[1] & 0x7F for p in bob.received}
        assert {0} == {p[1] & 0x7F for p in alice.received}
        expected = encode(Codec.PCMU, sine(440, 0.3))[:160].translate(transcode_table(Codec.PCMU, Codec.PCMA))
        assert expected in [p[12:] for p in bob.received]
        assert power_at(bob.audio(), 440) > 0.8
        assert power_at(alice.audio(), 660) > 0.8

    async def test_codec_change_on_reinvite_rewires_the_relay(self, engine, phones):
        """A re-INVITE moving bob to A-law makes the bridge transcode from then on."""
        alice, bob, a, b, _ = await call(engine, phones)
        bob.send(bob.packet(bytes(160), 0), at(b))  # bob's first packet latches leg b
        await until(lambda: b.source is not None)
        b.configure(bob.address, Codec.PCMA, 101)
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.1))
        await until(lambda: len(bob.received) >= 4)
        assert {8} == {p[1] & 0x7F for p in bob.received}

    async def test_hold_stops_sending(self, engine, phones):
        """While leg b is on hold bob receives nothing; after resuming he hears alice again."""
        alice, bob, a, b, _ = await call(engine, phones)
        bob.send(bob.packet(bytes(160), 0), at(b))
        await until(lambda: b.source is not None)
        b.hold(True)
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.2))
        await asyncio.sleep(0.05)
        assert ([], 0) == (bob.received, b.packets_sent)
        b.hold(False)
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.2))
        await until(lambda: len(bob.received) >= 8)

    async def test_a_leg_carries_one_conversation(self, engine, phones):
        """Bridging a leg that is already bridged is refused, naming the leg."""
        _, _, a, _, _ = await call(engine, phones)
        other = await engine.open_leg()
        with pytest.raises(LegBusy, match=f"RTP leg {a.local_port} is already in"):
            bridge(a, other)

    async def test_unbridge_stops_the_relay_and_frees_the_legs(self, engine, phones):
        """After unbridge nothing is relayed, and each leg may join a new bridge."""
        alice, bob, a, b, relay = await call(engine, phones)
        bob.send(bob.packet(bytes(160), 0), at(b))
        await until(lambda: b.source is not None)
        relay.unbridge()
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.1))
        await asyncio.sleep(0.05)
        assert [] == bob.received
        bridge(a, b)
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.1))
        await until(lambda: len(bob.received) >= 3)

    async def test_closing_a_leg_ends_its_bridge(self, engine, phones):
        """A leg that closes takes its bridge down; the other leg stays open and free."""
        _, _, a, b, relay = await call(engine, phones)
        a.close()
        assert (False, None, False) == (relay.active, b.owner, b.closed)


class TestLatching:
    async def test_latch_only_never_sends_to_the_sdp_address(self, engine, phones):
        """With latch_only, SDP's non-loopback address gets nothing; alice's real source gets audio."""
        alice, bob, a, b, _ = await call(engine, phones, sdp_a=NOWHERE)
        await bob.stream(at(b), Codec.PCMU, sine(660, 0.1))
        assert (0, None) == (a.packets_sent, a.source)
        alice.send(alice.packet(bytes(160), 0), at(a))
        await until(lambda: a.source is not None)
        await bob.stream(at(b), Codec.PCMU, sine(660, 0.1))
        await until(lambda: len(alice.received) >= 4)
        assert alice.address == a.source

    async def test_sends_to_sdp_address_until_the_real_source_speaks(self, port_base, phones):
        """Without latch_only audio goes to the SDP address first, then only to the latched source."""
        engine = MediaEngine("127.0.0.1", port_base, port_base + 9)
        await engine.start()
        try:
            decoy = await phones()  # what the SDP announced; the phone is really elsewhere
            alice, bob, a, b, _ = await call(engine, phones, sdp_a=decoy.address)
            await bob.stream(at(b), Codec.PCMU, sine(660, 0.1))
            await until(lambda: len(decoy.received) >= 4)
            alice.send(alice.packet(bytes(160), 0), at(a))
            await until(lambda: a.source is not None)
            before = len(decoy.received)
            await bob.stream(at(b), Codec.PCMU, sine(660, 0.1))
            await until(lambda: len(alice.received) >= 4)
            assert before == len(decoy.received)
        finally:
            await engine.stop()

    async def test_a_stray_source_does_not_take_over(self, engine, phones):
        """Fewer than RELATCH_AFTER packets from elsewhere are dropped; the latch stays."""
        alice, _, a, _, _ = await call(engine, phones)
        alice.send(alice.packet(bytes(160), 0), at(a))
        await until(lambda: a.source is not None)
        stranger = await phones()
        for _ in range(RELATCH_AFTER - 1):
            stranger.send(stranger.packet(bytes(160), 0), at(a))
        alice.send(alice.packet(bytes(160), 0), at(a))
        for _ in range(RELATCH_AFTER - 1):
            stranger.send(stranger.packet(bytes(160), 0), at(a))
        await until(lambda: a.packets_received >= 2)
        await asyncio.sleep(0.05)
        assert (alice.address, 2) == (a.source, a.packets_received)

    async def test_a_moved_phone_is_followed(self, engine, phones):
        """RELATCH_AFTER packets in a row from a new source (a NAT rebinding) move the latch."""
        alice, _, a, _, _ = await call(engine, phones)
        alice.send(alice.packet(bytes(160), 0), at(a))
        await until(lambda: a.source is not None)
        moved = await phones()
        for _ in range(RELATCH_AFTER):
            moved.send(moved.packet(bytes(160), 0), at(a))
        await until(lambda: a.source == moved.address)

    async def test_new_sdp_address_drops_the_latch(self, engine, phones):
        """A re-INVITE with a different address means the peer moved: latch afresh."""
        alice, _, a, _, _ = await call(engine, phones)
        alice.send(alice.packet(bytes(160), 0), at(a))
        await until(lambda: a.source is not None)
        a.configure(NOWHERE, Codec.PCMU, 101)
        assert None is a.source

    async def test_rfc2543_hold_address_keeps_the_latch(self, engine, phones):
        """c=0.0.0.0 in a re-INVITE (old-style hold) is not a new address: the latch stays."""
        alice, _, a, _, _ = await call(engine, phones)
        alice.send(alice.packet(bytes(160), 0), at(a))
        await until(lambda: a.source is not None)
        a.configure(("0.0.0.0", 0), Codec.PCMU, 101)  # noqa: S104 - an SDP value, not a bind
        assert (alice.address, alice.address) == (a.source, a.remote)


class TestDtmf:
    async def test_each_key_press_is_reported_once(self, engine, phones):
        """Three keys, each with its end packet sent three times, make three calls of on_dtmf."""
        alice, _, a, _, _ = await call(engine, phones)
        keys: list[str] = []
        a.on_dtmf = keys.append
        for event in (1, 10, 11):
            alice.send_key(at(a), 101, event)
        await until(lambda: len(keys) >= 3)
        await asyncio.sleep(0.05)
        assert ["1", "*", "#"] == keys

    async def test_events_are_passed_on_renumbered(self, engine, phones):
        """Bob negotiated telephone-event as 96: alice's 101 events reach him as 96."""
        alice, bob, a, b, _ = await call(engine, phones)
        b.configure(bob.address, Codec.PCMU, 96)
        bob.send(bob.packet(bytes(160), 0), at(b))
        await until(lambda: b.source is not None)
        alice.send_key(at(a), 101, 5)
        await until(lambda: len(bob.received) >= 6)
        assert ({96}, 5) == ({p[1] & 0x7F for p in bob.received}, bob.received[-1][12])

    async def test_a_failing_callback_does_not_break_the_relay(self, engine, phones):
        """An exception in on_dtmf is logged; audio keeps flowing."""
        alice, bob, a, b, _ = await call(engine, phones)
        a.on_dtmf = lambda key: 1 / 0
        bob.send(bob.packet(bytes(160), 0), at(b))
        await until(lambda: b.source is not None)
        alice.send_key(at(a), 101, 1)
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.1))
        await until(lambda: len(bob.audio_packets()) >= 4)

    async def test_keys_never_reach_the_log(self, engine, phones):
        """Callers type PINs and card numbers: the log says a key came, never which."""
        alice, _, a, _, _ = await call(engine, phones)
        keys: list[str] = []
        a.on_dtmf = keys.append
        with capture_logs() as logs:
            alice.send_key(at(a), 101, 7)
            await until(lambda: keys)
        dtmf_logs = [entry for entry in logs if entry["event"] == "dtmf_received"]
        assert ([a.local_port], False) == (
            [entry["port"] for entry in dtmf_logs],
            any("7" in str(value) for entry in dtmf_logs for key, value in entry.items() if key != "port"),
        )
