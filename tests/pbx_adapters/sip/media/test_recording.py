"""Recording a bridged call: a stereo WAV read back with ``wave`` and decoded by real ffmpeg."""

from __future__ import annotations

import asyncio
import shutil
import wave

import pytest

from pbx_adapters.sip.media import Codec, MediaError, RecordingFailed
from pbx_adapters.sip.media.g711 import encode

from .audio import channel, power_at, samples, sine
from .test_bridge import at, call


def read_wav(path) -> tuple[tuple[int, int, int], bytes]:
    with wave.open(str(path), "rb") as wav:
        return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()), wav.readframes(wav.getnframes())


class TestBridgeRecording:
    async def test_left_is_a_and_right_is_b(self, engine, phones, tmp_path):
        """Alice's 440 Hz lands on the left channel only, bob's 1000 Hz on the right only."""
        alice, bob, a, b, relay = await call(engine, phones, Codec.PCMU, Codec.PCMA)
        relay.start_recording(tmp_path / "call.wav")
        await asyncio.gather(
            alice.stream(at(a), Codec.PCMU, sine(440, 0.6)), bob.stream(at(b), Codec.PCMA, sine(1000, 0.6))
        )
        path = relay.stop_recording()
        params, frames = read_wav(path)
        left, right = channel(frames, 0), channel(frames, 1)
        assert (2, 2, 8000) == params
        assert power_at(left, 440) > 0.8
        assert power_at(left, 1000) < 0.05
        assert power_at(right, 1000) > 0.8
        assert power_at(right, 440) < 0.05

    async def test_parties_are_time_aligned_with_silence_for_gaps(self, engine, phones, tmp_path):
        """Bob starts 0.5 s after alice: the right channel is silent for that half second."""
        alice, bob, a, b, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "call.wav")

        async def late_bob():
            await asyncio.sleep(0.5)
            await bob.stream(at(b), Codec.PCMU, sine(1000, 0.4))

        await asyncio.gather(alice.stream(at(a), Codec.PCMU, sine(440, 0.9)), late_bob())
        _, frames = read_wav(relay.stop_recording())
        left, right = samples(channel(frames, 0)), samples(channel(frames, 1))
        bob_starts = next(i for i, value in enumerate(right) if value) / 8000
        alice_starts = next(i for i, value in enumerate(left) if value) / 8000
        assert alice_starts < 0.1
        assert 0.45 <= bob_starts <= 0.8  # he waited 0.5 s (more if the machine is busy)
        assert power_at(channel(frames, 1)[int(bob_starts * 8000) * 2 :], 1000) > 0.8

    async def test_lost_packets_become_silence_in_place(self, engine, phones, tmp_path):
        """Packets missing from the middle leave a gap of their length; later audio stays in time."""
        alice, _, a, _, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "call.wav")
        loop = asyncio.get_running_loop()
        payload = sine(440, 1.0)
        ulaw = encode(Codec.PCMU, payload)
        start = loop.time()
        for index in range(50):
            if not 20 <= index < 30:  # 200 ms lost on the way
                alice.send(alice.packet(ulaw[160 * index : 160 * (index + 1)], 0), at(a))
            alice.timestamp += 160
            await asyncio.sleep(max(0.0, start + (index + 1) * 0.02 - loop.time()))
        _, frames = read_wav(relay.stop_recording())
        values = samples(channel(frames, 0))
        start_of_alice = next(i for i, v in enumerate(values) if v)
        end_of_alice = max(i for i, v in enumerate(values) if v)
        runs, run = [], 0
        for value in values[start_of_alice:end_of_alice]:
            run = run + 1 if value == 0 else 0
            runs.append(run)
        assert 1600 <= max(runs) <= 1610  # the 200 ms gap, give or take a near-zero sample at its edges
        assert 49 * 160 <= end_of_alice - start_of_alice + 1 <= 50 * 160  # later audio not shifted

    async def test_a_new_stream_is_placed_by_its_arrival(self, engine, phones, tmp_path):
        """After an SSRC change with an unrelated timestamp base (a transfer), audio continues in place."""
        alice, _, a, _, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "call.wav")
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.4))
        alice.ssrc ^= 0xFFFF
        alice.timestamp = (alice.timestamp + 0x7654321) & 0xFFFFFFFF
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.4))
        _, frames = read_wav(relay.stop_recording())
        values = samples(channel(frames, 0))
        first = next(i for i, v in enumerate(values) if v)
        last = max(i for i, v in enumerate(values) if v)
        assert 0.75 <= (last - first + 1) / 8000 <= 0.95  # two 0.4 s streams back to back, not far apart

    async def test_file_is_valid_for_ffmpeg(self, engine, phones, tmp_path):
        """Real ffmpeg decodes the recording without error, to exactly its frames."""
        if shutil.which("ffmpeg") is None:
            pytest.skip("ffmpeg is not installed (make apt-test installs it)")
        alice, _, a, _, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "call.wav")
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.4))
        path = relay.stop_recording()
        _, frames = read_wav(path)
        process = await asyncio.create_subprocess_exec(
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        decoded, errors = await process.communicate()
        assert (0, b"") == (process.returncode, errors)
        assert frames == decoded

    async def test_file_is_readable_while_recording(self, engine, phones, tmp_path):
        """Written incrementally: within a call the header already counts the audio on disk."""
        alice, _, a, _, relay = await call(engine, phones)
        path = tmp_path / "call.wav"
        relay.start_recording(path)
        await alice.stream(at(a), Codec.PCMU, sine(440, 2.0))
        params, frames = read_wav(path)
        assert (2, 2, 8000) == params
        assert len(frames) >= 4 * 8000  # at least the first second, before the call ends
        relay.stop_recording()

    async def test_unbridge_finishes_the_recording(self, engine, phones, tmp_path):
        """Unbridging closes the file; the next stop_recording still returns its path, once."""
        alice, _, a, _, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "call.wav")
        await alice.stream(at(a), Codec.PCMU, sine(440, 0.2))
        relay.unbridge()
        assert (tmp_path / "call.wav", None) == (relay.stop_recording(), relay.stop_recording())
        assert read_wav(tmp_path / "call.wav")[1]

    async def test_recording_twice_is_refused(self, engine, phones, tmp_path):
        """One recording per bridge at a time; the error names the file in use."""
        _, _, _, _, relay = await call(engine, phones)
        relay.start_recording(tmp_path / "one.wav")
        with pytest.raises(MediaError, match=r"already recording to .*one\.wav"):
            relay.start_recording(tmp_path / "two.wav")
        relay.stop_recording()

    async def test_unwritable_path_is_a_clear_error(self, engine, phones, tmp_path):
        """A directory that does not exist is named in the error, at once."""
        _, _, _, _, relay = await call(engine, phones)
        with pytest.raises(RecordingFailed, match=r"cannot record to .*missing/call\.wav"):
            relay.start_recording(tmp_path / "missing" / "call.wav")

    async def test_nothing_recorded_gives_none(self, engine, phones):
        """stop_recording without a recording returns None."""
        _, _, _, _, relay = await call(engine, phones)
        assert None is relay.stop_recording()
