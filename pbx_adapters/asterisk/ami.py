"""One AMI link: panoramisk's Manager with the defects our product cannot live with fixed.

What panoramisk 1.4 gets wrong, and what this module does instead (DESIGN.md §6):

* It decodes every TCP chunk on its own with ``errors='ignore'``: a UTF-8 character split across
  two reads vanishes (``Иван`` becomes ``Ивн``). We buffer bytes, cut whole messages on the blank
  line and only then decode.
* It drops a header whose value is empty when it is the last one of a message. We keep it.
* Async callbacks run as separate tasks, so events can be handled out of order. We hand every
  event to one synchronous sink in arrival order; the sink (the channel tracker) never awaits.
* A message carrying the ActionID of a pending action is swallowed by that action, even a real
  event such as ``OriginateResponse``. Only list items stay with their action here.
* Actions have no timeout; unanswered actions are silently re-sent after a reconnect (a second
  Originate would ring a customer twice). Every action here has a timeout, and a dropped link
  fails the pending ones at once.
* The Ping answer is never checked, so a half-open link looks alive. A watchdog closes a link
  whose Ping goes unanswered and lets the reconnect logic rebuild the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from config.settings import AmiSettings
from cti.errors import PbxActionFailed, PbxUnavailable

__all__ = ["AmiConnection", "AmiEvent", "parse_message"]

log = structlog.get_logger(__name__)

AmiEvent = dict[str, str]
"One AMI message as Asterisk sent it: header -> value (a repeated header keeps its last value)."

_SEPARATOR = b"\r\n\r\n"
_BANNER = b"Asterisk Call Manager/"
_LIST_DONE = "Complete"


def parse_message(text: str) -> AmiEvent:
    """Parse one whole AMI message (without its blank line) into a header mapping.

    Empty values are kept (``Exten: ``), and a value keeps everything after the first colon.
    """
    fields: AmiEvent = {}
    for line in text.split("\r\n"):
        key, colon, value = line.partition(":")
        if not colon:
            continue  # a bare line (command output, stray EOL): not a header
        fields[key] = value[1:] if value[:1] == " " else value
    return fields


class _Protocol(AMIProtocol):
    """panoramisk's protocol with byte-level framing and our routing of responses and events."""

    sink: Callable[[AmiEvent], None]
    collectors: dict[str, Callable[[AmiEvent], bool]]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._pending = b""
        self.collectors = {}

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        buffer = self._pending + data if self._pending else data
        if self.version is None:
            if b"\r\n" not in buffer:
                self._pending = buffer
                return
            if buffer.startswith(_BANNER):
                banner, _, buffer = buffer.partition(b"\r\n")
                self.version = banner[len(_BANNER) :].decode("ascii", "replace").strip()
            else:
                self.version = ""
        messages = buffer.split(_SEPARATOR)
        self._pending = messages.pop()
        for raw in messages:
            text = raw.decode("utf-8", "replace").strip("\r\n")
            if not text:
                continue
            try:
                self._route(parse_message(text))
            except Exception:  # one message must never cost the rest of the read, or the link
                log.exception("ami_message_failed", message_head=text[:80])

    def _route(self, fields: AmiEvent) -> None:
        action_id = fields.get("ActionID")
        if action_id is not None:
            collector = self.collectors.get(action_id)
            if collector is not None:
                if collector(fields):
                    del self.collectors[action_id]
                return
            action = self.responses.get(action_id)
            if action is not None and "Event" not in fields:
                # Every action we send takes one response (lists go through collectors), so an
                # event carrying its id, such as OriginateResponse, is a real event for the sink.
                if action.add_message(Message(fields)):
                    self.responses.pop(action_id, None)
                return
        if "Event" in fields:
            if fields["Event"] == "Shutdown":
                log.warning("ami_asterisk_shutdown", restart=fields.get("Restart", ""))
            self.sink(fields)

    def close(self) -> None:
        # Fail what is pending instead of queueing it for a resend after reconnect.
        for action in {id(action): action for action in self.responses.values()}.values():
            if not action.future.done():
                action.future.set_exception(ConnectionResetError("AMI link closed"))
        self.responses.clear()
        self.collectors.clear()
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, told to keep quiet about retries and to stop for good on close."""

    def __init__(self, connection: AmiConnection, **config: Any) -> None:
        quiet = logging.getLogger("panoramisk.quiet")
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        super().__init__(log=quiet, protocol_factory=_Protocol, **config)
        self.reconnect_timeout = float(config["reconnect_timeout"])  # panoramisk int()s it: 0.5 s became 0
        self._connection = connection
        self.stopped = False

    def connect(self, run_forever: bool = False, on_startup: Any = None, on_shutdown: Any = None) -> Any:
        """Open the TCP link, with a timeout panoramisk lacks (a black-holed host hangs forever)."""
        if self.stopped:
            return None
        opening = asyncio.wait_for(
            self.loop.create_connection(
                self.config["protocol_factory"],
                self.config["host"],
                self.config["port"],
                ssl=self.config["ssl"],
            ),
            self._connection.timeout,
        )
        task = self.loop.create_task(opening)
        task.add_done_callback(self.connection_made)
        return task

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.stopped:
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        if f.cancelled() or f.exception() is not None:
            self._connection.link_failed(None if f.cancelled() else f.exception())
            self.loop.call_later(self.reconnect_timeout, self.connect)
            return
        super().connection_made(f)
        self.protocol.sink = self._connection.sink
        # A manager that accepts the socket but never answers the Login must not hold us forever.
        self.loop.call_later(self._connection.timeout, self._login_overdue, self.protocol)

    def _login_overdue(self, protocol: _Protocol) -> None:
        if protocol is self.protocol and not self.authenticated and not protocol.closed:
            self._connection.login_refused(reason="no answer to Login")
            protocol.transport.abort()

    def login(self, future: asyncio.Future[Any]) -> bool:
        if future.cancelled() or future.exception() is not None:
            return False  # the link dropped before Asterisk answered the Login: reconnect handles it
        if super().login(future):
            return True
        self._connection.login_refused(reason="authentication failed")
        if self.protocol is not None and not self.protocol.closed:
            self.protocol.transport.abort()  # retried after reconnect_delay, like an unreachable host
        return False

    def ping(self) -> None:
        """panoramisk's pinger, replaced by the watchdog of :class:`AmiConnection`."""
        self.pinger = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        self.authenticated = False
        self.loop.call_soon(self.on_disconnect, self, exc)
        if not self.stopped:
            self.loop.call_later(self.reconnect_timeout, self.connect)


class AmiConnection:
    """Keep one logged-in AMI link to an Asterisk, feed its events to *sink*, send actions.

    *on_login* runs (synchronously) after every successful login, the first and each re-login
    after a reconnect: that is where the adapter re-reads the live state.
    """

    def __init__(
        self,
        settings: AmiSettings,
        sink: Callable[[AmiEvent], None],
        *,
        on_login: Callable[[], None] | None = None,
        on_link_lost: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self.sink = sink
        self._on_login = on_login
        self._on_link_lost = on_link_lost
        self._unreachable_logged = False
        self._watchdog: asyncio.Task[None] | None = None
        self._action_seq = 0
        self.logins = 0
        self._manager = _Manager(
            self,
            host=settings.host,
            port=settings.port,
            username=settings.username,
            secret=settings.secret.get_secret_value(),
            reconnect_timeout=settings.reconnect_delay,
            ping_delay=settings.ping_interval,
            on_login=self._logged_in,
            on_disconnect=self._disconnected,
        )

    @property
    def connected(self) -> bool:
        return bool(self._manager.authenticated) and self._manager.protocol is not None

    @property
    def banner(self) -> str | None:
        protocol = self._manager.protocol
        return None if protocol is None else protocol.version

    async def start(self) -> None:
        """Begin connecting; never raises: an absent Asterisk is retried until :meth:`stop`."""
        self._manager.loop = asyncio.get_running_loop()
        self._manager.connect()
        self._watchdog = asyncio.create_task(self._watch(), name="ami-watchdog")

    async def stop(self) -> None:
        self._manager.stopped = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        if self._manager.protocol is not None and self.connected:
            with contextlib.suppress(PbxUnavailable, PbxActionFailed):
                await self.send({"Action": "Logoff"}, timeout=1.0)
        self._manager.close()

    async def send(self, action: Mapping[str, str], *, timeout: float | None = None) -> Message:
        """Send one action and return its response; raise a cti error if it fails or times out."""
        name = action.get("Action", "?")
        protocol = self._manager.protocol
        if protocol is None or protocol.closed or (name != "Logoff" and not self.connected):
            raise PbxUnavailable(
                f"Asterisk is not connected (AMI {self._settings.host}:{self._settings.port})"
            )
        _check_values(name, action)
        self._action_seq += 1
        fields = {**action, "ActionID": action.get("ActionID") or f"cti-{self._action_seq}"}
        # as_list=False: one response completes it (panoramisk would wait for OriginateResponse).
        future = self._manager.send_action(fields, as_list=False)
        limit = self._settings.action_timeout if timeout is None else timeout
        try:
            response: Message = await asyncio.wait_for(future, limit)
        except TimeoutError:
            protocol.responses.pop(fields["ActionID"], None)
            log.warning("ami_action_timeout", action=name, timeout=limit)
            raise PbxUnavailable(f"Asterisk did not answer {name} within {limit:g} s") from None
        except ConnectionResetError as exc:
            raise PbxUnavailable(f"the AMI link dropped while {name} was pending") from exc
        if response.get("Response") in ("Error", "Fail", "Failure"):
            raise PbxActionFailed(name, response.get("Message", "no reason given"))
        return response

    def collect(
        self,
        action: Mapping[str, str],
        on_item: Callable[[AmiEvent], None],
        on_done: Callable[[], None],
        on_refused: Callable[[str], None],
    ) -> None:
        """Send a list action; feed its items to *on_item* in stream order, then call *on_done*.

        Both run synchronously inside the reader, at the list's place in the event stream, so the
        snapshot is applied exactly between the events that came before and after it. If Asterisk
        refuses the action, *on_refused* gets its message instead.
        """
        protocol = self._manager.protocol
        if protocol is None or protocol.closed:
            return
        self._action_seq += 1
        action_id = f"cti-list-{self._action_seq}"

        def collector(fields: AmiEvent) -> bool:
            if "Event" not in fields:
                if fields.get("Response") == "Error":
                    on_refused(fields.get("Message", "no reason given"))
                    return True
                return False
            if fields.get("EventList") == _LIST_DONE:
                on_done()
                return True
            on_item(fields)
            return False

        protocol.collectors[action_id] = collector
        payload = "".join(f"{key}: {value}\r\n" for key, value in {**action, "ActionID": action_id}.items())
        protocol.transport.write((payload + "\r\n").encode("utf-8"))

    def link_failed(self, exc: BaseException | None) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            log.warning(
                "ami_unreachable",
                host=self._settings.host,
                port=self._settings.port,
                error=str(exc) if exc else "cancelled",
                retry_every_s=self._settings.reconnect_delay,
            )

    @property
    def timeout(self) -> float:
        return self._settings.action_timeout

    def login_refused(self, *, reason: str) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            log.error(
                "ami_login_refused", host=self._settings.host, username=self._settings.username, reason=reason
            )

    def _logged_in(self, _manager: Manager) -> None:
        self._unreachable_logged = False
        self.logins += 1
        log.info(
            "ami_logged_in",
            host=self._settings.host,
            port=self._settings.port,
            banner=self.banner,
            login=self.logins,
        )
        if self._on_login is not None:
            self._on_login()

    def _disconnected(self, _manager: Manager, exc: BaseException | None) -> None:
        if self._manager.stopped:
            return
        log.warning("ami_link_lost", host=self._settings.host, error=str(exc) if exc else "closed by peer")
        if self._on_link_lost is not None:
            self._on_link_lost()

    async def _watch(self) -> None:
        """Ping every interval; a Ping unanswered within the timeout means a dead (half-open) link."""
        while True:
            await asyncio.sleep(self._settings.ping_interval)
            if not self.connected:
                continue
            try:
                await self.send({"Action": "Ping"}, timeout=self._settings.ping_timeout)
            except PbxUnavailable:
                protocol = self._manager.protocol
                if protocol is not None and not protocol.closed:
                    log.warning(
                        "ami_link_dead", host=self._settings.host, ping_timeout=self._settings.ping_timeout
                    )
                    protocol.transport.abort()
            except PbxActionFailed:
                pass  # Asterisk answered: the link is alive


def _check_values(action: str, fields: Mapping[str, str]) -> None:
    """Refuse a line break in any value: on the AMI wire it would start another header or action."""
    for key, value in fields.items():
        if "\r" in value or "\n" in value:
            raise PbxActionFailed(action, f"{key} contains a line break")
