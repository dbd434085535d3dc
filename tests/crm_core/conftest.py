"""CRM fixtures: a migrated database on SQLite (a temp file) and on PostgreSQL (a fresh schema)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text

from config.settings import CrmSettings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import upgrade
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
    engine = make_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(name="engine")
async def _engine(blank_engine):
    """An engine on a database migrated to head by the real Alembic revisions."""
    await upgrade(blank_engine)
    return blank_engine


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
