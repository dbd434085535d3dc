"""The AMI recorder against the trace server: round trips, UTF-8 split across reads, clear errors."""

from __future__ import annotations

import asyncio
import itertools
import socket
from pathlib import Path

import pytest

from pbx_adapters.asterisk.recorder import RecorderError, record
from pbx_adapters.asterisk.trace import read_trace
from pbx_adapters.asterisk.trace_server import AmiTraceServer

from .conftest import IVAN, with_cyrillic

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami-traces"


async def record_until_finished(server: AmiTraceServer, out, **options) -> int:
    stop = asyncio.Event()
    recording = asyncio.create_task(
        record("127.0.0.1", server.port, "cti", "cti_secret", out, stop=stop, **options)
    )
    finished = asyncio.create_task(server.wait_finished())
    done, _ = await asyncio.wait({recording, finished}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    assert finished in done, "the server never finished streaming"
    stop.set()
    return await asyncio.wait_for(recording, 10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestRecordRoundTrip:
    async def test_recorded_messages_equal_what_the_server_sent(self, traces, serve, tmp_path):
        """
        Recording trace 02 (Cyrillic names, split inside every character) gives back every message.
        """
        server = await serve(
            with_cyrillic(read_trace(traces / "02_inbound_answered.jsonl")),
            split_inside_utf8=True,
            chunk_size=50,
        )
        out = tmp_path / "rec.jsonl"

        count = await record_until_finished(server, out)

        lines = read_trace(out)
        assert len(lines) == count
        received = [line.fields for line in lines if line.dir != "action"]
        assert server.sent == received
        assert IVAN in {line.get("CallerIDName") for line in lines}
        assert not [line for line in lines if "\ufffd" in line.to_json()]

    async def test_events_equal_the_trace_events(self, traces, serve, tmp_path):
        """
        With timestamps off, the recorded events are the trace's played events, FullyBooted first.
        """
        source = read_trace(traces / "14_click_to_call_originate.jsonl")
        server = await serve(source, timestamps=False)
        out = tmp_path / "rec.jsonl"

        await record_until_finished(server, out)

        events = [line.fields for line in read_trace(out) if line.dir == "event"]
        assert [line.fields for line in source if line.dir == "event"] == events

    async def test_shape_of_the_recording(self, traces, serve, tmp_path):
        """
        Login (Events: on, Secret redacted) -> Success -> ... -> Logoff -> Goodbye; t never decreases.
        """
        server = await serve(read_trace(traces / "02_inbound_answered.jsonl"))
        out = tmp_path / "rec.jsonl"

        await record_until_finished(server, out)

        lines = read_trace(out)
        login, accepted = lines[0], lines[1]
        assert (
            login.dir,
            login.name,
            login.get("Events"),
            login.get("Secret"),
        ) == ("action", "Login", "on", "********")
        assert ("response", "Success", login.get("ActionID")) == (
            accepted.dir,
            accepted.name,
            accepted.get("ActionID"),
        )
        assert [(line.dir, line.name) for line in lines[-2:]] == [
            ("action", "Logoff"),
            ("response", "Goodbye"),
        ]
        assert all(a.t <= b.t for a, b in itertools.pairwise(lines))
        assert "cti_secret" not in out.read_text(encoding="utf-8")

    async def test_secret_kept_on_request(self, traces, serve, tmp_path):
        """
        redact_secret=False writes the Secret as sent, like the shared traces.
        """
        server = await serve(read_trace(traces / "00_registration.jsonl"))
        out = tmp_path / "rec.jsonl"

        await record_until_finished(server, out, redact_secret=False)

        assert read_trace(out)[0].get("Secret") == "cti_secret"

    async def test_duration_stops_the_recording(self, traces, serve, tmp_path):
        """
        duration= ends the recording (with a Logoff) even while no event arrives.
        """
        server = await serve(read_trace(traces / "02_inbound_answered.jsonl"), pause_after=5)
        out = tmp_path / "rec.jsonl"

        count = await asyncio.wait_for(
            record("127.0.0.1", server.port, "cti", "cti_secret", out, duration=0.3), 10
        )

        lines = read_trace(out)
        assert 2 + 1 + 5 + 2 == count == len(lines)  # login, FullyBooted, 5 events, logoff
        assert lines[-1].name == "Goodbye"

    async def test_server_closing_ends_the_recording(self, traces, serve, tmp_path):
        """
        If AMI drops the link, the recording ends with what it got (no Logoff possible).
        """
        server = await serve(read_trace(traces / "02_inbound_answered.jsonl"), drop_after=7)
        out = tmp_path / "rec.jsonl"

        count = await asyncio.wait_for(record("127.0.0.1", server.port, "cti", "cti_secret", out), 10)

        assert count == 2 + 1 + 7
        assert "Logoff" not in {line.name for line in read_trace(out)}

    @pytest.mark.parametrize("path", sorted(TRACES.glob("*.jsonl")), ids=lambda p: p.stem)
    async def test_every_trace_round_trips(self, serve, tmp_path, path):
        """
        Replayed and re-recorded, each shared trace gives back its events (minus the recorder's lists).
        """
        source = read_trace(path)
        lists = {line.get("ActionID") for line in source if line.get("EventList") == "start"}
        server = await serve(source, timestamps=False)
        out = tmp_path / "rec.jsonl"

        await record_until_finished(server, out)

        events = [line.fields for line in read_trace(out) if line.dir == "event"]
        expected = [
            line.fields for line in source if line.dir == "event" and line.get("ActionID") not in lists
        ]
        assert expected == events


class TestRecordErrors:
    async def test_unreachable(self, tmp_path):
        """
        Nothing listening: RecorderError 'cannot reach AMI at host:port'.
        """
        port = free_port()

        with pytest.raises(RecorderError, match=f"cannot reach AMI at 127.0.0.1:{port}"):
            await record("127.0.0.1", port, "cti", "x", tmp_path / "rec.jsonl")

    async def test_login_refused(self, traces, serve, tmp_path):
        """
        A wrong secret: RecorderError naming the user.
        """
        server = await serve(read_trace(traces / "00_registration.jsonl"))
        out = tmp_path / "rec.jsonl"

        with pytest.raises(RecorderError, match="AMI refused the login for user bob"):
            await record("127.0.0.1", server.port, "bob", "nope", out)

        assert [line.name for line in read_trace(out)] == ["Login", "Error"]

    async def test_not_ami(self, tmp_path):
        """
        A peer whose first line is not the AMI banner is refused clearly.
        """

        async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(http, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(RecorderError, match="does not speak AMI"):
                await record("127.0.0.1", port, "cti", "x", tmp_path / "rec.jsonl")
        finally:
            server.close()
            await server.wait_closed()
