"""The AMI link against a scripted peer: faults a real Asterisk shows, one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from config.settings import AmiSettings
from cti.errors import PbxActionFailed, PbxUnavailable
from pbx_adapters.asterisk.ami import AmiConnection, parse_message

Reply = Callable[[int, dict[str, str], asyncio.StreamWriter], Awaitable[None]]


def wire(**fields: str) -> bytes:
    return ("".join(f"{key}: {value}\r\n" for key, value in fields.items()) + "\r\n").encode()


class ScriptedAmi:
    """An AMI peer whose answer to each action is decided by the test (per connection number)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedAmi:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        try:
            while data := await reader.read(4096):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    await self.reply(number, parse_message(raw.decode()), writer)
                    if writer.is_closing():
                        return
        except ConnectionError:
            pass
        finally:
            writer.close()


async def answer(fields: dict[str, str], writer: asyncio.StreamWriter, **more: str) -> None:
    writer.write(wire(Response="Success", ActionID=fields["ActionID"], **more))
    await writer.drain()


def settings(port: int) -> AmiSettings:
    return AmiSettings(port=port, secret=SecretStr("s"), action_timeout=0.3, reconnect_delay=0.05)


async def until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


class TestFaults:
    async def test_a_link_dropped_with_an_action_pending_fails_it_and_reconnects(self):
        """
        Asterisk closes the socket while a Getvar waits: the Getvar fails at once, the link comes back.
        """

        async def reply(connection, fields, writer):
            if fields["Action"] == "Getvar" and connection == 1:
                writer.close()
                return
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), lambda event: None)
            await link.start()
            await until(lambda: link.connected)

            with pytest.raises(PbxUnavailable, match="dropped while Getvar was pending"):
                await link.send({"Action": "Getvar", "Variable": "X"})
            await until(lambda: peer.connections == 2 and link.connected)
            await link.stop()

    async def test_a_login_never_answered_is_given_up_and_retried(self):
        """
        A manager that accepts the socket but never answers Login is dropped and tried again.
        """

        async def reply(connection, fields, writer):
            if fields["Action"] == "Login" and connection == 1:
                return  # wedged: say nothing
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), lambda event: None)
            with capture_logs() as logs:
                await link.start()
                await until(lambda: link.connected)
                await link.stop()

        assert 2 == peer.connections
        assert ["no answer to Login"] == [e["reason"] for e in logs if e["event"] == "ami_login_refused"]

    async def test_originate_returns_when_queued_and_its_response_reaches_the_sink(self):
        """
        "Originate successfully queued" completes the action at once; OriginateResponse, which
        carries the same ActionID, arrives later as an event.
        """
        events = []

        async def reply(connection, fields, writer):
            if fields["Action"] != "Originate":
                await answer(fields, writer)
                return
            await answer(fields, writer, Message="Originate successfully queued")
            await asyncio.sleep(0.5)  # the agent picks up after longer than the action timeout
            writer.write(
                wire(Event="OriginateResponse", ActionID=fields["ActionID"], Response="Success", Reason="4")
            )

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), events.append)
            await link.start()
            await until(lambda: link.connected)

            response = await link.send({"Action": "Originate", "Channel": "PJSIP/101", "Async": "true"})
            await until(lambda: any(e.get("Event") == "OriginateResponse" for e in events))
            await link.stop()

        assert "Originate successfully queued" == response["Message"]

    async def test_queued_without_async_does_not_break_the_reader(self):
        """
        Atxfer answers "...successfully queued" with no Async header; panoramisk raised KeyError there.
        """
        events = []

        async def reply(connection, fields, writer):
            message = "Atxfer successfully queued" if fields["Action"] == "Atxfer" else "ok"
            await answer(fields, writer, Message=message)
            if fields["Action"] == "Atxfer":
                writer.write(wire(Event="Hold", Channel="PJSIP/101-1"))

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), events.append)
            await link.start()
            await until(lambda: link.connected)

            response = await link.send({"Action": "Atxfer", "Channel": "PJSIP/101-1", "Exten": "102"})
            await until(lambda: events)
            await link.stop()

        assert "Atxfer successfully queued" == response["Message"]
        assert "Hold" == events[0]["Event"]

    async def test_an_error_response_is_a_refusal_with_its_reason(self):
        """
        Response: Error becomes PbxActionFailed naming the action and Asterisk's message.
        """

        async def reply(connection, fields, writer):
            if fields["Action"] == "Hangup":
                writer.write(wire(Response="Error", ActionID=fields["ActionID"], Message="No such channel"))
                return
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), lambda event: None)
            await link.start()
            await until(lambda: link.connected)

            with pytest.raises(PbxActionFailed, match="Hangup: No such channel"):
                await link.send({"Action": "Hangup", "Channel": "PJSIP/101-1"})
            await link.stop()

    async def test_a_line_break_in_a_value_is_refused_before_sending(self):
        """
        A number carrying CR/LF would inject a second AMI action; it is refused.
        """
        seen = []

        async def reply(connection, fields, writer):
            seen.append(fields["Action"])
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            link = AmiConnection(settings(peer.port), lambda event: None)
            await link.start()
            await until(lambda: link.connected)

            with pytest.raises(PbxActionFailed, match="Exten contains a line break"):
                await link.send({"Action": "Originate", "Exten": "123\r\nAction: Hangup"})
            await link.stop()

        assert "Hangup" not in seen


class TestHangup:
    async def test_hangup_ends_the_call_even_when_later_legs_are_already_gone(self, traces):
        """
        The first Hangup tears the bridge down; the second leg answers "No such channel": success.
        """
        import json

        from config.settings import Settings
        from cti.errors import NoSuchCall
        from pbx_adapters.asterisk.pbx import AsteriskPbx

        hung_up = []

        async def reply(connection, fields, writer):
            if fields["Action"] == "Hangup":
                if hung_up:
                    writer.write(
                        wire(Response="Error", ActionID=fields["ActionID"], Message="No such channel")
                    )
                    return
                hung_up.append(fields["Channel"])
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            pbx = AsteriskPbx(Settings(ami=settings(peer.port)), lambda event: None)
            lines = (traces / "02_inbound_answered.jsonl").read_text().splitlines()
            for line in lines[:62]:
                record = json.loads(line)
                if record["dir"] == "event":
                    pbx.tracker.feed(record["fields"])
            await pbx.start()
            await until(lambda: pbx.connected)

            await pbx.hangup("1795751289.3")
            with pytest.raises(NoSuchCall):
                await pbx.hangup("no-such-call")
            await pbx.stop()

        assert 1 == len(hung_up)


class TestCallControl:
    """Each verb of the PbxControl port sends the AMI actions Asterisk expects, on the live call."""

    CALL = "1795751289.3"  # trace 02: +79161234567 talking to 101 after 62 events

    async def run(self, traces, verb, *args, **kwargs):
        import json

        from config.settings import Settings
        from pbx_adapters.asterisk.pbx import AsteriskPbx

        sent = []

        async def reply(connection, fields, writer):
            if fields["Action"] not in ("Login", "CoreShowChannels"):
                sent.append(fields)
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            pbx = AsteriskPbx(Settings(ami=settings(peer.port)), lambda event: None)
            for line in (traces / "02_inbound_answered.jsonl").read_text().splitlines()[:62]:
                record = json.loads(line)
                if record["dir"] == "event":
                    pbx.tracker.feed(record["fields"])
            await pbx.start()
            await until(lambda: pbx.connected)
            try:
                await getattr(pbx, verb)(*args, **kwargs)
            finally:
                await pbx.stop()
        return [
            {k: v for k, v in fields.items() if k != "ActionID"}
            for fields in sent
            if fields["Action"] != "Logoff"
        ]

    async def test_blind_transfer_acts_on_the_agents_channel(self, traces):
        """
        BlindTransfer names 101's channel (Asterisk moves its peer, the caller) and the target.
        """
        assert [
            {
                "Action": "BlindTransfer",
                "Channel": "PJSIP/101-00000003",
                "Exten": "103",
                "Context": "from-internal",
            }
        ] == await self.run(traces, "blind_transfer", self.CALL, "103")

    async def test_attended_transfer(self, traces):
        """
        Atxfer from 101's channel to 102, as the recorded CTI of trace 06b sent it.
        """
        assert [
            {"Action": "Atxfer", "Channel": "PJSIP/101-00000003", "Exten": "102", "Context": "from-internal"}
        ] == await self.run(traces, "attended_transfer", self.CALL, "102")

    async def test_supervisor_listens(self, traces):
        """
        The supervisor's phone rings and runs ChanSpy on 101's channel, quietly.
        """
        assert [
            {
                "Action": "Originate",
                "Channel": "PJSIP/104",
                "Application": "ChanSpy",
                "Data": "PJSIP/101-00000003,qE",
                "Async": "true",
            }
        ] == await self.run(traces, "spy", self.CALL, "104", "listen")

    async def test_move_to_conference_redirects_both_parties(self, traces):
        """
        Both legs go to room 800 in one Redirect (Channel + ExtraChannel).
        """
        [action] = await self.run(traces, "move_to_conference", self.CALL, "800")

        assert ("Redirect", "800", "800") == (action["Action"], action["Exten"], action["ExtraExten"])
        assert {"PJSIP/101-00000003", "PJSIP/trunk-00000002"} == {action["Channel"], action["ExtraChannel"]}

    async def test_recording_start_and_stop(self, traces):
        """
        MixMonitor on 101's channel into the given file.
        """
        assert [
            {"Action": "MixMonitor", "Channel": "PJSIP/101-00000003", "File": "/tmp/x.wav", "Options": "b"}
        ] == await self.run(traces, "start_recording", self.CALL, "/tmp/x.wav")

    async def test_a_verb_on_an_unknown_call_is_no_such_call(self, traces):
        """
        A call that is not live: NoSuchCall, and nothing is sent.
        """
        from cti.errors import NoSuchCall

        with pytest.raises(NoSuchCall):
            await self.run(traces, "blind_transfer", "404.1", "103")

    async def test_pickup_of_a_call_that_is_not_ringing_is_refused(self, traces):
        """
        The call is answered already: there is nothing to pick up.
        """
        with pytest.raises(PbxActionFailed, match="not ringing"):
            await self.run(traces, "pickup", self.CALL, "103")

    async def test_transfer_by_someone_not_on_the_call_is_refused(self, traces):
        """
        102 is not on the call: the transfer is refused with a clear reason.
        """
        with pytest.raises(PbxActionFailed, match="extension 102 is not on call"):
            await self.run(traces, "blind_transfer", self.CALL, "103", by="102")


class TestLoginListeners:
    async def test_listeners_hear_every_login_including_after_a_reconnect(self):
        """
        The link drops once: the listener is called for the first login and again after the reconnect.
        """
        from config.settings import Settings
        from pbx_adapters.asterisk.pbx import AsteriskPbx

        async def reply(connection, fields, writer):
            if fields["Action"] == "CoreShowChannels" and connection == 1:
                writer.close()  # the link drops right after the first login
                return
            await answer(fields, writer)

        async with ScriptedAmi(reply) as peer:
            pbx = AsteriskPbx(Settings(ami=settings(peer.port)), lambda event: None)
            logins = []
            pbx.on_login(lambda: logins.append(pbx.ami.logins))
            await pbx.start()
            await until(lambda: len(logins) == 2)
            await pbx.stop()

        assert [1, 2] == logins
