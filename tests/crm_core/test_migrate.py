"""The Alembic revisions: they build the schema the models describe, on both backends, once."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from datetime import timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import crm_core.models
from crm_core.db import Base, make_engine, make_sessionmaker
from crm_core.migrate import MIGRATIONS, current, head, upgrade
from crm_core.models import CallActivity

from .factories import T0

TABLES = {
    "access_grant",
    "access_role",
    "activity",
    "activity_binding",
    "alembic_version",
    "api_token",
    "app_user",
    "audit_entry",
    "call",
    "company",
    "contact",
    "contact_company",
    "deal",
    "deal_contact",
    "deal_stage_history",
    "department",
    "department_member",
    "dialplan_version",
    "document_status",
    "email",
    "excluded_email",
    "excluded_number",
    "invoice",
    "lead",
    "lead_source",
    "lead_status",
    "number_counter",
    "number_sequence",
    "phone",
    "pipeline",
    "product",
    "product_row",
    "product_section",
    "quote",
    "recording",
    "stage",
    "task",
    "user_access_role",
}


async def table_names(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


class TestUpgrade:
    async def test_blank_database_has_no_revision(self, blank_engine):
        """
        A database never migrated reports no current revision.
        """
        assert None is await current(blank_engine)

    async def test_creates_every_table_at_head(self, blank_engine):
        """
        Upgrading a blank database creates all CRM tables and stamps the head revision.
        """
        await upgrade(blank_engine)

        assert TABLES == await table_names(blank_engine)
        assert head() == await current(blank_engine)
        assert "0009" == head()

    async def test_second_upgrade_is_a_no_op(self, blank_engine):
        """
        Running upgrade again at head changes nothing and does not fail.
        """
        await upgrade(blank_engine)
        await upgrade(blank_engine)

        assert TABLES == await table_names(blank_engine)
        assert head() == await current(blank_engine)

    async def test_migrated_schema_matches_the_models(self, engine):
        """
        Autogenerate finds nothing to add: the revisions and the models agree.
        """
        assert crm_core.models.__all__
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )

        assert [] == diff

    async def test_phone_lookup_column_is_indexed(self, engine):
        """
        phone.e164 has an index: the screen-pop lookup must never scan the table.
        """
        async with engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("phone"))

        assert {"ix_phone_e164": ["e164"]}.items() <= {i["name"]: i["column_names"] for i in indexes}.items()

    async def test_timestamps_round_trip_as_utc(self, engine):
        """
        A time given in Moscow time is stored as UTC and read back aware, the same instant.
        """
        moscow = T0.astimezone(timezone(timedelta(hours=3)))
        async with make_sessionmaker(engine)() as session:
            session.add(CallActivity(pbx_id="main", call_id="x", direction="inbound", started_at=moscow))
            await session.commit()
        async with make_sessionmaker(engine)() as session:
            row = await session.get(CallActivity, 1)

        assert T0 == row.started_at
        assert timedelta(0) == row.started_at.utcoffset()


class TestMigrationFiles:
    def test_script_template_and_revisions_are_in_the_package(self):
        """
        The migration environment ships inside crm_core (no alembic.ini needed).
        """
        assert (MIGRATIONS / "env.py").is_file()
        assert (MIGRATIONS / "script.py.mako").is_file()
        assert (MIGRATIONS / "versions" / "0001_initial.py").is_file()


class TestSqliteEngine:
    async def test_creates_parent_directory_wal_and_foreign_keys(self, tmp_path):
        """
        make_engine on a SQLite file creates its folder and turns on WAL and foreign keys.
        """
        path = tmp_path / "deep" / "er" / "cti.sqlite3"
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.connect() as conn:
                journal = await conn.scalar(text("PRAGMA journal_mode"))
                foreign_keys = await conn.scalar(text("PRAGMA foreign_keys"))
        finally:
            await engine.dispose()

        assert path.exists()
        assert "wal" == journal
        assert 1 == foreign_keys

    async def test_upgrade_by_url(self, tmp_path):
        """
        upgrade() also takes a URL, opening and disposing of its own engine.
        """
        url = f"sqlite+aiosqlite:///{tmp_path}/by-url.sqlite3"

        await upgrade(url)

        assert head() == await current(url)
