"""The AMI link over a real TCP socket: panoramisk runs for real against a trace-playing server."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from config.settings import AmiSettings, Settings
from cti.bus import EventBus
from cti.errors import PbxUnavailable
from cti.events import CallEnded, CallStarted
from cti.model import Disposition
from cti.registry import CallRegistry
from pbx_adapters.asterisk.ami import AmiConnection, parse_message
from pbx_adapters.asterisk.pbx import AsteriskPbx
from pbx_adapters.asterisk.trace import read_trace
from pbx_adapters.asterisk.trace_server import AmiTraceServer

CYRILLIC = "Иван Петров"


def ami(port: int, **overrides) -> AmiSettings:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "username": "cti",
        "secret": SecretStr("cti_secret"),
        "action_timeout": 1.0,
        "ping_interval": 30.0,
        "reconnect_delay": 0.05,
    }
    return AmiSettings(**(values | overrides))


class Pipeline:
    """An AsteriskPbx publishing into a real registry and bus; remembers every event."""

    def __init__(self, port: int, **ami_overrides) -> None:
        self.registry = CallRegistry()
        self.bus = EventBus(self.registry)
        self.events = []
        self.ended = []
        self.pbx = AsteriskPbx(Settings(ami=ami(port, **ami_overrides)), self._publish)

    def _publish(self, event) -> None:
        self.events.append(event)
        call = self.bus.publish(event)
        if isinstance(event, CallEnded):
            self.ended.append(call)

    async def until(self, predicate, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    def count(self, kind) -> int:
        return sum(1 for event in self.events if isinstance(event, kind))


@pytest.fixture(name="inbound")
def _inbound(traces):
    return read_trace(traces / "02_inbound_answered.jsonl")


def event_index(server: AmiTraceServer, name: str) -> int:
    return next(i for i, line in enumerate(server.events) if line.fields.get("Event") == name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestFraming:
    def test_an_empty_last_header_is_kept(self):
        """
        "Exten: " at the end of a message is a header with an empty value (panoramisk drops it).
        """
        assert {"Event": "Newexten", "Exten": ""} == parse_message("Event: Newexten\r\nExten: ")

    def test_a_value_keeps_its_colons(self):
        """
        Only the first colon separates key and value.
        """
        assert {"AppData": "a:b: c"} == parse_message("AppData: a:b: c")

    async def test_cyrillic_split_across_every_read_arrives_intact(self, inbound):
        """
        Every non-ASCII character straddles two TCP writes; names still arrive whole.
        """
        lines = [
            dataclasses.replace(line, fields={**line.fields, "CallerIDName": CYRILLIC})
            if "CallerIDName" in line.fields
            else line
            for line in inbound
        ]
        received = []
        async with AmiTraceServer(lines, split_inside_utf8=True, chunk_size=7) as server:
            link = AmiConnection(ami(server.port), received.append)
            await link.start()
            await server.wait_finished()
            await asyncio.sleep(0)
            await link.send({"Action": "Ping"})
            await link.stop()

        names = {event["CallerIDName"] for event in received if "CallerIDName" in event}
        assert {CYRILLIC} == names
        played = [line.fields["Event"] for line in server.events]
        assert played == [event["Event"] for event in received if event["Event"] != "FullyBooted"]

    async def test_the_caller_name_reaches_the_call_record(self, inbound):
        """
        Through the whole adapter, the caller's Cyrillic name is on the call.
        """
        lines = [
            dataclasses.replace(line, fields={**line.fields, "CallerIDName": CYRILLIC})
            if line.fields.get("Channel", "").startswith("PJSIP/trunk") and "CallerIDName" in line.fields
            else line
            for line in inbound
        ]
        async with AmiTraceServer(lines, split_inside_utf8=True, chunk_size=5) as server:
            run = Pipeline(server.port)
            await run.pbx.start()
            await run.until(lambda: run.ended)
            await run.pbx.stop()

        assert CYRILLIC == run.ended[0].caller.name


class TestActions:
    async def test_an_action_never_answered_times_out_and_the_link_stays_usable(self, inbound):
        """
        Asterisk ignores an Originate: the caller gets PbxUnavailable after the timeout, and the
        next action still works.
        """
        async with AmiTraceServer(inbound, ignore_actions={"Originate"}, pause_after=0) as server:
            run = Pipeline(server.port, action_timeout=0.2)
            await run.pbx.start()
            await run.until(lambda: run.pbx.connected)

            with pytest.raises(PbxUnavailable, match=r"did not answer Originate within 0\.2 s"):
                await run.pbx.originate("101", "+74957654321")
            response = await run.pbx.ami.send({"Action": "Ping"})
            await run.pbx.stop()

        assert "Success" == response["Response"]

    async def test_actions_fail_at_once_when_not_connected(self):
        """
        With no Asterisk, an action fails straight away with a clear error.
        """
        run = Pipeline(free_port())
        await run.pbx.start()

        with pytest.raises(PbxUnavailable, match="not connected"):
            await run.pbx.originate("101", "+74957654321")
        await run.pbx.stop()


class TestLinkFailures:
    async def test_an_absent_asterisk_is_reported_once_and_retried(self):
        """
        Nothing listens: start() does not raise, the log says so once, retries go on quietly.
        """
        port = free_port()
        with capture_logs() as logs:
            run = Pipeline(port)
            await run.pbx.start()
            await asyncio.sleep(0.4)  # several reconnect attempts at 0.05 s
            await run.pbx.stop()

        assert 1 == [entry["event"] for entry in logs].count("ami_unreachable")
        assert not run.pbx.connected

    async def test_it_connects_when_asterisk_comes_up_later(self, inbound):
        """
        Asterisk starts after the daemon: the link comes up on its own and calls flow.
        """
        port = free_port()
        run = Pipeline(port)
        await run.pbx.start()
        await asyncio.sleep(0.2)
        server = AmiTraceServer(inbound)
        await server.start(port=port)
        try:
            await run.until(lambda: run.ended)
        finally:
            await run.pbx.stop()
            await server.stop()

        assert "101" == run.ended[0].answered_by

    async def test_a_refused_login_is_reported_and_retried(self, inbound):
        """
        A wrong secret: logged once as a refused login, never connected, no crash.
        """
        async with AmiTraceServer(inbound, secret="other") as server:
            with capture_logs() as logs:
                run = Pipeline(server.port)
                await run.pbx.start()
                await asyncio.sleep(0.3)
                await run.pbx.stop()

        assert 1 == [entry["event"] for entry in logs].count("ami_login_refused")
        assert [] == run.events

    async def test_a_dropped_link_mid_call_reconnects_and_the_call_is_logged_once(self, inbound):
        """
        The TCP link drops after the answer; the adapter reconnects, re-reads the channels and the
        call ends once, answered by 101, with one CallStarted.
        """
        probe = AmiTraceServer(inbound)
        drop = event_index(probe, "BridgeEnter") + 2
        async with AmiTraceServer(inbound, drop_after=drop) as server:
            run = Pipeline(server.port)
            await run.pbx.start()
            await run.until(lambda: run.ended)
            await run.pbx.stop()

        assert 2 == run.pbx.ami.logins
        assert 1 == run.count(CallStarted)
        [call] = run.ended
        assert ("101", Disposition.ANSWERED) == (call.answered_by, call.disposition)

    async def test_a_call_that_ended_while_disconnected_is_closed_by_the_resync(self, inbound):
        """
        The hang-up happens while the link is down (its events are lost): the snapshot after the
        reconnect shows no channel, so the call is ended, once.
        """
        probe = AmiTraceServer(inbound)
        drop = event_index(probe, "BridgeEnter") + 2
        gap = len(probe.events) - drop  # everything after the drop is lost
        async with AmiTraceServer(inbound, drop_after=drop, gap=gap) as server:
            run = Pipeline(server.port)
            await run.pbx.start()
            await run.until(lambda: run.ended)
            await run.pbx.stop()

        [call] = run.ended
        assert "101" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
        assert 1 == run.count(CallEnded)

    async def test_a_half_open_link_is_detected_by_the_ping_watchdog(self, inbound):
        """
        Asterisk stops answering without closing the socket; the watchdog notices and reconnects.
        """
        probe = AmiTraceServer(inbound)
        stall = event_index(probe, "BridgeEnter") + 2
        with capture_logs() as logs:
            async with AmiTraceServer(inbound, stall_after=stall) as server:
                run = Pipeline(server.port, ping_interval=0.1, ping_timeout=0.2)
                await run.pbx.start()
                await run.until(lambda: run.ended)
                await run.pbx.stop()

        assert "ami_link_dead" in [entry["event"] for entry in logs]
        assert 1 == len(run.ended)
        assert "101" == run.ended[0].answered_by

    async def test_a_daemon_restarted_mid_call_adopts_the_call(self, inbound):
        """
        A fresh adapter (the daemon restarted) joins during the call: it adopts the call from
        CoreShowChannels with the same call id, and logs it when it ends.
        """
        probe = AmiTraceServer(inbound)
        pause = event_index(probe, "BridgeEnter") + 2
        async with AmiTraceServer(inbound, pause_after=pause) as server:
            first = Pipeline(server.port)
            await first.pbx.start()
            await server.wait_paused()
            await first.pbx.stop()

            second = Pipeline(server.port)
            await second.pbx.start()
            await second.until(lambda: second.registry.get("1795751289.3") is not None)
            server.resume()
            await second.until(lambda: second.ended)
            await second.pbx.stop()

        [call] = second.ended
        assert "1795751289.3" == call.call_id
        assert call.resynced
        assert "+79161234567" == call.external_number
        assert "101" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
