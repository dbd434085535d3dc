"""baresip desk phones through the embedded PBX: registration, a call, audio both ways."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .baresip import BaresipPhone
from .peers import Recorder, channel_power


class TestBaresipPhones:
    async def test_two_phones_register_call_and_hear_each_other(
        self, pbx, recorder: Recorder, tmp_path: Path
    ):
        """101 (440 Hz) calls 102 (1 kHz, auto-answer): each tone reaches the other side of the relay,
        which latched to the phones' real ports although their SDP names another address."""
        anna = BaresipPhone(tmp_path, "101", pbx.address, tone=440)
        ivan = BaresipPhone(tmp_path, "102", pbx.address, tone=1000)
        try:
            for phone in (anna, ivan):
                await phone.start()
            await recorder.wait_for(lambda: {"101", "102"} <= pbx.registrar.registered())
            host, port = pbx.address
            reply = await anna.command("dial", f"sip:102@{host}:{port}")
            assert reply.get("ok"), reply
            await anna.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(2.0)  # two seconds of conversation to record
            await anna.command("hangup")
            (call,) = await recorder.ended_calls(1)
        finally:
            for phone in (anna, ivan):
                await phone.stop()
        assert ("internal", "102", "answered") == (
            call.direction.value,
            call.answered_by,
            call.disposition.value,
        )
        (recording,) = call.recordings
        assert channel_power(Path(recording), 0, 440) > 0.5
        assert channel_power(Path(recording), 1, 1000) > 0.5
