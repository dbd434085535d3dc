"""Screen-pop latency: an AMI event in, the agent's WebSocket frame out, with a million contacts.

A SQLite database migrated by the real Alembic revisions gets 1,000,000 contacts with a mobile
number each. The real application (``create_app``) runs on a local port; agents' browsers are
aiohttp WebSocket clients logged in with real session cookies. Recorded inbound calls
(trace 02, ids shifted per copy, the caller's number replaced by a random contact's) are fed into
the Asterisk adapter's tracker at 50 new calls per second; each call rings, talks for a second and
hangs up (the copies' MixMonitor events are dropped: no files stand behind them, and the
recordings pipeline is measured by its own benchmark). Latency is measured per call from the
moment the tracker publishes ``CallRinging`` (the AMI event that makes the phone ring has just
been parsed) to the ``ringing`` frame, carrying the right contact card, arriving at the client.
Same process, same monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import ClientSession, web

from config.logging import configure_logging
from config.settings import CrmSettings, DatabaseSettings, PbxMode, PbxSettings, Settings, WebSettings
from crm_core.migrate import upgrade
from cti.events import CallRinging, CtiEvent, RecordingStarted, RecordingStopped
from pbx_adapters.asterisk.tracker import ChannelTracker
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE
from web.nullpbx import NullPbx

from .ami_scale import _shift

TRACE = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami-traces" / "02_inbound_answered.jsonl"
)
TRACE_CALLER = "+79161234567"
RATE = 50
DURATION = 20.0
TALK = 1.0


def _trace() -> tuple[list[dict[str, str]], int]:
    """The call's events, and how many of them lead up to (and include) the ringing."""
    events = [json.loads(line) for line in TRACE.read_text(encoding="utf-8").splitlines()]
    fields = [e["fields"] for e in events if e["dir"] == "event" and "ActionID" not in e["fields"]]
    published: list[CtiEvent] = []
    tracker = ChannelTracker(published.append)
    for index, item in enumerate(fields):
        tracker.feed(item)
        if any(isinstance(event, CallRinging) for event in published):
            return fields, index + 1
    raise RuntimeError("the trace never rings a phone")


def _contact_number(n: int) -> str:
    return f"+7916{n:07d}"


def seed_contacts(path: Path, count: int) -> None:
    """Insert *count* contacts with one mobile number each, in SQL (seconds, not minutes)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) "
            "INSERT INTO contact (id, name, created_at, updated_at) "
            "SELECT n, 'Contact ' || n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM seq",
            (count,),
        )
        db.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) "
            "INSERT INTO phone (owner_type, owner_id, raw, e164, kind) "
            "SELECT 'contact', n, '+7916' || printf('%07d', n), '+7916' || printf('%07d', n), 'mobile' "
            "FROM seq",
            (count,),
        )
        db.execute(
            "INSERT INTO app_user (login, name, extension, role, is_active) VALUES (?, ?, ?, ?, 1)",
            ("agent101", "Agent 101", "101", "agent"),
        )
        db.commit()
        db.execute("ANALYZE")
    finally:
        db.close()


class _Feeder:
    """Feeds shifted copies of the trace through one tracker, timing each call's ringing."""

    def __init__(self, publish, fields: list[dict[str, str]], ring_at: int, contacts: int) -> None:
        self.rang: dict[str, float] = {}
        self.expected: dict[str, int] = {}
        self._fields = fields
        self._ring_at = ring_at
        self._contacts = contacts
        self._random = random.Random(7)

        def timed_publish(event: CtiEvent) -> None:
            if isinstance(event, RecordingStarted | RecordingStopped):
                return  # no files behind these copies: the recordings pipeline has its own benchmark
            if isinstance(event, CallRinging) and event.call_id not in self.rang:
                self.rang[event.call_id] = time.perf_counter()
            publish(event)

        self._tracker = ChannelTracker(timed_publish)

    def start_call(self, copy: int) -> list[dict[str, str]]:
        contact = self._random.randint(1, self._contacts)
        number = _contact_number(contact)
        shifted = [
            {k: (number if v == TRACE_CALLER else v) for k, v in _shift(item, copy + 1).items()}
            for item in self._fields
        ]
        for item in shifted[: self._ring_at]:
            self._tracker.feed(item)
        call_id = next(reversed(self.rang))
        self.expected[call_id] = contact
        return shifted[self._ring_at :]

    def finish_call(self, rest: list[dict[str, str]]) -> None:
        for item in rest:
            self._tracker.feed(item)


async def run(contacts: int, rate: int, duration: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "cti.sqlite3"
        url = f"sqlite+aiosqlite:///{database}"
        await upgrade(url)
        started = time.perf_counter()
        seed_contacts(database, contacts)
        seeded = time.perf_counter() - started
        settings = Settings(
            pbx=PbxSettings(mode=PbxMode.NONE),
            database=DatabaseSettings(url=url),
            web=WebSettings(secret_key_file=Path(tmp) / "secret_key"),
            crm=CrmSettings(own_numbers=("+74951234567",)),
        )
        publishers = []

        def factory(settings: Settings, publish):
            publishers.append(publish)
            return NullPbx(settings, publish)

        app = create_app(settings, pbx_factory=factory)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            return await _measure(app, port, publishers[0], contacts, rate, duration) | {"seed_s": seeded}
        finally:
            await runner.cleanup()


async def _measure(app, port: int, publish, contacts: int, rate: int, duration: float) -> dict[str, float]:
    fields, ring_at = _trace()
    feeder = _Feeder(publish, fields, ring_at, contacts)
    async with app[keys.DB]() as session:
        from sqlalchemy import select

        from crm_core.models import User

        user_id = await session.scalar(select(User.id).where(User.login == "agent101"))
    cookie, _ = app[keys.SESSIONS].issue(user_id, hours=1)
    latencies: list[float] = []
    wrong_cards = 0
    async with ClientSession(cookies={SESSION_COOKIE: cookie}) as client:
        ws = await client.ws_connect(
            f"http://127.0.0.1:{port}/ws/screenpop", origin=f"http://127.0.0.1:{port}"
        )
        assert (await ws.receive_json())["type"] == "hello"
        calls = int(rate * duration)
        done = asyncio.Event()

        async def receive() -> None:
            nonlocal wrong_cards
            async for message in ws:
                frame = json.loads(message.data)
                if frame["type"] != "ringing":
                    continue
                arrived = time.perf_counter()
                latencies.append(arrived - feeder.rang[frame["call_id"]])
                card = frame.get("card") or {}
                if card.get("id") != feeder.expected.get(frame["call_id"]):
                    wrong_cards += 1
                if len(latencies) == calls:
                    done.set()

        receiver = asyncio.create_task(receive())
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for copy in range(calls):
            await asyncio.sleep(max(0.0, begin + copy / rate - loop.time()))
            rest = feeder.start_call(copy)
            loop.call_later(TALK, feeder.finish_call, rest)
        await asyncio.wait_for(done.wait(), timeout=30)
        await asyncio.sleep(TALK + 0.2)
        receiver.cancel()
        await ws.close()
    ordered = sorted(latencies)
    return {
        "calls": len(latencies),
        "wrong_cards": wrong_cards,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=RATE, help="new ringing calls per second")
    parser.add_argument("--duration", type=float, default=DURATION, help="seconds of load")
    args = parser.parse_args(argv)
    configure_logging(level="error")  # as a production daemon would run: no per-call console output
    figures = asyncio.run(run(args.contacts, args.rate, args.duration))
    print(
        f"screen-pop latency ({args.contacts:,} contacts, {args.rate} ringing calls/s, {args.duration:.0f} s)"
    )
    print(f"  seeded the contacts in {figures['seed_s']:.1f} s")
    print(
        f"  AMI event in -> WebSocket frame out: p50 {figures['p50_ms']:.2f} ms, "
        f"p99 {figures['p99_ms']:.2f} ms, max {figures['max_ms']:.2f} ms "
        f"over {figures['calls']:,} calls ({figures['wrong_cards']} wrong cards)"
    )


if __name__ == "__main__":
    main()
