"""Tones and prompts played to a phone over real UDP, and the cadences behind them."""

from __future__ import annotations

import asyncio
import itertools
import wave

import pytest

from pbx_adapters.sip.media import Codec, MediaNotReady, Tone, UnsupportedAudio
from pbx_adapters.sip.media.g711 import decode
from pbx_adapters.sip.media.tones import tone_cycle

from .audio import power_at, rms, sine, stereo, zero_crossing_frequency
from .test_bridge import at, call, until


class TestTones:
    @pytest.mark.parametrize(
        ("tone", "on", "off"),
        [
            (Tone.RINGBACK, 0.8, 3.2),
            (Tone.BUSY, 0.4, 0.4),
            (Tone.CONGESTION, 0.2, 0.2),
            (Tone.BEEP, 0.25, 0.0),
        ],
    )
    def test_cadence_is_425_hz_on_then_silence(self, tone, on, off):
        """Each cycle is 425 Hz for the 'on' time, then digital silence for the 'off' time."""
        pcm = decode(Codec.PCMA, tone_cycle(tone, Codec.PCMA))
        split = int(on * 8000) * 2
        assert int((on + off) * 8000) * 2 == len(pcm)
        assert 420 <= zero_crossing_frequency(pcm[:split]) <= 430
        assert rms(pcm[split:]) <= 8  # A-law has no exact zero: its quietest level is ±8


async def _answering_phone(engine, phones, codec=Codec.PCMU):
    phone = await phones()
    leg = await engine.open_leg()
    leg.configure(phone.address, codec, 101)
    phone.send(phone.packet(bytes(160), codec.payload_type), at(leg))  # latch (engine is latch_only)
    await until(lambda: leg.source is not None)
    return phone, leg


class TestPlayer:
    async def test_ringback_reaches_the_phone_at_packet_rate(self, engine, phones):
        """Ringback arrives as 20 ms A-law packets of 425 Hz in the leg's own RTP stream."""
        phone, leg = await _answering_phone(engine, phones, Codec.PCMA)
        leg.play(Tone.RINGBACK, loop=True)
        await phone.wait_for(25)
        leg.stop_playing()
        packets = phone.audio_packets()
        assert {8} == {p[1] & 0x7F for p in packets}
        assert 0x80 & packets[0][1]  # marker on the first packet of the stream
        assert [1] * (len(packets) - 1) == [
            (int.from_bytes(b[2:4], "big") - int.from_bytes(a[2:4], "big")) & 0xFFFF
            for a, b in itertools.pairwise(packets)
        ]
        assert 420 <= zero_crossing_frequency(phone.audio()) <= 430

    async def test_a_file_plays_once_then_the_player_stops(self, engine, phones, tmp_path):
        """A 16 kHz stereo WAV is converted and played once; then the leg is free again."""
        prompt = tmp_path / "prompt.wav"
        with wave.open(str(prompt), "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(16000)
            wav.writeframes(stereo(sine(1000, 0.3, rate=16000)))
        phone, leg = await _answering_phone(engine, phones)
        leg.play(prompt)
        await until(lambda: not leg.playing)
        assert 14 <= len(phone.audio_packets()) <= 16
        assert power_at(phone.audio(), 1000) > 0.8

    async def test_playing_replaces_relayed_audio(self, engine, phones):
        """While bob hears busy tone, alice's voice is not relayed to him; afterwards it is."""
        alice, bob, a, b, _ = await call(engine, phones)
        bob.send(bob.packet(bytes(160), 0), at(b))
        await until(lambda: b.source is not None)
        b.play(Tone.BUSY, loop=True)
        await alice.stream(at(a), Codec.PCMU, sine(1000, 0.3))
        b.stop_playing()
        assert power_at(bob.audio(), 1000) < 0.05
        count = len(bob.received)
        await alice.stream(at(a), Codec.PCMU, sine(1000, 0.2))
        await until(lambda: len(bob.received) >= count + 8)
        assert power_at(decode(Codec.PCMU, b"".join(p[12:] for p in bob.received[count:])), 1000) > 0.8

    async def test_held_leg_hears_no_tone(self, engine, phones):
        """Hold stops the player's packets too."""
        phone, leg = await _answering_phone(engine, phones)
        leg.hold(True)
        leg.play(Tone.BEEP)
        await until(lambda: not leg.playing)
        assert [] == phone.received

    async def test_playing_before_configure_is_refused(self, engine):
        """Without a codec there is nothing to encode to: the error says so."""
        leg = await engine.open_leg()
        with pytest.raises(MediaNotReady, match="must be configured"):
            leg.play(Tone.BUSY)

    async def test_a_file_that_is_not_wav_is_refused(self, engine, phones, tmp_path):
        """A non-WAV file is named in the error, with what was expected."""
        _, leg = await _answering_phone(engine, phones)
        bogus = tmp_path / "prompt.mp3"
        bogus.write_bytes(b"ID3not a wav")
        with pytest.raises(UnsupportedAudio, match=r"cannot play .*prompt.mp3: .*expected a PCM WAV"):
            leg.play(bogus)

    async def test_generated_stream_survives_a_pause(self, engine, phones):
        """Two prompts in a row keep one SSRC; the second starts with the marker bit."""
        phone, leg = await _answering_phone(engine, phones)
        leg.play(Tone.BEEP)
        await until(lambda: not leg.playing)
        first = len(phone.received)
        await asyncio.sleep(0.05)
        leg.play(Tone.BEEP)
        await until(lambda: not leg.playing)
        await phone.wait_for(first + 1)
        second = phone.received[first]
        assert (phone.received[0][8:12], 0x80) == (second[8:12], second[1] & 0x80)
