"""Record an AMI session into a trace file, the way the shared traces were made.

`record` logs in to an Asterisk (or anything speaking AMI) with plain asyncio streams, writes every
message of the session (the actions it sends, the responses and events it receives) as trace lines,
and logs off at the end. Messages are cut at blank lines on the raw bytes and only then decoded,
so a UTF-8 character split across TCP reads arrives whole; undecodable bytes become U+FFFD rather
than disappearing. No AMI client library is involved: the recording must not inherit the defects
of the client it is meant to test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import structlog

from .trace import Direction, Fields, MessageSplitter, TraceWriter, encode_message, first_value, parse_message

__all__ = ["RecorderError", "record"]

log = structlog.get_logger(__name__)

_BANNER_PREFIX = "Asterisk Call Manager/"
_READ_SIZE = 64 * 1024
_REDACTED = "********"


class RecorderError(Exception):
    """The recording could not be made (AMI unreachable, login refused, not AMI at all)."""


class _Session:
    """The recorder's side of one AMI connection: every message in or out becomes a trace line."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        trace: TraceWriter,
        *,
        redact_secret: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.trace = trace
        self.redact_secret = redact_secret
        self.opened = time.monotonic()
        self.splitter = MessageSplitter()
        self.inbox: list[Fields] = []
        self.eof = False
        self._sequence = 0

    def now(self) -> float:
        return round(time.monotonic() - self.opened, 6)

    async def send(self, fields: Fields) -> str:
        """Send an action with a fresh ActionID, record it, and return the ActionID."""
        self._sequence += 1
        action_id = f"rec-{self._sequence}"
        action: Fields = {"Action": first_value(fields, "Action"), "ActionID": action_id}
        action.update({k: v for k, v in fields.items() if k not in action})
        self.writer.write(encode_message(action))
        await self.writer.drain()
        recorded = dict(action)
        if self.redact_secret and "Secret" in recorded:
            recorded["Secret"] = _REDACTED
        self.trace.add(self.now(), "action", recorded)
        return action_id

    def _received(self, data: bytes) -> None:
        t = self.now()
        for raw in self.splitter.feed(data):
            fields = parse_message(raw)
            if not fields:
                continue
            # The first key decides: OriginateResponse is an event that also carries Response:.
            direction: Direction = "event" if next(iter(fields)) == "Event" else "response"
            self.trace.add(t, direction, fields)
            self.inbox.append(fields)

    async def read_some(self, within: float | None) -> bool:
        """Read once (waiting up to *within* seconds) and record what completed; False once at EOF."""
        if self.eof:
            return False
        try:
            async with asyncio.timeout(within):
                data = await self.reader.read(_READ_SIZE)
        except TimeoutError:
            return True
        except (ConnectionError, OSError) as exc:
            log.warning("ami_record_read_failed", error=repr(exc))
            data = b""
        if not data:
            self.eof = True
            if self.splitter.pending.strip():
                log.warning("ami_record_truncated_message", size=len(self.splitter.pending))
            return False
        self._received(data)
        return True

    async def wait_response(self, action_id: str, within: float) -> Fields | None:
        """Record everything until the response to *action_id* arrives; None on EOF or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for index, fields in enumerate(self.inbox):
                if first_value(fields, "ActionID") == action_id and "Event" not in fields:
                    del self.inbox[: index + 1]
                    return fields
            self.inbox.clear()
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self.read_some(remaining):
                return None


async def _wait_stop(session: _Session, stop: asyncio.Event | None, duration: float | None) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    stop_task = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while not session.eof:
            if stop_task is not None and stop_task.done():
                return
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            read_task = asyncio.ensure_future(session.read_some(remaining))
            waiting = {read_task} if stop_task is None else {read_task, stop_task}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not read_task.done():
                # Cancelling StreamReader.read() leaves unread bytes in its buffer: nothing is lost.
                read_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read_task
            session.inbox.clear()
    finally:
        if stop_task is not None and not stop_task.done():
            stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stop_task


async def record(
    host: str,
    port: int,
    username: str,
    secret: str,
    out: Path,
    *,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
    events: str = "on",
    redact_secret: bool = True,
    answer_timeout: float = 10.0,
) -> int:
    """Record one AMI session into the trace file *out*; return the number of messages written.

    Records until *duration* seconds have passed, *stop* is set or the server closes the
    connection, then logs off (recording the Goodbye). ``t`` is seconds since the TCP connection
    opened. The login's Secret is written as ``********`` unless *redact_secret* is false.
    *answer_timeout* bounds the connection, the banner, the login and the logoff.
    Raises `RecorderError` when AMI cannot be reached or refuses the login.
    """
    try:
        async with asyncio.timeout(answer_timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        raise RecorderError(f"cannot reach AMI at {host}:{port}: {exc}") from exc
    log.info("ami_record_connected", host=host, port=port, out=str(out))
    try:
        with TraceWriter(out) as trace:
            session = _Session(reader, writer, trace, redact_secret=redact_secret)
            await _login(session, host, port, username, secret, events, answer_timeout)
            await _wait_stop(session, stop, duration)
            if session.eof:
                log.warning("ami_record_closed_by_peer", host=host, port=port, messages=trace.count)
            else:
                action_id = await session.send({"Action": "Logoff"})
                await session.wait_response(action_id, answer_timeout)
            log.info("ami_record_finished", out=str(out), messages=trace.count)
            return trace.count
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _login(
    session: _Session, host: str, port: int, username: str, secret: str, events: str, within: float
) -> None:
    try:
        async with asyncio.timeout(within):
            banner = (await session.reader.readuntil(b"\r\n")).decode("utf-8", errors="replace").strip()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError) as exc:
        raise RecorderError(f"no AMI banner from {host}:{port}") from exc
    if not banner.startswith(_BANNER_PREFIX):
        raise RecorderError(f"{host}:{port} does not speak AMI (banner {banner!r})")
    log.info("ami_record_banner", banner=banner)
    action_id = await session.send(
        {"Action": "Login", "Username": username, "Secret": secret, "Events": events}
    )
    response = await session.wait_response(action_id, within)
    if response is None:
        raise RecorderError(f"AMI at {host}:{port} did not answer the login for user {username}")
    if first_value(response, "Response") != "Success":
        reason = first_value(response, "Message", "no reason given")
        raise RecorderError(f"AMI refused the login for user {username}: {reason}")
