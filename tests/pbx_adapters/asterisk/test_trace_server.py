"""AmiTraceServer against a raw asyncio AMI client: handshake, actions, the event stream, faults."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from pathlib import Path

import pytest

from pbx_adapters.asterisk.trace import (
    Fields,
    MessageSplitter,
    TraceLine,
    base_epoch,
    encode_message,
    parse_message,
    read_trace,
)
from pbx_adapters.asterisk.trace_server import AmiTraceServer

from .conftest import IVAN, with_cyrillic

TIMEOUT = 5.0
TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "ami-traces"


class RawAmi:
    """A minimal AMI client over asyncio streams; keeps every TCP read for the split tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: str) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = banner
        self.reads: list[bytes] = []
        self._splitter = MessageSplitter()
        self._inbox: deque[Fields] = deque()
        self._sequence = 0

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        banner = await asyncio.wait_for(reader.readuntil(b"\r\n"), TIMEOUT)
        return cls(reader, writer, banner.decode())

    async def send(self, action: str, **headers: str) -> str:
        self._sequence += 1
        action_id = headers.pop("ActionID", f"t-{self._sequence}")
        self.writer.write(encode_message({"Action": action, "ActionID": action_id, **headers}))
        await self.writer.drain()
        return action_id

    async def next(self, within: float = TIMEOUT) -> Fields:
        while not self._inbox:
            data = await asyncio.wait_for(self.reader.read(65536), within)
            if not data:
                raise EOFError("the server closed the connection")
            self.reads.append(data)
            self._inbox.extend(parse_message(raw) for raw in self._splitter.feed(data))
        return self._inbox.popleft()

    async def take(self, count: int) -> list[Fields]:
        return [await self.next() for _ in range(count)]

    async def login(self, username: str = "cti", secret: str = "cti_secret") -> Fields:  # noqa: S107
        await self.send("Login", Username=username, Secret=secret, Events="on")
        return await self.next()

    async def until(self, name: str) -> list[Fields]:
        """Read messages up to and including the event or response called *name*."""
        seen = []
        while True:
            message = await self.next()
            seen.append(message)
            if name in (message.get("Event"), message.get("Response")):
                return seen

    async def at_eof(self) -> bool:
        with contextlib.suppress(EOFError, ConnectionError):
            while True:
                await self.next()
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def load(traces, name: str) -> list[TraceLine]:
    return read_trace(traces / f"{name}.jsonl")


def played(lines: list[TraceLine]) -> list[Fields]:
    """The events a client should see: all trace events but the items of the recorder's lists."""
    lists = {line.get("ActionID") for line in lines if line.get("EventList") == "start"}
    return [line.fields for line in lines if line.dir == "event" and line.get("ActionID") not in lists]


def without_timestamp(fields: Fields) -> Fields:
    return {key: value for key, value in fields.items() if key != "Timestamp"}


def index_of(server: AmiTraceServer, event: str, nth: int = 1) -> int:
    """Position of the nth *event* in the server's played events."""
    hits = [i for i, line in enumerate(server.events) if line.get("Event") == event]
    return hits[nth - 1]


@pytest.fixture(name="connect")
async def _connect(serve):
    clients: list[RawAmi] = []

    async def connect(server: AmiTraceServer) -> RawAmi:
        client = await RawAmi.connect(server.port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


class TestLifecycle:
    async def test_async_with_and_sequential_clients(self, traces, connect):
        """
        As an async context manager the server listens, serves clients one after another, then stops.
        """
        async with AmiTraceServer(load(traces, "00_registration"), pause_after=2) as server:
            for _ in range(3):
                client = await connect(server)
                await client.login()
                await client.send("Logoff")
                await client.until("Goodbye")
                await client.close()

        assert (3, 3, 2) == (server.connections, server.logins, server.position)
        with pytest.raises(ConnectionRefusedError):
            await RawAmi.connect(server.port)


class TestHandshake:
    async def test_banner(self, traces, serve, connect):
        """
        On connect the server sends the Asterisk 22 banner line.
        """
        client = await connect(await serve(load(traces, "02_inbound_answered")))

        assert client.banner == "Asterisk Call Manager/11.0.0\r\n"

    async def test_login_failure(self, traces, serve, connect):
        """
        A wrong secret gets 'Authentication failed' with the ActionID, then the server hangs up.
        """
        server = await serve(load(traces, "02_inbound_answered"))
        client = await connect(server)

        await client.send("Login", ActionID="x-1", Username="cti", Secret="wrong")

        assert await client.next() == {
            "Response": "Error",
            "ActionID": "x-1",
            "Message": "Authentication failed",
        }
        assert await client.at_eof()
        assert server.logins == 0

    async def test_login_success_then_fully_booted(self, traces, serve, connect):
        """
        A good login is accepted, then one FullyBooted arrives, then the trace's events.
        """
        lines = load(traces, "02_inbound_answered")
        client = await connect(await serve(lines))

        await client.send("Login", ActionID="x-1", Username="cti", Secret="cti_secret")
        response, booted, auth = await client.take(3)

        assert response == {"Response": "Success", "ActionID": "x-1", "Message": "Authentication accepted"}
        assert booted["Event"] == "FullyBooted"
        assert auth["Event"] == "SuccessfulAuth"

    async def test_actions_before_login_are_refused(self, traces, serve, connect):
        """
        Before Login, an action gets 'Authentication Required' and no event is streamed.
        """
        client = await connect(await serve(load(traces, "02_inbound_answered")))

        await client.send("Ping", ActionID="p")

        assert await client.next() == {
            "Response": "Error",
            "ActionID": "p",
            "Message": "Authentication Required",
        }


class TestActions:
    async def test_ping(self, traces, serve, connect):
        """
        Ping answers Success, Ping: Pong and a Timestamp, with the client's ActionID.
        """
        server = await serve(load(traces, "02_inbound_answered"), pause_after=0)
        client = await connect(server)
        await client.login()
        await client.next()  # FullyBooted
        await server.wait_paused()

        await client.send("Ping", ActionID="ping-7")
        pong = await client.next()

        assert list(pong) == ["Response", "ActionID", "Ping", "Timestamp"]
        assert (pong["Response"], pong["ActionID"], pong["Ping"]) == ("Success", "ping-7", "Pong")
        assert float(pong["Timestamp"]) == pytest.approx(base_epoch(server.events), abs=1.0)

    async def test_logoff(self, traces, serve, connect):
        """
        Logoff answers Goodbye and closes the connection.
        """
        server = await serve(load(traces, "02_inbound_answered"), pause_after=0)
        client = await connect(server)
        await client.login()
        await server.wait_paused()

        await client.send("Logoff", ActionID="bye")

        goodbye = (await client.until("Goodbye"))[-1]
        assert goodbye == {"Response": "Goodbye", "ActionID": "bye", "Message": "Thanks for all the fish."}
        assert await client.at_eof()

    async def test_originate_is_queued(self, traces, serve, connect):
        """
        Originate gets the answer Asterisk gave in trace 14: 'Originate successfully queued'.
        """
        server = await serve(load(traces, "14_click_to_call_originate"), pause_after=0)
        client = await connect(server)
        await client.login()
        await client.next()
        await server.wait_paused()

        await client.send("Originate", ActionID="o-1", Channel="PJSIP/101", Exten="+74957654321")

        expected = {"Response": "Success", "ActionID": "o-1", "Message": "Originate successfully queued"}
        assert expected == await client.next()
        assert server.actions[-1]["Channel"] == "PJSIP/101"

    async def test_unknown_action_gets_a_generic_success(self, traces, serve, connect):
        """
        An action the server does not model is acknowledged with Response: Success.
        """
        server = await serve(load(traces, "02_inbound_answered"), pause_after=0)
        client = await connect(server)
        await client.login()
        await client.next()
        await server.wait_paused()

        await client.send("QueueStatus", ActionID="q")
        reply = await client.next()

        assert (reply["Response"], reply["ActionID"]) == ("Success", "q")
        assert "Message" in reply

    async def test_scripted_reply(self, traces, serve, connect):
        """
        replies= overrides the answer to an action (here an Originate failure).
        """
        server = await serve(
            load(traces, "14_click_to_call_originate"),
            pause_after=0,
            replies={"originate": {"Response": "Error", "Message": "Originate failed"}},
        )
        client = await connect(server)
        await client.login()
        await client.next()
        await server.wait_paused()

        await client.send("Originate", ActionID="o-2", Channel="PJSIP/101")

        assert await client.next() == {"Response": "Error", "ActionID": "o-2", "Message": "Originate failed"}

    async def test_ignored_actions_get_no_reply(self, traces, serve, connect):
        """
        With ignore_actions, that action is never answered; the next one still is.
        """
        server = await serve(load(traces, "02_inbound_answered"), pause_after=0, ignore_actions={"Originate"})
        client = await connect(server)
        await client.login()
        await client.next()
        await server.wait_paused()

        await client.send("Originate", ActionID="lost")
        with pytest.raises(TimeoutError):
            await client.next(within=0.2)
        await client.send("Ping", ActionID="after")

        assert (await client.next())["ActionID"] == "after"
        assert [action["Action"] for action in server.actions] == ["Login", "Originate", "Ping"]


class TestLiveState:
    async def test_core_show_channels_mid_call_of_02(self, traces, serve, connect):
        """
        Paused after both BridgeEnter of trace 02: two channels, same Linkedid, same BridgeId.
        """
        lines = load(traces, "02_inbound_answered")
        probe = AmiTraceServer(lines)
        server = await serve(lines, pause_after=index_of(probe, "BridgeEnter", 2) + 1)
        client = await connect(server)
        await client.login()
        await server.wait_paused()
        bridge = server.bridges[0]["BridgeUniqueid"]

        await client.send("CoreShowChannels", ActionID="c-1")
        *_, start = await client.until("Success")
        items = await client.until("CoreShowChannelsComplete")

        assert {"EventList": "start", "Message": "Channels will follow"}.items() <= start.items()
        assert start["ActionID"] == "c-1"
        channels, complete = items[:-1], items[-1]
        assert [c["Channel"] for c in channels] == ["PJSIP/trunk-00000002", "PJSIP/101-00000003"]
        assert {"1795751289.3"} == {c["Linkedid"] for c in channels}
        assert {bridge} == {c["BridgeId"] for c in channels}
        assert {"c-1"} == {c["ActionID"] for c in channels}
        assert {"Up"} == {c["ChannelStateDesc"] for c in channels}
        expected_complete = {
            "Event": "CoreShowChannelsComplete",
            "ActionID": "c-1",
            "EventList": "Complete",
            "ListItems": "2",
        }
        assert expected_complete == complete

    async def test_lists_match_what_asterisk_answered_in_13(self, traces, serve, connect):
        """
        At the moment trace 13 asked, CoreShowChannels and BridgeList equal Asterisk's own items.
        """
        lines = load(traces, "13_resync_queries_during_call")
        asked_at = next(line.t for line in lines if line.name == "CoreShowChannels")
        probe = AmiTraceServer(lines)
        pause_at = sum(1 for line in probe.events if line.t < asked_at)
        recorded = {
            name: [line.fields for line in lines if line.get("Event") == name]
            for name in ("CoreShowChannel", "BridgeListItem")
        }
        server = await serve(lines, pause_after=pause_at)
        client = await connect(server)
        await client.login()
        await server.wait_paused()

        await client.send("CoreShowChannels", ActionID="lab-2")
        channels = [
            m for m in await client.until("CoreShowChannelsComplete") if m.get("Event") == "CoreShowChannel"
        ]
        await client.send("BridgeList", ActionID="lab-3")
        bridges = [m for m in await client.until("BridgeListComplete") if m.get("Event") == "BridgeListItem"]

        def strip_duration(items):
            return [{k: v for k, v in item.items() if k != "Duration"} for item in items]

        assert strip_duration(recorded["CoreShowChannel"]) == strip_duration(channels)
        assert all(len(c["Duration"]) == 8 and c["Duration"].startswith("00:00:0") for c in channels)
        assert recorded["BridgeListItem"] == bridges

    async def test_getvar_and_status_match_13(self, traces, serve, connect):
        """
        Getvar MIXMONITOR_FILENAME and Status answer what Asterisk answered in trace 13.
        """
        lines = load(traces, "13_resync_queries_during_call")
        asked_at = next(line.t for line in lines if line.name == "CoreShowChannels")
        pause_at = sum(1 for line in AmiTraceServer(lines).events if line.t < asked_at)
        recorded = {line.get("ActionID"): line.fields for line in lines if line.dir == "response"}
        recorded_status = next(line.fields for line in lines if line.get("Event") == "Status")
        server = await serve(lines, pause_after=pause_at)
        client = await connect(server)
        await client.login()
        await server.wait_paused()

        await client.send(
            "Getvar", ActionID="lab-5", Channel="PJSIP/trunk-0000002a", Variable="MIXMONITOR_FILENAME"
        )
        trunk = (await client.until("Success"))[-1]
        await client.send(
            "Getvar", ActionID="lab-6", Channel="PJSIP/101-0000002b", Variable="MIXMONITOR_FILENAME"
        )
        phone = await client.next()
        await client.send("Getvar", ActionID="g-3", Channel="PJSIP/trunk-0000002a", Variable="REC_FILE")
        inherited = await client.next()
        await client.send("Getvar", ActionID="g-4", Channel="PJSIP/999-00000000", Variable="X")
        missing = await client.next()
        await client.send("Status", ActionID="lab-4", Channel="PJSIP/trunk-0000002a")
        status = await client.until("StatusComplete")

        assert recorded["lab-5"] == trunk
        assert recorded["lab-6"] == phone
        assert recorded["lab-5"]["Value"] == inherited["Value"]
        assert (missing["Response"], missing["Message"]) == ("Error", "No such channel")
        item = next(m for m in status if m.get("Event") == "Status")
        for key in ("Channel", "Uniqueid", "Linkedid", "ConnectedLineNum", "BridgeID", "Application", "Data"):
            assert recorded_status[key] == item[key], key
        assert {"EventList": "Complete", "ListItems": "1"}.items() <= status[-1].items()

    async def test_hangup_empties_the_lists(self, traces, serve, connect):
        """
        After the whole of trace 02 no channel and no bridge are left.
        """
        server = await serve(load(traces, "02_inbound_answered"))
        client = await connect(server)
        await client.login()
        await server.wait_finished()

        await client.send("CoreShowChannels", ActionID="c")
        messages = await client.until("CoreShowChannelsComplete")

        assert messages[-1]["ListItems"] == "0"
        assert [] == server.channels == server.bridges

    @pytest.mark.parametrize("path", sorted(TRACES.glob("*.jsonl")), ids=lambda p: p.stem)
    async def test_every_trace_ends_with_nothing_live(self, serve, connect, path):
        """
        Played to the end, every shared trace leaves no channel and no bridge behind.
        """
        server = await serve(read_trace(path))
        client = await connect(server)
        await client.login()

        await asyncio.wait_for(server.wait_finished(), TIMEOUT)

        assert ([], []) == (server.channels, server.bridges)

    async def test_setvar_then_getvar(self, traces, serve, connect):
        """
        Setvar on a live channel is what a later Getvar reads back.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines, pause_after=index_of(AmiTraceServer(lines), "DialBegin"))
        client = await connect(server)
        await client.login()
        await server.wait_paused()

        await client.send("Setvar", ActionID="s", Channel="PJSIP/101-00000003", Variable="CRM_ID", Value="42")
        await client.until("Success")
        await client.send("Getvar", ActionID="g", Channel="PJSIP/101-00000003", Variable="CRM_ID")

        assert {
            "Response": "Success",
            "ActionID": "g",
            "Variable": "CRM_ID",
            "Value": "42",
        } == await client.next()


class TestEventStream:
    @pytest.mark.parametrize(
        "name", ["02_inbound_answered", "13_resync_queries_during_call", "14_click_to_call_originate"]
    )
    async def test_stream_equals_the_trace_events(self, traces, serve, connect, name):
        """
        The client receives exactly the trace's events (one FullyBooted, no recorded list items).
        """
        lines = load(traces, name)
        server = await serve(lines)
        client = await connect(server)
        await client.login()

        received = await client.take(len(played(lines)))
        await server.wait_finished()

        assert played(lines) == [without_timestamp(m) for m in received]
        assert sum(1 for m in received if m["Event"] == "FullyBooted") == 1

    async def test_originate_response_is_streamed(self, traces, serve, connect):
        """
        OriginateResponse carries the recorder's ActionID but is no list item: it is streamed.
        """
        lines = load(traces, "14_click_to_call_originate")
        client = await connect(await serve(lines))
        await client.login()

        received = await client.until("OriginateResponse")

        assert received[-1]["ActionID"] == "lab-2"

    async def test_list_items_of_13_are_not_streamed(self, traces, serve):
        """
        The items answering the recording client's lists (CoreShowChannel, Status...) are skipped.
        """
        server = await serve(load(traces, "13_resync_queries_during_call"))
        names = {line.get("Event") for line in server.events}

        assert not names & {"CoreShowChannel", "BridgeListItem", "Status", "EndpointList", "StatusComplete"}
        assert not [line for line in server.events if line.get("ActionID")]

    async def test_timestamps(self, traces, serve, connect):
        """
        Every event has Timestamp after Privilege = base epoch + t, never decreasing.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines)
        client = await connect(server)
        await client.login()

        received = await client.take(len(played(lines)))
        stamps = [float(m["Timestamp"]) for m in received]
        epoch = base_epoch(lines)

        assert stamps == sorted(stamps)
        assert all(list(m)[2] == "Timestamp" for m in received)
        for message, line in zip(received[1:], server.events, strict=True):
            assert epoch + line.t == pytest.approx(float(message["Timestamp"]), abs=1e-6)

    async def test_no_timestamps(self, traces, serve, connect):
        """
        timestamps=False sends the events exactly as recorded.
        """
        lines = load(traces, "02_inbound_answered")
        client = await connect(await serve(lines, timestamps=False))
        await client.login()

        assert played(lines) == await client.take(len(played(lines)))

    async def test_speed_follows_the_trace_clock(self, serve, connect):
        """
        speed=10 spreads one second of trace over at least a tenth of a second.
        """
        lines = [TraceLine(t, "event", {"Event": "UserEvent", "N": str(t)}) for t in (0.0, 0.5, 1.0)]
        server = await serve(lines, speed=10.0, timestamps=False)
        client = await connect(server)
        started = time.monotonic()  # before the server's clock starts, at the login

        await client.login()
        await client.take(4)  # FullyBooted and the three events

        assert time.monotonic() - started >= 0.095

    async def test_logoff_and_reconnect_continue_the_stream(self, traces, serve, connect):
        """
        A second connection after Logoff continues where the first one stopped.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines, pause_after=10)
        first = await connect(server)
        await first.login()
        await server.wait_paused()
        before = await first.take(11)  # FullyBooted + 10 events
        await first.send("Logoff")
        await first.until("Goodbye")
        second = await connect(server)
        await second.login()
        server.resume()

        after = await second.take(len(played(lines)) - 10)

        assert played(lines) == [without_timestamp(m) for m in before + after[1:]]
        assert after[0]["Event"] == "FullyBooted"
        assert (server.connections, server.logins) == (2, 2)


class TestFaults:
    async def test_chunk_size_one_gives_identical_messages(self, traces, serve, connect):
        """
        Written one byte at a time, the stream reassembles into the same messages.
        """
        lines = with_cyrillic(load(traces, "02_inbound_answered"))[:30]
        expected = played(lines)
        client = await connect(await serve(lines, chunk_size=1, timestamps=False))
        await client.login()

        received = await client.take(len(expected))

        assert expected == received
        assert len(client.reads) > 10 * len(expected)

    async def test_chunks_span_message_boundaries(self, traces, serve, connect):
        """
        With chunk_size=7 some TCP reads hold the end of one message and the start of the next.
        """
        lines = load(traces, "02_inbound_answered")
        client = await connect(await serve(lines, chunk_size=7))
        await client.login()

        await client.take(len(played(lines)))

        assert any(b"\r\n\r\n" in read and not read.endswith(b"\r\n\r\n") for read in client.reads)

    async def test_split_inside_utf8(self, traces, serve, connect):
        """
        split_inside_utf8 cuts every Cyrillic character across two reads; the names arrive whole.
        """
        lines = with_cyrillic(load(traces, "02_inbound_answered"))
        client = await connect(await serve(lines, split_inside_utf8=True, timestamps=False))
        await client.login()

        received = await client.take(len(played(lines)))

        assert played(lines) == received
        assert received[2]["CallerIDName"] == IVAN
        broken = 0
        for read in client.reads:
            try:
                read.decode("utf-8")
            except UnicodeDecodeError:
                broken += 1
        assert broken >= len(IVAN.replace(" ", ""))

    async def test_split_at(self, serve, connect):
        """
        split_at chooses the cut offsets of each message.
        """
        lines = [TraceLine(0.0, "event", {"Event": "UserEvent", "Data": "abcdef"})]
        client = await connect(await serve(lines, split_at=lambda data: [3], timestamps=False))
        await client.login()

        assert (await client.take(2))[1] == {"Event": "UserEvent", "Data": "abcdef"}
        assert any(read.endswith(b"Eve") for read in client.reads)

    async def test_drop_and_reconnect_continue(self, traces, serve, connect):
        """
        drop_after closes the link after N events; after a new login the stream goes on from N.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines, drop_after=20)
        first = await connect(server)
        await first.login()

        before = await first.take(21)
        assert await first.at_eof()
        second = await connect(server)
        await second.login()
        after = await second.take(len(played(lines)) - 20)

        assert played(lines) == [without_timestamp(m) for m in before + after[1:]]

    async def test_gap_is_lost_but_the_state_follows_it(self, traces, serve, connect):
        """
        Events of the gap never reach the client, yet CoreShowChannels after the reconnect shows them.
        """
        lines = load(traces, "02_inbound_answered")
        probe = AmiTraceServer(lines)
        drop_at = index_of(probe, "BridgeCreate")
        gap = index_of(probe, "BridgeEnter", 2) + 1 - drop_at
        server = await serve(lines, drop_after=drop_at, gap=gap, pause_after=drop_at + gap)
        first = await connect(server)
        await first.login()
        seen = await first.take(drop_at + 1)
        assert await first.at_eof()

        second = await connect(server)
        await second.login()
        await server.wait_paused()
        await second.send("CoreShowChannels", ActionID="resync")
        items = [
            m for m in await second.until("CoreShowChannelsComplete") if m.get("Event") == "CoreShowChannel"
        ]

        assert not [m for m in seen if m["Event"].startswith("Bridge")]
        bridge = server.bridges[0]["BridgeUniqueid"]
        assert [bridge, bridge] == [item["BridgeId"] for item in items]
        server.resume()
        rest = await second.take(len(played(lines)) - drop_at - gap - 1)  # FullyBooted already read
        assert played(lines)[drop_at + gap + 1 :] == [without_timestamp(m) for m in rest]

    async def test_stall_keeps_the_link_open_and_silent(self, traces, serve, connect):
        """
        stall_after: no more events and no Ping answer, but no close either; a new client resumes.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines, stall_after=5)
        first = await connect(server)
        await first.login()
        await first.take(6)

        await first.send("Ping", ActionID="silent")
        with pytest.raises(TimeoutError):
            await first.next(within=0.3)
        assert server.connected

        second = await connect(server)
        await second.login()
        after = await second.take(len(played(lines)) - 5)
        assert played(lines)[6:] == [without_timestamp(m) for m in after[1:]]
        await server.wait_finished()

    async def test_pause_and_resume(self, traces, serve, connect):
        """
        pause() stops the stream at the next event; resume() continues it.
        """
        lines = load(traces, "02_inbound_answered")
        server = await serve(lines, pause_after=3)
        client = await connect(server)
        await client.login()
        await server.wait_paused()

        assert server.position == 3
        server.resume()
        await server.wait_finished()
        assert server.finished
        assert len(server.events) == server.position
