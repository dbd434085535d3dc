"""Revision 0005 on a database holding data from before it: links and keys are filled in."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from crm_core.migrate import alembic_config, upgrade


async def downgrade(engine, revision: str) -> None:
    """Alembic's downgrade on *engine* (the CLI offers none: tests walk the revisions back)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))


async def rows(engine, sql: str) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


class TestRevision0005:
    async def test_existing_data_gets_links_and_duplicate_keys(self, blank_engine):
        """
        A contact's company_id from before becomes a contact_company row; names get their keys;
        leads keep their status, get amount 0 in RUB; the dictionaries are seeded.
        """
        await upgrade(blank_engine, "0004")
        async with blank_engine.begin() as conn:
            await conn.execute(text("INSERT INTO company (id, title) VALUES (1, 'ООО «Ромашка»')"))
            await conn.execute(
                text("INSERT INTO contact (id, name, company_id) VALUES (1, 'Смирнова Алёна', 1)")
            )
            await conn.execute(text("INSERT INTO contact (id, name) VALUES (2, 'Olga')"))
            await conn.execute(
                text(
                    "INSERT INTO lead (id, title, name, company_name, source, status)"
                    " VALUES (1, 'Call', 'Anna', 'Vasilek LLC', 'CALL', 'IN_PROCESS')"
                )
            )

        await upgrade(blank_engine, "0005")

        assert [(1, 1)] == await rows(blank_engine, "SELECT contact_id, company_id FROM contact_company")
        assert [(1, "алена смирнова"), (2, "olga")] == await rows(
            blank_engine, "SELECT id, name_key FROM contact ORDER BY id"
        )
        assert [("ромашка",)] == await rows(blank_engine, "SELECT title_key FROM company")
        assert [("anna", "vasilek", "IN_PROCESS", "RUB")] == await rows(
            blank_engine, "SELECT name_key, company_key, status, currency FROM lead"
        )
        assert [("CONVERTED",)] == await rows(
            blank_engine, "SELECT code FROM lead_status WHERE semantic = 'success'"
        )
        assert 4 == len(await rows(blank_engine, "SELECT code FROM lead_source"))

    async def test_downgrade_keeps_calls_linked(self, blank_engine):
        """
        Going back to 0004 drops the new tables and columns but leaves calls linked to their cards
        (no table rebuild that would null the links on SQLite).
        """
        await upgrade(blank_engine, "0005")
        async with blank_engine.begin() as conn:
            await conn.execute(text("INSERT INTO company (id, title) VALUES (1, 'Romashka')"))
            await conn.execute(text("INSERT INTO contact (id, name, company_id) VALUES (1, 'Anna', 1)"))
            await conn.execute(
                text(
                    "INSERT INTO call (pbx_id, call_id, direction, extensions, started_at, talk_seconds,"
                    " details, contact_id, company_id, crm_entity) VALUES ('main', 'c1', 'inbound', '[]',"
                    " CURRENT_TIMESTAMP, 0, '{}', 1, 1, 'contact')"
                )
            )

        await downgrade(blank_engine, "0004")

        assert [(1, 1)] == await rows(blank_engine, "SELECT contact_id, company_id FROM call")
        async with blank_engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("contact")}
            )
        assert set() == {"contact_company", "email", "activity", "lead_status"} & tables
        assert {"id", "name", "company_id", "responsible_id", "created_at", "updated_at"} == columns
