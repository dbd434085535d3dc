"""The CRM at size: 1,000,000 contacts and 200,000 deals, on SQLite and on PostgreSQL.

Seeds a freshly migrated database (SQLite: a temporary file; PostgreSQL: a temporary schema in
``CTI_TEST_POSTGRES_URL``) with contacts, one phone each, and deals of the default pipeline with a
stage history each, using the fastest bulk path each database has (multi-row inserts on SQLite,
``COPY`` on PostgreSQL), then prints:

- caller lookup by phone (``crm_core.lookup.find_card``, the screen-pop path), p50 and p99;
- a contacts list page through the contacts resource, as an agent sees it (department scope):
  filtered by responsible, and a name search;
- the funnel report (``crm_core.sales.funnel.funnel_reports``: both variants) over every deal;
- import throughput (``crm_core.transfer.importer``): a CSV of new contacts (with a tenth of them
  duplicates) checked and written in one transaction, rows per second (rolled back afterwards).

Targets (issue 5): lookup p99 < 1 ms on SQLite and < 2 ms on PostgreSQL, funnel < 300 ms, import
>= 5,000 rows/s. ``--scale 0.01`` seeds 10,000 contacts and 2,000 deals for a quick smoke run.

Wall-clock figures depend on what else the machine runs; the CPU time this process spent (per
lookup, per imported row) is printed beside them: on SQLite, where the database runs inside the
process, it is what the figure would be on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from config.logging import configure_logging
from crm_core.cards.contacts import ContactsResource
from crm_core.crud import ListQuery
from crm_core.db import make_engine, make_sessionmaker
from crm_core.lookup import find_card
from crm_core.migrate import upgrade
from crm_core.models import Contact, Phone, User
from crm_core.models.deal import Deal, DealContact, DealStageHistory
from crm_core.models.keys import person_key
from crm_core.models.pipeline import Pipeline, Stage
from crm_core.rights import DEFAULT_GRANTS, SYSTEM, Principal
from crm_core.sales.funnel import funnel_reports
from crm_core.transfer.importer import DedupeMode, import_table
from crm_core.transfer.mapping import ImportKind, build_mapping
from crm_core.transfer.readers import read_csv

POSTGRES_URL = os.environ.get("CTI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
CONTACTS = 1_000_000
DEALS = 200_000
IMPORT_ROWS = 20_000
USERS = 50
TEAM = 10
"An agent's department: the users whose contacts the list page shows."
LOOKUPS = 2_000
BATCH = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIRST = ("Анна", "Иван", "Мария", "Пётр", "Ольга", "Сергей", "Елена", "Дмитрий", "Наталья", "Алексей")
LAST = ("Смирнов", "Иванов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков")


def e164(index: int) -> str:
    """The phone of contact *index*: +7 916 and seven digits."""
    return f"+7916{index:07d}"


@dataclass(frozen=True)
class Plan:
    contacts: int
    deals: int
    import_rows: int

    @classmethod
    def at(cls, scale: float) -> Plan:
        return cls(
            contacts=max(1_000, int(CONTACTS * scale)),
            deals=max(200, int(DEALS * scale)),
            import_rows=max(1_000, int(IMPORT_ROWS * scale)),
        )


# Data --------------------------------------------------------------------------------------------


def contact_rows(plan: Plan, start: int, stop: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(start)
    contacts, phones = [], []
    for index in range(start, stop):
        name = f"{LAST[rng.randrange(len(LAST))]} {FIRST[rng.randrange(len(FIRST))]} {index}"
        at = T0 + timedelta(seconds=index)
        contacts.append(
            {
                "id": index,
                "name": name,
                "name_key": person_key(name),
                "company_id": None,
                "responsible_id": 1 + index % USERS,
                "comments": "",
                "created_at": at,
                "updated_at": at,
            }
        )
        number = e164(index)
        phones.append(
            {
                "id": index,
                "owner_type": "contact",
                "owner_id": index,
                "raw": f"+7 916 {number[5:8]}-{number[8:10]}-{number[10:]}",
                "e164": number,
                "extension": None,
                "kind": "mobile",
            }
        )
    return contacts, phones


def deal_rows(
    plan: Plan, stages: Sequence[Stage], start: int, stop: int, history_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Deals walking the process stages in order, some won or lost, each step a history row."""
    rng = random.Random(start)
    process = [s for s in stages if s.semantic == "process"]
    won = next(s for s in stages if s.semantic == "success")
    lost = next(s for s in stages if s.semantic == "failure")
    deals, history, links = [], [], []
    for index in range(start, stop):
        reached = rng.choices(range(len(process)), weights=(30, 20, 15, 10, 25)[: len(process)])[0]
        path = list(process[: reached + 1])
        roll = rng.random()
        if reached == len(process) - 1 and roll < 0.6:
            path.append(won)
        elif roll < 0.35:
            path.append(lost)
        created = T0 + timedelta(minutes=rng.randrange(365 * 24 * 60))
        responsible = 1 + index % USERS
        final = path[-1]
        closed = final.semantic != "process"
        at = created
        for step, stage in enumerate(path):
            left = at + timedelta(hours=rng.randrange(1, 240)) if step < len(path) - 1 else None
            history.append(
                {
                    "id": history_id,
                    "deal_id": index,
                    "pipeline_id": stage.pipeline_id,
                    "stage_id": stage.id,
                    "semantic": stage.semantic,
                    "entered_at": at,
                    "left_at": left,
                    "responsible_id": responsible,
                    "changed_by_id": responsible,
                    "loss_reason": "Too expensive" if stage.semantic == "failure" else None,
                }
            )
            history_id += 1
            at = left or at
        deals.append(
            {
                "id": index,
                "title": f"Deal {index}",
                "pipeline_id": final.pipeline_id,
                "stage_id": final.id,
                "currency": "RUB",
                "amount": Decimal(rng.randrange(1_000_00, 5_000_000_00)) / 100,
                "amount_manual": True,
                "responsible_id": responsible,
                "company_id": None,
                "source_lead_id": None,
                "loss_reason": "Too expensive" if final.semantic == "failure" else None,
                "closed": closed,
                "closed_at": at if closed else None,
                "close_date": None,
                "comments": "",
                "passed_mask": sum(1 << stage.bit for stage in path),
                "created_at": created,
                "updated_at": at,
            }
        )
        links.append({"deal_id": index, "contact_id": 1 + (index * 7) % plan.contacts, "sort": 0})
    return deals, history, links


# Seeding -----------------------------------------------------------------------------------------

Writer = Callable[[Any, list[dict[str, Any]]], Awaitable[None]]


async def seed(engine: AsyncEngine, plan: Plan, write: Writer, progress: Callable[[str], None]) -> None:
    """Users through the ORM, then contacts, phones, deals, histories and links through *write*."""
    async with make_sessionmaker(engine)() as session:
        session.add_all(User(login=f"agent{n}", name=f"Agent {n}", role="agent") for n in range(1, USERS + 1))
        await session.commit()
        pipeline = await session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
        stages = list(
            await session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.sort))
        )
    for start in range(1, plan.contacts + 1, BATCH):
        contacts, phones = contact_rows(plan, start, min(start + BATCH, plan.contacts + 1))
        await write(Contact.__table__, contacts)
        await write(Phone.__table__, phones)
        progress(f"contacts {min(start + BATCH - 1, plan.contacts):,}/{plan.contacts:,}")
    history_id = 1
    for start in range(1, plan.deals + 1, BATCH):
        deals, history, links = deal_rows(plan, stages, start, min(start + BATCH, plan.deals + 1), history_id)
        history_id += len(history)
        await write(Deal.__table__, deals)
        await write(DealStageHistory.__table__, history)
        await write(DealContact.__table__, links)
        progress(f"deals {min(start + BATCH - 1, plan.deals):,}/{plan.deals:,}")


def sqlite_writer(engine: AsyncEngine) -> Writer:
    """Multi-row inserts in one transaction per batch (SQLite has no COPY; this is its fast path)."""

    async def write(table: Any, rows: list[dict[str, Any]]) -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows)

    return write


def postgres_writer(engine: AsyncEngine) -> Writer:
    """``COPY ... FROM STDIN`` through asyncpg: the fastest way rows get into PostgreSQL."""

    async def write(table: Any, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            records = [tuple(row[c] for c in columns) for row in rows]
            await raw.copy_records_to_table(table.name, records=records, columns=columns)
            await conn.commit()

    return write


async def finish_postgres(engine: AsyncEngine) -> None:
    """Move the id sequences past the copied ids, and give the planner fresh statistics."""
    async with engine.begin() as conn:
        for table in ("contact", "phone", "deal", "deal_stage_history"):
            await conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
            )
        await conn.execute(text("ANALYZE"))


async def finish_sqlite(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


# Measurements ------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(work: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - start)
    return samples


async def measure_lookup(session: AsyncSession, plan: Plan) -> tuple[float, float, float, int]:
    rng = random.Random(5)
    digits = [f"{rng.randrange(1, plan.contacts + 1):07d}" for _ in range(LOOKUPS)]
    # As a person or a PBX writes them: the lookup normalises each one, as it does for a real call.
    numbers = [f"8 (916) {d[:3]}-{d[3:5]}-{d[5:]}" for d in digits]
    for number in numbers[:200]:  # warm the caches (SQLite pages, phonenumbers metadata)
        await find_card(session, number, region="RU")
    samples, found = [], 0
    cpu = time.process_time()
    for number in numbers:
        start = time.perf_counter()
        card = await find_card(session, number, region="RU")
        samples.append(time.perf_counter() - start)
        found += card is not None
    cpu_each = (time.process_time() - cpu) / len(numbers)
    return percentile(samples, 0.5), percentile(samples, 0.99), cpu_each, found


async def measure_list(session: AsyncSession) -> dict[str, tuple[float, int]]:
    team = frozenset(range(1, TEAM + 1))
    agent = Principal(user_id=1, login="agent1", grants=DEFAULT_GRANTS["agent"], team_ids=team)
    resource = ContactsResource()
    queries = {
        "responsible_id=3, newest first": ListQuery(filters={"responsible_id": "3"}, sort=["-created_at"]),
        "name__contains=Ольга": ListQuery(filters={"name__contains": "Ольга"}),
    }
    results = {}
    for label, query in queries.items():
        page = await resource.list(session, agent, query)
        samples = await timed(lambda query=query: resource.list(session, agent, query), 5)
        results[label] = (statistics.median(samples), page.total)
    return results


async def measure_funnel(session: AsyncSession) -> tuple[float, int]:
    reports = await funnel_reports(session, SYSTEM)
    samples = await timed(lambda: funnel_reports(session, SYSTEM), 5)
    return statistics.median(samples), reports["passed"].deals


def import_file(plan: Plan) -> bytes:
    """New contacts, every tenth with the phone of an existing one (skipped as a duplicate)."""
    lines = ["ФИО;Телефон;E-mail"]
    for n in range(plan.import_rows):
        phone = e164(1 + n) if n % 10 == 0 else f"+7925{n:07d}"
        lines.append(f"Новиков Илья {n};{phone};ilya{n}@example.com")
    return ("\n".join(lines) + "\n").encode("cp1251")


async def measure_import(session: AsyncSession, plan: Plan) -> tuple[float, float, float, int, int]:
    """(rows/s by the clock, rows per CPU-second of this process, CSV rows/s read, created, skipped)."""
    data = import_file(plan)
    start = time.perf_counter()
    table = read_csv("import.csv", data)
    read_s = time.perf_counter() - start
    mapping = build_mapping(
        ImportKind.CONTACTS, table.headers, {"ФИО": "name", "Телефон": "phone", "E-mail": "email"}
    )
    start, cpu = time.perf_counter(), time.process_time()
    report = await import_table(
        session, SYSTEM, table, mapping, dedupe=DedupeMode.SKIP, default_responsible_id=1
    )
    import_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    await session.rollback()
    assert report.ok, report.errors[:3]
    rows = len(table.rows)
    return rows / import_s, rows / cpu_s, rows / read_s, report.created, len(report.skipped)


async def run(label: str, engine: AsyncEngine, plan: Plan, writer: Writer, finish: Callable) -> None:
    started = time.perf_counter()
    await upgrade(engine)

    def progress(message: str) -> None:
        print(f"\r  seeding {label}: {message}      ", end="", flush=True)

    await seed(engine, plan, writer, progress)
    await finish(engine)
    seeded = time.perf_counter() - started
    print(f"\r  seeded in {seeded:,.0f} s{' ' * 40}")
    async with make_sessionmaker(engine)() as session:
        contacts = await session.scalar(select(func.count()).select_from(Contact))
        deals = await session.scalar(select(func.count()).select_from(Deal))
        history = await session.scalar(select(func.count()).select_from(DealStageHistory))
        print(f"  {contacts:,} contacts with phones, {deals:,} deals, {history:,} stage history rows")
        p50, p99, cpu_each, found = await measure_lookup(session, plan)
        print(
            f"  caller lookup (find_card)    : p50 {p50 * 1e3:6.3f} ms, p99 {p99 * 1e3:6.3f} ms,"
            f" {cpu_each * 1e3:.3f} ms CPU each ({found:,} of {LOOKUPS:,} found)"
        )
        for query, (seconds, total) in (await measure_list(session)).items():
            print(f"  list page, agent, {query:<28}: {seconds * 1e3:8.1f} ms ({total:,} matching)")
        seconds, counted = await measure_funnel(session)
        print(f"  funnel report, both variants : {seconds * 1e3:8.1f} ms over {counted:,} deals")
        rate, cpu_rate, read_rate, created, skipped = await measure_import(session, plan)
        print(
            f"  import (check + write)       : {rate:10,.0f} rows/s, {cpu_rate:,.0f} rows per CPU-second"
            f" ({created:,} created, {skipped:,} duplicates skipped; CSV read at {read_rate:,.0f} rows/s)"
        )


async def sqlite_run(plan: Plan) -> None:
    with tempfile.TemporaryDirectory(prefix="crm-scale-") as directory:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(directory) / 'crm.sqlite3'}")
        try:
            await run("SQLite", engine, plan, sqlite_writer(engine), finish_sqlite)
        finally:
            await engine.dispose()


async def postgres_run(plan: Plan, url: str) -> None:
    schema = f"crm_scale_{secrets.token_hex(4)}"
    admin = make_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OSError as exc:
        print(f"  PostgreSQL not reachable at {url}: {exc} (skipped)")
        await admin.dispose()
        return
    engine = make_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await run("PostgreSQL", engine, plan, postgres_writer(engine), finish_postgres)
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.crm_scale", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 contacts and 200,000 deals")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    configure_logging(level="warning", json=False, cache=False)
    plan = Plan.at(args.scale)
    print(
        f"CRM at scale ({plan.contacts:,} contacts, {plan.deals:,} deals, {plan.import_rows:,} rows imported)"
    )
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        asyncio.run(sqlite_run(plan))
    if args.backend in ("postgres", "both"):
        print("PostgreSQL")
        asyncio.run(postgres_run(plan, args.postgres_url))


if __name__ == "__main__":
    main()
