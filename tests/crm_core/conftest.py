"""CRM fixtures: a migrated database on SQLite and on PostgreSQL; a blank one for migration tests."""

from __future__ import annotations

import secrets
import shutil

import pytest
from sqlalchemy import text

from config.settings import CrmSettings
from crm_core.db import make_engine, make_sessionmaker
from tests.conftest import POSTGRES_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(name="blank_engine", params=BACKENDS)
async def _blank_engine(request, tmp_path):
    """An engine on an empty database: nothing migrated yet."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/var/crm.sqlite3")
        yield engine
        await engine.dispose()
        return
    schema = f"cti_test_{secrets.token_hex(6)}"
    admin = make_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        POSTGRES_URL, connect_args={"server_settings": {"search_path": schema, "jit": "off"}}
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(name="engine", params=BACKENDS)
async def _engine(request, tmp_path):
    """An engine on a database at head of the real Alembic revisions, with no data but theirs.

    The migrations run once per session (``tests/conftest.py``): SQLite tests get a copy of the
    migrated file, PostgreSQL tests the migrated schema emptied back to what the migrations left.
    """
    if request.param == "sqlite":
        path = tmp_path / "var" / "crm.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
    else:
        schema = request.getfixturevalue("migrated_postgres")
        engine = schema.engine()
        await schema.reset(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(name="sessionmaker")
def _sessionmaker(engine):
    return make_sessionmaker(engine)


@pytest.fixture(name="session")
async def _session(sessionmaker):
    async with sessionmaker() as session:
        yield session


@pytest.fixture(name="settings")
def _settings() -> CrmSettings:
    return CrmSettings(default_region="RU", own_numbers=("+7 (495) 123-45-67",), default_responsible="admin")
