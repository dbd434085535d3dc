"""The conference mixer over real UDP: who hears whom, in talk, listen and whisper modes."""

from __future__ import annotations

import asyncio
import wave

import pytest

from pbx_adapters.sip.media import Codec, Conference, LegBusy, MediaEngine, MediaError, bridge

from .audio import power_at, sine
from .test_bridge import at

TONES = {"ann": 400, "ben": 700, "cat": 1100, "sup": 1500}


async def _room(engine, phones, modes: dict[str, str], whisper_to: str | None = None):
    """Phones named like TONES join one room in *modes*; each then streams its own tone."""
    room = Conference(engine, "800")
    parties = {}
    for name in modes:
        phone = await phones()
        leg = await engine.open_leg()
        leg.configure(phone.address, Codec.PCMA if name == "ben" else Codec.PCMU, 101)
        parties[name] = (phone, leg)
    for name, mode in modes.items():
        target = parties[whisper_to][1] if mode == "whisper" else None
        room.add(parties[name][1], mode=mode, whisper_to=target)
    return room, parties


def _wav(path) -> tuple[tuple[int, int, int], bytes]:
    """(channels, sample width, rate) and the frames of the WAV at *path*."""
    with wave.open(str(path), "rb") as wav:
        return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()), wav.readframes(wav.getnframes())


async def _talk(parties, seconds: float = 0.6) -> None:
    await asyncio.gather(
        *(
            phone.stream(at(leg), leg.codec, sine(TONES[name], seconds, amplitude=0.15))
            for name, (phone, leg) in parties.items()
        )
    )
    await asyncio.sleep(0.05)


def _heard(parties, name: str) -> dict[str, float]:
    """Share of each party's tone in what *name* received (the mixer's first ticks skipped)."""
    phone = parties[name][0]
    audio = phone.audio()[2 * 800 :]
    return {other: power_at(audio, TONES[other]) for other in parties}


class TestConference:
    async def test_each_of_three_hears_the_other_two_and_not_itself(self, engine, phones):
        """Ann, ben (A-law) and cat each receive the two other tones and none of their own."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "cat": "talk"})
        await _talk(parties)
        for name in parties:
            heard = _heard(parties, name)
            others = [other for other in parties if other != name]
            assert heard[name] < 0.01, (name, heard)
            assert all(heard[other] > 0.25 for other in others), (name, heard)
        assert 3 == room.members
        room.close()

    async def test_a_30_ms_phone_is_mixed_with_20_ms_phones(self, engine, phones):
        """A phone packetising 30 ms frames is heard in full and hears the others."""
        _, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk"})
        (ann, ann_leg), (ben, ben_leg) = parties["ann"], parties["ben"]
        await asyncio.gather(
            ann.stream(at(ann_leg), Codec.PCMU, sine(TONES["ann"], 0.6, amplitude=0.15), ptime_ms=30),
            ben.stream(at(ben_leg), Codec.PCMA, sine(TONES["ben"], 0.6, amplitude=0.15)),
        )
        await asyncio.sleep(0.05)
        assert _heard(parties, "ben")["ann"] > 0.8
        assert _heard(parties, "ann")["ben"] > 0.8

    async def test_listener_is_heard_by_nobody_and_hears_everyone(self, engine, phones):
        """A supervisor in listen mode hears both parties; neither hears the supervisor."""
        _, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "sup": "listen"})
        await _talk(parties)
        assert _heard(parties, "ann")["sup"] < 0.01
        assert _heard(parties, "ben")["sup"] < 0.01
        heard = _heard(parties, "sup")
        assert heard["ann"] > 0.25
        assert heard["ben"] > 0.25

    async def test_whisper_is_heard_only_by_its_target(self, engine, phones):
        """A supervisor whispering to ann is heard by ann only; the supervisor hears the call."""
        _, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "sup": "whisper"}, "ann")
        await _talk(parties)
        assert _heard(parties, "ann")["sup"] > 0.25
        assert _heard(parties, "ben")["sup"] < 0.01
        heard = _heard(parties, "sup")
        assert heard["ann"] > 0.25
        assert heard["ben"] > 0.25

    async def test_changing_mode_turns_a_listener_into_a_barge(self, engine, phones):
        """add() on a member changes its mode: the supervisor barges in and both parties hear them."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "sup": "listen"})
        room.add(parties["sup"][1], mode="talk")
        await _talk(parties)
        assert _heard(parties, "ann")["sup"] > 0.2
        assert _heard(parties, "ben")["sup"] > 0.2
        assert 3 == room.members

    async def test_removed_member_hears_nothing_more(self, engine, phones):
        """After remove() the leg gets no mix and is free to be bridged."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "cat": "talk"})
        cat_phone, cat = parties["cat"]
        room.remove(cat)
        await _talk(parties, 0.2)
        assert ([], 2) == (cat_phone.received, room.members)
        bridge(cat, await engine.open_leg())

    async def test_closing_a_member_leaves_the_room(self, engine, phones):
        """A member's leg closing (hang-up) takes it out of the room."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk"})
        parties["ben"][1].close()
        assert 1 == room.members

    async def test_room_recording_is_the_talkers_mix(self, engine, phones, tmp_path):
        """The mono recording holds both talkers; the listener is not in it."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "sup": "listen"})
        room.start_recording(tmp_path / "room.wav")
        await _talk(parties)
        path = room.stop_recording()
        with wave.open(str(path), "rb") as wav:
            params = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            audio = wav.readframes(wav.getnframes())[2 * 800 :]
        assert (1, 2, 8000) == params
        assert power_at(audio, TONES["ann"]) > 0.25
        assert power_at(audio, TONES["ben"]) > 0.25
        assert power_at(audio, TONES["sup"]) < 0.01

    async def test_a_bridged_leg_cannot_join(self, engine, phones):
        """A leg in a bridge must leave it first; the error says where it is."""
        a, b = await engine.open_leg(), await engine.open_leg()
        bridge(a, b)
        with pytest.raises(LegBusy, match="already in <Bridge"):
            Conference(engine, "800").add(a)

    async def test_whisper_needs_a_target(self, engine):
        """Whisper mode without whisper_to is refused with what is missing."""
        leg = await engine.open_leg()
        with pytest.raises(MediaError, match="needs whisper_to"):
            Conference(engine, "800").add(leg, mode="whisper")

    async def test_engine_stop_finishes_a_room_recording(self, port_base, tmp_path):
        """A room still recording when the engine stops gets its final header all the same."""
        engine = MediaEngine("127.0.0.1", port_base, port_base + 9)
        await engine.start()
        room = Conference(engine, "800")
        room.add(await engine.open_leg())
        room.start_recording(tmp_path / "room.wav")
        await asyncio.sleep(0.3)
        await engine.stop()
        with wave.open(str(tmp_path / "room.wav"), "rb") as wav:
            assert 0.2 <= wav.getnframes() / 8000 <= 0.6
        assert tmp_path / "room.wav" == room.stop_recording()


class TestMemberRecordings:
    async def test_each_member_gets_the_room_from_its_own_start_to_its_stop(self, engine, phones, tmp_path):
        """Ann's recording starts, ann talks; ben's starts, cat talks; ann's stops, ben talks and
        leaves. Ann's file holds ann and cat, ben's holds cat and ben: each spans its own part."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk", "cat": "talk"})
        loop = asyncio.get_running_loop()

        async def say(name: str, seconds: float) -> None:
            phone, leg = parties[name]
            await phone.stream(at(leg), leg.codec, sine(TONES[name], seconds, amplitude=0.15))
            await asyncio.sleep(0.1)  # the last frames through the mixer

        ann, ben = parties["ann"][1], parties["ben"][1]
        room.start_recording(tmp_path / "ann.wav", for_leg=ann)
        ann_started = loop.time()
        await say("ann", 0.6)
        room.start_recording(tmp_path / "ben.wav", for_leg=ben)
        ben_started = loop.time()
        await say("cat", 0.6)
        ann_path = room.stop_recording(for_leg=ann)
        ann_spent = loop.time() - ann_started
        await say("ben", 0.6)
        room.remove(ben)  # leaving finishes ben's recording; stop_recording hands it over once
        ben_spent = loop.time() - ben_started
        ben_path = room.stop_recording(for_leg=ben)

        assert (tmp_path / "ann.wav", tmp_path / "ben.wav") == (ann_path, ben_path)
        assert room.stop_recording(for_leg=ben) is None
        (ann_params, ann_audio), (ben_params, ben_audio) = _wav(ann_path), _wav(ben_path)
        assert (1, 2, 8000) == ann_params == ben_params
        assert abs(len(ann_audio) / 2 / 8000 - ann_spent) < 0.15, (len(ann_audio), ann_spent)
        assert abs(len(ben_audio) / 2 / 8000 - ben_spent) < 0.15, (len(ben_audio), ben_spent)
        ann_heard = {name: power_at(ann_audio, TONES[name]) for name in ("ann", "ben", "cat")}
        ben_heard = {name: power_at(ben_audio, TONES[name]) for name in ("ann", "ben", "cat")}
        # each tone fills about half of a file, so its share is about half of a lone tone's
        assert {"ann", "cat"} == {name for name, share in ann_heard.items() if share > 0.1}, ann_heard
        assert ann_heard["ben"] < 0.01, ann_heard
        assert {"ben", "cat"} == {name for name, share in ben_heard.items() if share > 0.1}, ben_heard
        assert ben_heard["ann"] < 0.01, ben_heard
        assert 2 == room.members

    async def test_the_room_recording_runs_beside_the_members_ones(self, engine, phones, tmp_path):
        """The whole-room recording and a member's are separate files of the same mix."""
        room, parties = await _room(engine, phones, {"ann": "talk", "ben": "talk"})
        room.start_recording(tmp_path / "room.wav")
        room.start_recording(tmp_path / "ann.wav", for_leg=parties["ann"][1])
        await _talk(parties)
        room.close()
        for path in (room.stop_recording(), room.stop_recording(for_leg=parties["ann"][1])):
            _, audio = _wav(path)
            assert power_at(audio, TONES["ann"]) > 0.25, path
            assert power_at(audio, TONES["ben"]) > 0.25, path

    async def test_a_member_recording_needs_a_member_and_runs_once(self, engine, phones, tmp_path):
        """Recording for a leg outside the room, or twice for one member, fails saying why."""
        room, parties = await _room(engine, phones, {"ann": "talk"})
        stranger = await engine.open_leg()
        with pytest.raises(MediaError, match=f"RTP leg {stranger.local_port} is not in conference '800'"):
            room.start_recording(tmp_path / "x.wav", for_leg=stranger)
        ann = parties["ann"][1]
        room.start_recording(tmp_path / "ann.wav", for_leg=ann)
        with pytest.raises(MediaError, match=f"already recording RTP leg {ann.local_port} to .*ann.wav"):
            room.start_recording(tmp_path / "again.wav", for_leg=ann)
        assert tmp_path / "ann.wav" == room.stop_recording(for_leg=ann)
