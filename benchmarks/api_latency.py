"""The REST API end to end: what a request costs once auth and rights are added to the service.

Seeds a freshly migrated database (SQLite: a temporary file; PostgreSQL: a temporary schema in
``CTI_TEST_POSTGRES_URL``) with 50 users in 5 departments (an API token each) and 20,000 leads
spread over them, starts the real application on a real socket, and prints p50 and p99 of:

- ``load_principal`` alone (the rights of one user: roles, grants, department tree);
- ``GET /api/v1/leads?sort=-created_at&limit=50`` as an agent (department scope), bearer token;
- the same list filtered with ``title__contains``;
- ``GET /api/v1/leads/{id}`` and ``PATCH /api/v1/leads/{id}`` on one of the agent's leads.

Every HTTP figure includes the token look-up, the principal, the service, JSON and the socket.
No targets: the figures show where the time goes, and they move with whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from config.logging import configure_logging
from config.settings import DatabaseSettings, PbxMode, PbxSettings, Settings, WebSettings
from crm_core.access import load_principal
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import upgrade
from crm_core.models import Department, DepartmentMember, Lead, User
from crm_core.tokens import issue_token
from web.app import create_app

POSTGRES_URL = os.environ.get("CTI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
USERS = 50
DEPARTMENTS = 5
LEADS = 20_000
RUNS = 300
WORDS = ("Рога", "Копыта", "Ромашка", "Horns", "Hoofs", "Daisy", "Alpha", "Beta")


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(work: Callable[[], Awaitable[Any]], runs: int = RUNS) -> tuple[float, float]:
    """p50 and p99 in milliseconds of *runs* calls, after a tenth as many to warm up."""
    for _ in range(runs // 10):
        await work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - start)
    return percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000


async def seed(sessionmaker: async_sessionmaker) -> tuple[int, str, int]:
    """Users in departments, a token each, leads; returns (agent id, agent's token, agent's lead)."""
    rng = random.Random(7)
    async with sessionmaker() as session:
        departments = [Department(name=f"Department {n}") for n in range(DEPARTMENTS)]
        session.add_all(departments)
        await session.flush()
        users = [User(login=f"agent{n}", name=f"Agent {n}", role="agent") for n in range(USERS)]
        session.add_all(users)
        await session.flush()
        session.add_all(
            DepartmentMember(user_id=user.id, department_id=departments[n % DEPARTMENTS].id)
            for n, user in enumerate(users)
        )
        token = (await issue_token(session, users[0].id, "benchmark")).token
        rows = [
            {
                "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}",
                "status": "NEW",
                "source": "CALL",
                "responsible_id": users[n % USERS].id,
            }
            for n in range(LEADS)
        ]
        await session.execute(insert(Lead), rows)
        await session.commit()
        agent_lead = next(n for n in range(LEADS) if n % USERS == 0) + 1
        return users[0].id, token, agent_lead


async def run(label: str, engine: AsyncEngine, url: str, tmp: Path) -> None:
    await upgrade(engine)
    sessionmaker = make_sessionmaker(engine)
    agent_id, token, lead_id = await seed(sessionmaker)
    async with sessionmaker() as session:
        principal = await timed(lambda: load_principal(session, agent_id))

    settings = Settings(
        pbx=PbxSettings(mode=PbxMode.NONE),
        database=DatabaseSettings(url=url),
        web=WebSettings(secret_key_file=tmp / "secret_key"),
    )
    server = TestServer(create_app(settings, sessionmaker=sessionmaker))
    await server.start_server()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/")), headers=headers) as http:

            async def call(method: str, path: str, **kwargs: Any) -> None:
                async with http.request(method, path, **kwargs) as response:
                    await response.read()
                    if response.status >= 400:
                        raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")

            listing = await timed(
                lambda: call("GET", "/api/v1/leads", params={"sort": "-created_at", "limit": "50"})
            )
            search = await timed(
                lambda: call("GET", "/api/v1/leads", params={"title__contains": "ромашка", "limit": "50"})
            )
            one = await timed(lambda: call("GET", f"/api/v1/leads/{lead_id}"))
            patch = await timed(
                lambda: call("PATCH", f"/api/v1/leads/{lead_id}", json={"comments": "called"})
            )
    finally:
        await server.close()

    print(f"{label}: {USERS} users in {DEPARTMENTS} departments, {LEADS:,} leads")
    for name, (p50, p99) in (
        ("load_principal", principal),
        ("GET leads page (50, department scope)", listing),
        ("GET leads title__contains", search),
        ("GET one lead", one),
        ("PATCH one lead", patch),
    ):
        print(f"  {name:<40} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")


async def sqlite_run() -> None:
    with tempfile.TemporaryDirectory(prefix="cti-api-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/crm.sqlite3"
        engine = make_engine(url)
        try:
            await run("SQLite", engine, url, Path(tmp))
        finally:
            await engine.dispose()


async def postgres_run(url: str) -> None:
    schema = f"api_latency_{secrets.token_hex(4)}"
    admin = make_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        with tempfile.TemporaryDirectory(prefix="cti-api-bench-") as tmp:
            await run("PostgreSQL", engine, url, Path(tmp))
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    configure_logging(level="warning", json=False)
    asyncio.run(sqlite_run())
    if not args.no_postgres:
        asyncio.run(postgres_run(args.postgres_url))


if __name__ == "__main__":
    main()
