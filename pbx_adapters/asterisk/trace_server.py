"""A TCP server that speaks AMI from a recorded trace, to test a real AMI client against it.

`AmiTraceServer` plays the Asterisk side of a trace: banner, ``Login``, then the trace's events in
order (as fast as the socket drains, or paced by the trace clock), while it answers the client's
actions. It keeps the live channels and bridges the events describe, so the re-sync queries a
client makes after a reconnect (``CoreShowChannels``, ``BridgeList``, ``Status``, ``Getvar``) get
the answers Asterisk would give at that point of the call. Faults a real link has are injected
on request: messages and UTF-8 characters split across TCP writes, an abrupt drop with events
lost while the client is away, a half-open link that stops answering, actions never answered.

It deliberately knows nothing of the client library it tests (no panoramisk here): the wire
format comes from `pbx_adapters.asterisk.trace`. One client at a time; a new connection takes
over from the previous one, and the event stream continues where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType

import structlog

from .trace import Fields, MessageSplitter, TraceLine, base_epoch, encode_message, first_value, parse_message
from .trace_link import Cutter, TraceLink, cuts_inside_utf8
from .trace_state import LiveChannel, LiveState, duration, header, var_name

__all__ = ["DEFAULT_BANNER", "AmiTraceServer"]

log = structlog.get_logger(__name__)

DEFAULT_BANNER = "Asterisk Call Manager/11.0.0"
"What the Asterisk 22 of the shared traces sent on connect (``INDEX.json``)."

_READ_SIZE = 64 * 1024

_FULLY_BOOTED = TraceLine(
    t=0.0,
    dir="event",
    fields={
        "Event": "FullyBooted",
        "Privilege": "system,all",
        "Uptime": "16",
        "LastReload": "16",
        "Status": "Fully Booted",
    },
)
# Messages Asterisk 22 answers these actions with (manager.c, res_*), used when the trace has none.
_KNOWN_MESSAGES = {
    "originate": "Originate successfully queued",
    "atxfer": "Atxfer successfully queued",
    "blindtransfer": "Transfer succeeded",
    "redirect": "Redirect successful",
    "hangup": "Channel Hungup",
    "setvar": "Variable Set",
    "absolutetimeout": "Timeout Set",
    "mixmonitor": "MixMonitor started",
    "stopmixmonitor": "MixMonitor stopped",
}
_NO_LOGIN_NEEDED = frozenset({"login", "logoff", "challenge"})


class _Session:
    """One client connection: reads its actions and answers them through the server."""

    def __init__(
        self, server: AmiTraceServer, reader: asyncio.StreamReader, link: TraceLink, peer: str
    ) -> None:
        self.server = server
        self.reader = reader
        self.link = link
        self.peer = peer
        self.authenticated = False
        self.stalled = False
        self.closed = asyncio.Event()
        self.streamer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        splitter = MessageSplitter()
        try:
            while not self.closed.is_set():
                if self.stalled:
                    await self.closed.wait()
                    return
                try:
                    data = await self.reader.read(_READ_SIZE)
                except (ConnectionError, OSError):
                    break
                if not data:
                    break
                for raw in splitter.feed(data):
                    if self.stalled:
                        # Half-open link: the client's writes are never read, nothing is answered.
                        await self.closed.wait()
                    if self.closed.is_set():
                        return
                    await self.server._on_action(self, parse_message(raw))
        finally:
            await self.close()

    async def close(self, *, abort: bool = False) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self.streamer is not None and self.streamer is not asyncio.current_task():
            self.streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.streamer
        await self.link.close(abort=abort)
        log.info("trace_server_client_gone", peer=self.peer, aborted=abort)


class AmiTraceServer:
    """Speak AMI from a trace to one client at a time over real TCP.

    *lines* is a whole trace (`read_trace`); only its ``event`` lines are played, except the
    list items that answered the recording client's own list actions and the trace's initial
    ``FullyBooted`` (sent right after a successful login instead). Positions (``pause_after``,
    ``drop_after``, ``stall_after``, `position`) count the played events, i.e. index `events`.

    - *speed*: None streams as fast as the socket drains; ``1.0`` follows the trace clock, ``10``
      ten times faster.
    - *timestamps*: add ``Timestamp: <epoch>`` to events as ``timestampevents=yes`` does, epoch
      being `base_epoch` + ``t``.
    - *chunk_size*, *split_inside_utf8*, *split_at*: write the byte stream in pieces (every
      ``chunk_size`` bytes; inside every non-ASCII character; at the offsets ``split_at(message)``
      returns), yielding ``chunk_delay`` seconds between pieces.
    - *ignore_actions*: action names never answered; *replies*: fixed replies by action name
      (``{"Originate": {"Response": "Error", "Message": "..."}}``), the client's ActionID added.
    - *pause_after*: stop streaming after N events until `resume` (actions are still answered).
    - *drop_after*: abort the connection after N events, once; *gap* events are then consumed
      without being sent (the live state still follows them) before the next client's stream
      resumes. *stall_after*: after N events, once, stop reading and answering without closing
      (a half-open link); the *gap* applies to it too.
    """

    def __init__(
        self,
        lines: Sequence[TraceLine],
        *,
        username: str = "cti",
        secret: str = "cti_secret",  # noqa: S107 - the lab credential of the shared traces
        banner: str = DEFAULT_BANNER,
        speed: float | None = None,
        timestamps: bool = True,
        chunk_size: int | None = None,
        split_inside_utf8: bool = False,
        split_at: Cutter | None = None,
        chunk_delay: float = 0.0,
        ignore_actions: Iterable[str] = (),
        replies: Mapping[str, Mapping[str, str]] | None = None,
        pause_after: int | None = None,
        drop_after: int | None = None,
        gap: int = 0,
        stall_after: int | None = None,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if gap < 0:
            raise ValueError(f"gap must not be negative, got {gap}")
        self.username = username
        self.secret = secret
        self.banner = banner
        self.speed = speed
        self.timestamps = timestamps
        self.ignore_actions = frozenset(name.lower() for name in ignore_actions)
        self._replies = {name.lower(): dict(reply) for name, reply in (replies or {}).items()}
        self._chunk_size = chunk_size
        self._chunk_delay = chunk_delay
        self._cutter = self._make_cutter(split_inside_utf8, split_at)
        self._pause_after = pause_after
        self._drop_after = drop_after
        self._stall_after = stall_after
        self._gap = gap

        self._events, self._fully_booted, self._recorded_replies = self._prepare(lines)
        epoch = base_epoch(lines)
        self._epoch = epoch if epoch is not None else time.time()

        self._state = LiveState()
        self._position = 0
        self._clock = 0.0  # trace time of the last played event
        self._clock_real = time.monotonic()
        self._streaming = False
        self._dropped = False
        self._stall_done = False
        self._gap_pending = False
        self._pause_requested = False
        self._hold = False  # paused until resume(), whichever client is connected
        self._paused = asyncio.Event()
        self._resume = asyncio.Event()
        self._finished = asyncio.Event()

        self._server: asyncio.Server | None = None
        self._session: _Session | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self.connections = 0
        self.logins = 0
        self.actions: list[Fields] = []
        "Every action received, in order (tests assert what the client asked)."
        self.sent: list[Fields] = []
        "Every response and event sent to any client, in order, as on the wire."
        self._modelled: dict[str, Callable[[_Session, Fields], Awaitable[None]]] = {
            "login": self._action_login,
            "logoff": self._action_logoff,
            "ping": self._action_ping,
            "coreshowchannels": self._action_coreshowchannels,
            "bridgelist": self._action_bridgelist,
            "status": self._action_status,
            "getvar": self._action_getvar,
            "setvar": self._action_setvar,
        }

    # -- set-up -------------------------------------------------------------------------------

    @staticmethod
    def _make_cutter(split_inside_utf8: bool, split_at: Cutter | None) -> Cutter | None:
        cutters = [c for c in (cuts_inside_utf8 if split_inside_utf8 else None, split_at) if c is not None]
        if not cutters:
            return None

        def cut(data: bytes) -> list[int]:
            return sorted({offset for cutter in cutters for offset in cutter(data)})

        return cut

    @staticmethod
    def _prepare(lines: Sequence[TraceLine]) -> tuple[list[TraceLine], TraceLine, dict[str, Fields]]:
        list_ids = {
            line.get("ActionID")
            for line in lines
            if line.dir == "response" and line.get("EventList").lower() == "start"
        }
        list_ids.discard("")

        def answers_a_list(line: TraceLine) -> bool:
            # CoreShowChannel, Status, EndpointList...: the recording client asked for them.
            return line.get("ActionID") in list_ids

        events = [line for line in lines if line.dir == "event" and not answers_a_list(line)]
        fully_booted = _FULLY_BOOTED
        if events and events[0].get("Event") == "FullyBooted":
            fully_booted = events.pop(0)
        # What the recorded Asterisk answered to each kind of action, to answer the same way.
        actions = {line.get("ActionID"): line.get("Action").lower() for line in lines if line.dir == "action"}
        replies: dict[str, Fields] = {}
        for line in lines:
            action = actions.get(line.get("ActionID"))
            if line.dir == "response" and action and "EventList" not in line.fields:
                replies.setdefault(action, {k: v for k, v in line.fields.items() if k != "ActionID"})
        return events, fully_booted, replies

    # -- public API ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on *host*:*port* (0: any free port); return the port."""
        self._server = await asyncio.start_server(self._on_connect, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("trace_server_listening", host=host, port=self.port, events=len(self._events))
        return self.port

    async def stop(self) -> None:
        """Close the listening socket and the client connection, and wait for both."""
        if self._server is not None:
            self._server.close()
        if self._session is not None:
            await self._session.close(abort=True)
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> AmiTraceServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_finished(self) -> None:
        """Wait until every event of the trace has been sent (and flushed) to the current client."""
        await self._finished.wait()

    async def wait_paused(self) -> None:
        """Wait until the stream has stopped at ``pause_after`` (or after `pause`), all flushed."""
        await self._paused.wait()

    def pause(self) -> None:
        """Stop streaming before the next event (actions are still answered)."""
        self._pause_requested = True

    def resume(self) -> None:
        """Continue streaming after a pause (also for a client that connects later)."""
        self._pause_requested = False
        self._hold = False
        self._paused.clear()
        self._resume.set()

    @property
    def events(self) -> list[TraceLine]:
        """The trace events this server plays, in order (what `position` indexes)."""
        return list(self._events)

    @property
    def position(self) -> int:
        """How many of `events` have been played (sent, or lost in a gap)."""
        return self._position

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def connected(self) -> bool:
        return self._session is not None and not self._session.closed.is_set()

    @property
    def trace_time(self) -> float:
        """The trace clock now: the last played event's ``t``, advancing in real time when paced."""
        now = self._clock
        if self.speed is not None and self._streaming and not self._paused.is_set():
            now += (time.monotonic() - self._clock_real) * self.speed
            if self._position < len(self._events):
                now = min(now, self._events[self._position].t)
        return now

    @property
    def channels(self) -> list[dict[str, str]]:
        """The live channels as ``CoreShowChannel`` would list them now (without ActionID)."""
        return [self._channel_item(channel) for channel in self._state.channels.values()]

    @property
    def bridges(self) -> list[dict[str, str]]:
        """The live bridges as ``BridgeListItem`` would list them now (without ActionID)."""
        return [dict(bridge) for bridge in self._state.bridges.values()]

    # -- connections --------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        peer = str(writer.get_extra_info("peername"))
        previous = self._session
        if previous is not None:
            log.info("trace_server_client_replaced", peer=previous.peer)
            await previous.close(abort=True)
        link = TraceLink(
            writer, chunk_size=self._chunk_size, cutter=self._cutter, chunk_delay=self._chunk_delay
        )
        session = _Session(self, reader, link, peer)
        self._session = session
        self.connections += 1
        log.info("trace_server_client_connected", peer=peer, connection=self.connections)
        link.send(f"{self.banner}\r\n".encode())
        try:
            await session.run()
        finally:
            if self._session is session:
                self._session = None

    def _send(self, session: _Session, fields: Fields) -> None:
        self.sent.append(fields)
        session.link.send(encode_message(fields))

    def _reply(self, session: _Session, action: Fields, response: str, **more: str | list[str]) -> None:
        fields: Fields = {"Response": response}
        action_id = header(action, "ActionID")
        if action_id:
            fields["ActionID"] = action_id
        fields.update(more)
        self._send(session, fields)

    def _list_item(self, action: Fields, event: str, body: Mapping[str, str | list[str]]) -> Fields:
        fields: Fields = {"Event": event}
        action_id = header(action, "ActionID")
        if action_id:
            fields["ActionID"] = action_id
        fields.update(body)
        return fields

    # -- actions ------------------------------------------------------------------------------

    async def _on_action(self, session: _Session, action: Fields) -> None:
        self.actions.append(action)
        name = header(action, "Action")
        key = name.lower()
        log.debug("trace_server_action", action=name, action_id=header(action, "ActionID"))
        if key in self.ignore_actions:
            log.info("trace_server_action_ignored", action=name)
            return
        if not session.authenticated and key not in _NO_LOGIN_NEEDED:
            self._reply(session, action, "Error", Message="Authentication Required")
            return
        if key in self._replies:
            fields: Fields = dict(self._replies[key])
            response = first_value(fields, "Response", "Success")
            fields.pop("Response", None)
            self._reply(session, action, response, **fields)
            return
        handler = self._modelled.get(key)
        if handler is not None:
            await handler(session, action)
        else:
            self._action_generic(session, action, key)

    async def _action_login(self, session: _Session, action: Fields) -> None:
        username = header(action, "Username")
        if username != self.username or header(action, "Secret") != self.secret:
            log.info("trace_server_login_refused", username=username)
            self._reply(session, action, "Error", Message="Authentication failed")
            # Asterisk hangs up on a failed login.
            await session.link.flushed()
            await session.close()
            return
        self._reply(session, action, "Success", Message="Authentication accepted")
        if session.authenticated:
            return
        session.authenticated = True
        self.logins += 1
        log.info("trace_server_login", username=username, login=self.logins, position=self._position)
        booted = self._fully_booted
        self._send(session, self._stamped(booted.fields, max(self._clock, booted.t)))
        if header(action, "Events").lower() not in {"off", "no", "false", "0"}:
            session.streamer = asyncio.create_task(self._stream(session), name="ami-trace-stream")

    async def _action_logoff(self, session: _Session, action: Fields) -> None:
        self._reply(session, action, "Goodbye", Message="Thanks for all the fish.")
        await session.link.flushed()
        await session.close()

    async def _action_ping(self, session: _Session, action: Fields) -> None:
        self._reply(session, action, "Success", Ping="Pong", Timestamp=self._timestamp(self.trace_time))

    async def _action_coreshowchannels(self, session: _Session, action: Fields) -> None:
        items = [self._channel_item(channel) for channel in self._state.channels.values()]
        self._reply(session, action, "Success", EventList="start", Message="Channels will follow")
        for item in items:
            self._send(session, self._list_item(action, "CoreShowChannel", item))
        self._send(
            session,
            self._list_item(
                action, "CoreShowChannelsComplete", {"EventList": "Complete", "ListItems": str(len(items))}
            ),
        )

    async def _action_bridgelist(self, session: _Session, action: Fields) -> None:
        wanted = header(action, "BridgeType")
        bridges = [b for b in self._state.bridges.values() if not wanted or b.get("BridgeType") == wanted]
        self._reply(session, action, "Success", EventList="start", Message="Bridge listing will follow")
        for bridge in bridges:
            self._send(session, self._list_item(action, "BridgeListItem", bridge))
        self._send(
            session,
            self._list_item(
                action, "BridgeListComplete", {"EventList": "Complete", "ListItems": str(len(bridges))}
            ),
        )

    async def _action_status(self, session: _Session, action: Fields) -> None:
        name = header(action, "Channel")
        if name:
            channel = self._state.by_name(name)
            if channel is None:
                self._reply(session, action, "Error", Message="No such channel")
                return
            channels = [channel]
        else:
            channels = list(self._state.channels.values())
        wanted = [v.strip() for v in header(action, "Variables").split(",") if v.strip()]
        self._reply(session, action, "Success", EventList="start", Message="Channel status will follow")
        for channel in channels:
            item = self._status_item(channel, wanted)
            action_id = header(action, "ActionID")
            if action_id:
                item["ActionID"] = action_id  # Status puts it last (trace 13)
            self._send(session, item)
        count = str(len(channels))
        self._send(
            session,
            self._list_item(
                action, "StatusComplete", {"EventList": "Complete", "ListItems": count, "Items": count}
            ),
        )

    async def _action_getvar(self, session: _Session, action: Fields) -> None:
        variable = header(action, "Variable")
        name = header(action, "Channel")
        if not variable:
            self._reply(session, action, "Error", Message="No variable specified")
            return
        if name:
            channel = self._state.by_name(name)
            if channel is None:
                self._reply(session, action, "Error", Message="No such channel")
                return
            value = channel.variables.get(var_name(variable), "")
        else:
            value = self._state.globals.get(var_name(variable), "")
        self._reply(session, action, "Success", Variable=variable, Value=value)

    async def _action_setvar(self, session: _Session, action: Fields) -> None:
        name = header(action, "Channel")
        variable, value = var_name(header(action, "Variable")), header(action, "Value")
        if name:
            channel = self._state.by_name(name)
            if channel is None:
                self._reply(session, action, "Error", Message="No such channel")
                return
            channel.variables[variable] = value
        else:
            self._state.globals[variable] = value
        self._reply(session, action, "Success", Message="Variable Set")

    def _action_generic(self, session: _Session, action: Fields, key: str) -> None:
        recorded = self._recorded_replies.get(key)
        if recorded is not None:
            fields = dict(recorded)
            response = first_value(fields, "Response", "Success")
            fields.pop("Response", None)
            self._reply(session, action, response, **fields)
            return
        message = _KNOWN_MESSAGES.get(key, f"{header(action, 'Action')} accepted")
        self._reply(session, action, "Success", Message=message)

    # -- live state as AMI lists ----------------------------------------------------------------

    def _channel_item(self, channel: LiveChannel) -> dict[str, str]:
        item = dict(channel.snapshot)
        item["Application"] = channel.application
        item["ApplicationData"] = channel.application_data
        item["Duration"] = duration(self.trace_time - channel.created)
        item["BridgeId"] = channel.bridge
        return item

    def _status_item(self, channel: LiveChannel, variables: list[str]) -> Fields:
        snapshot = channel.snapshot
        item: Fields = {"Event": "Status", "Privilege": "Call", **snapshot}
        item.update(
            {
                "Type": snapshot.get("Channel", "").partition("/")[0],
                "DNID": "",
                "EffectiveConnectedLineNum": snapshot.get("ConnectedLineNum", ""),
                "EffectiveConnectedLineName": snapshot.get("ConnectedLineName", ""),
                "TimeToHangup": "0",
                "BridgeID": channel.bridge,
                "Application": channel.application,
                "Data": channel.application_data,
                "Seconds": str(max(0, int(self.trace_time - channel.created))),
            }
        )
        if variables:
            item["Variable"] = [f"{name}={channel.variables.get(var_name(name), '')}" for name in variables]
        return item

    # -- the event stream -----------------------------------------------------------------------

    def _timestamp(self, t: float) -> str:
        return f"{self._epoch + t:.6f}"

    def _stamped(self, fields: Fields, t: float) -> Fields:
        if not self.timestamps or "Timestamp" in fields:
            return dict(fields)
        # Asterisk writes Timestamp right after Privilege (manager.c, timestampevents=yes).
        after = "Privilege" if "Privilege" in fields else "Event"
        stamped: Fields = {}
        for key, value in fields.items():
            stamped[key] = value
            if key == after:
                stamped["Timestamp"] = self._timestamp(t)
        return stamped

    def _play(self, line: TraceLine) -> None:
        self._state.apply(line)
        self._position += 1
        self._clock = max(self._clock, line.t)
        self._clock_real = time.monotonic()

    async def _stream(self, session: _Session) -> None:
        link = session.link
        self._streaming = True
        try:
            if self._gap_pending:
                self._gap_pending = False
                skipped = self._events[self._position : self._position + self._gap]
                for line in skipped:
                    self._play(line)
                log.info("trace_server_gap", skipped=len(skipped), position=self._position)
            anchor_t, anchor_real = self._clock, time.monotonic()
            while True:
                position = self._position
                if self._drop_after is not None and position >= self._drop_after and not self._dropped:
                    self._dropped = True
                    self._gap_pending = self._gap > 0
                    await link.flushed()
                    log.info("trace_server_drop", position=position)
                    self._streaming = False
                    await session.close(abort=True)
                    return
                if self._stall_after is not None and position >= self._stall_after and not self._stall_done:
                    self._stall_done = True
                    self._gap_pending = self._gap > 0
                    await link.flushed()
                    log.info("trace_server_stall", position=position)
                    session.stalled = True
                    return
                if self._pause_requested or position == self._pause_after:
                    self._pause_requested = False
                    self._pause_after = None
                    self._hold = True
                    self._resume.clear()
                if self._hold:
                    await link.flushed()
                    self._paused.set()
                    log.info("trace_server_paused", position=position)
                    while self._hold:
                        await self._resume.wait()
                    anchor_t, anchor_real = self._clock, time.monotonic()
                    continue
                if position >= len(self._events):
                    break
                line = self._events[position]
                if self.speed is not None:
                    delay = (line.t - anchor_t) / self.speed - (time.monotonic() - anchor_real)
                    if delay > 0:
                        await asyncio.sleep(delay)
                        if session.closed.is_set():
                            return
                self._play(line)
                self._send(session, self._stamped(line.fields, line.t))
                await link.backpressure()
            await link.flushed()
            if not link.broken:
                self._finished.set()
                log.info("trace_server_finished", events=len(self._events))
        finally:
            self._streaming = False
