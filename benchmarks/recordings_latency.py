"""Hang-up to playable: from RecordingStopped of a 5-minute call to its MP3 served by the real app.

The real application (create_app, SQLite, no PBX) runs on a real socket. Each run publishes a call
onto its bus (started, answered, recording started), copies a 5-minute 8 kHz WAV into the spool,
then starts the clock and publishes RecordingStopped and CallEnded, as Asterisk does at hang-up.
The clock stops when the recording's row is converted and linked to the call and a GET of
/recordings/{id} with a session cookie has returned 200 and the whole file. Target: within 2 s.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import select

from config.logging import configure_logging
from config.settings import DatabaseSettings, PbxMode, PbxSettings, RecordingSettings, Settings, WebSettings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import upgrade
from crm_core.models import CallActivity, Recording
from crm_core.users import create_user
from cti.events import CallAnswered, CallEnded, CallStarted, RecordingStarted, RecordingStopped
from cti.model import CallId, Direction, Disposition, Party
from web import keys
from web.auth import SESSION_COOKIE

with warnings.catch_warnings():  # pydub imports audioop, deprecated since 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from web.app import create_app

    from .recordings_convert import MINUTES, make_wav

RUNS = 10
POLL = 0.005
"Seconds between two looks at the database (the measured latency includes up to one of these)."


async def _admin(url: str) -> int:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            user = await create_user(session, login="admin", name="Admin", password=None, role="admin")
            await session.commit()
            return user.id
    finally:
        await engine.dispose()


async def _playable(app: web.Application, call_id: str) -> int:
    while True:
        async with app[keys.DB]() as session:
            found = await session.scalar(
                select(Recording.id)
                .join(CallActivity, Recording.call_pk == CallActivity.id)
                .where(CallActivity.call_id == call_id, Recording.status == "converted")
            )
        if found is not None:
            return found
        await asyncio.sleep(POLL)


async def _one_call(app: web.Application, http: aiohttp.ClientSession, base: str, wav: Path, n: int) -> float:
    call_id = CallId(f"bench.{n}")
    publish = app[keys.EVENT_BUS].publish
    source = wav.with_name(f"{call_id}.wav")
    now = datetime.now(UTC)
    publish(
        CallStarted(call_id, now, Direction.INBOUND, Party("+79991110000"), "+74950000000", "+79991110000")
    )
    publish(CallAnswered(call_id, now, "101"))
    publish(RecordingStarted(call_id, now, str(source)))
    await asyncio.to_thread(shutil.copyfile, wav, source)  # MixMonitor closes the file at hang-up
    start = time.perf_counter()
    publish(RecordingStopped(call_id, datetime.now(UTC), str(source)))
    publish(CallEnded(call_id, datetime.now(UTC), Disposition.ANSWERED, 16))
    recording_id = await _playable(app, call_id)
    async with http.get(f"{base}/recordings/{recording_id}") as response:
        body = await response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"recording {recording_id} answered {response.status}")
    return time.perf_counter() - start


async def _run(directory: Path) -> list[float]:
    url = f"sqlite+aiosqlite:///{directory}/cti.sqlite3"
    await upgrade(url)
    admin = await _admin(url)
    settings = Settings(
        pbx=PbxSettings(mode=PbxMode.NONE),
        database=DatabaseSettings(url=url),
        web=WebSettings(secret_key_file=directory / "secret_key"),
        recordings=RecordingSettings(directory=directory / "recordings"),
    )
    wav = await asyncio.to_thread(make_wav, directory / "spool" / "five-minutes.wav")
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cookie, _ = app[keys.SESSIONS].issue(admin, hours=1)
    try:
        async with aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie}) as http:
            return [await _one_call(app, http, f"http://127.0.0.1:{port}", wav, n) for n in range(RUNS)]
    finally:
        await runner.cleanup()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Print p50/p99 of hang-up to playable over RUNS calls."""
    configure_logging(level="warning", json=False)
    with tempfile.TemporaryDirectory() as tmp:
        times = asyncio.run(_run(Path(tmp)))
    print(f"recordings: hang-up -> playable from the card, {RUNS} x {MINUTES}-minute calls (target 2 s)")
    print(
        f"  p50 {statistics.median(times):.2f} s, p99 {_percentile(times, 0.99):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s"
    )


if __name__ == "__main__":
    main()
