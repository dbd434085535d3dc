"""Fixtures every test may use: logging that never caches, where the shared AMI traces are, and
databases migrated once per session by the real Alembic revisions (see ``migrated_*``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, text

from config.logging import configure_logging
from crm_core.db import make_engine
from crm_core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
TRACES = Path(__file__).resolve().parent / "fixtures" / "ami-traces"
"Recorded from a real Asterisk 22 (copied from shared/ami-traces; see the README there)."
T = TypeVar("T")
POSTGRES_URL = os.environ.get("CTI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _reset_logging():
    configure_logging(level="debug", json=False, cache=False)


@pytest.fixture(name="traces")
def _traces() -> Path:
    return TRACES


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* to the end on a loop of its own, even when called from inside a test's loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; tests copy it (a copy costs far less than a migration)."""
    path = tmp_path_factory.mktemp("crm-template") / "crm.sqlite3"
    _run(upgrade(f"sqlite+aiosqlite:///{path}"))
    assert not path.with_name(path.name + "-wal").exists(), "the template must be checkpointed"
    return path


_OWNED_SEQUENCES = """
SELECT s.relname, t.relname, a.attname
  FROM pg_class s
  JOIN pg_namespace n ON n.oid = s.relnamespace
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
 WHERE s.relkind = 'S' AND n.nspname = current_schema()
"""


@dataclass(frozen=True)
class MigratedSchema:
    """A PostgreSQL schema migrated to head once, and how to bring it back to that state."""

    name: str
    tables: tuple[str, ...]
    seed: tuple[tuple[str, Any, bool], ...]
    "The INSERTs the migrations ran (built-in roles, dictionaries, the default pipeline...)."
    sequences: tuple[tuple[str, str, str], ...] = ()
    "(sequence, table, column) of every id sequence."

    def _restart(self, *, after_rows: bool) -> str:
        """One statement setting every sequence to 1, or to just after the highest id present."""
        highest = 'COALESCE((SELECT max("{column}") FROM "{table}"), 0) + 1'
        parts = [
            f"setval('\"{seq}\"', {highest.format(column=column, table=table) if after_rows else 1}, false)"
            for seq, table, column in self.sequences
        ]
        return "SELECT " + ", ".join(parts)

    def engine(self):
        # JIT compiling costs more than any query a test runs: off, as for every test connection.
        settings = {"search_path": self.name, "jit": "off"}
        return make_engine(POSTGRES_URL, connect_args={"server_settings": settings})

    async def reset(self, engine) -> None:
        """Empty every table, put the migrations' rows back, and restart every id sequence after them."""
        async with engine.begin() as conn:
            await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK order
            for table in self.tables:
                await conn.exec_driver_sql(f'DELETE FROM "{table}"')  # noqa: S608 - names from pg_tables
            await conn.exec_driver_sql(self._restart(after_rows=False))  # the seed's ids come out as before
            for statement, parameters, many in self.seed:
                await conn.exec_driver_sql(statement, list(parameters) if many else parameters or ())
            await conn.exec_driver_sql(self._restart(after_rows=True))  # past rows given explicit ids


async def _migrate_schema(name: str) -> MigratedSchema:
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    await admin.dispose()
    schema = MigratedSchema(name, (), ())
    engine = schema.engine()
    executed: list[tuple[str, Any, bool]] = []

    def capture(_conn, _cursor, statement, parameters, _context, many) -> None:
        executed.append((statement, parameters, many))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await upgrade(engine)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    async with engine.connect() as conn:
        tables = await conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
        )
        data_tables = tuple(t for t in tables if t != "alembic_version")
        sequences = tuple(tuple(row) for row in await conn.execute(text(_OWNED_SEQUENCES)))
    await engine.dispose()
    seed = tuple(
        item
        for item in executed
        if item[0].lstrip().upper().startswith("INSERT") and "alembic_version" not in item[0]
    )
    return MigratedSchema(name, data_tables, seed, sequences)


async def _drop_schema(name: str) -> None:
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[MigratedSchema]:
    """A PostgreSQL schema migrated to head once per session; each test resets it (about 0.1 s).

    Tests that walk migrations up and down use ``blank_engine`` instead: they need a schema of
    their own.
    """
    schema = _run(_migrate_schema(f"cti_test_{secrets.token_hex(6)}"))
    yield schema
    _run(_drop_schema(schema.name))
