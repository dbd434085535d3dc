"""Revision 0003 on SQLite and PostgreSQL: rows attached before it are kept, keyed and pending."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from crm_core.migrate import alembic_config, upgrade


async def _rows(engine, sql: str) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


class TestRevision0003:
    async def test_existing_recordings_get_their_natural_key_and_wait_as_pending(self, blank_engine):
        """
        A recording attached under 0002 comes out of 0003 with its call's pbx id and call id, pending.
        """
        await upgrade(blank_engine, "0002")
        async with blank_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO call (id, pbx_id, call_id, direction, extensions, started_at, talk_seconds,"
                    " details, crm_entity) VALUES (1, 'main', '1718.42', 'inbound', '[]',"
                    " CURRENT_TIMESTAMP, 0, '{}', 'none')"
                )
            )
            await conn.execute(text("INSERT INTO recording (call_pk, path) VALUES (1, '/spool/1718.42.wav')"))

        await upgrade(blank_engine, "0003")

        assert [("main", "1718.42", "pending", 0, False)] == await _rows(
            blank_engine,
            "SELECT r.pbx_id, r.call_id, r.status, r.attempts, c.legal_hold"
            " FROM recording r JOIN call c ON c.id = r.call_pk",
        )

    async def test_downgrade_drops_only_what_0003_added(self, blank_engine):
        """
        Back to 0002: linked rows stay, rows that never found their call go (call_pk is required there).
        """
        await upgrade(blank_engine, "0003")
        async with blank_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO call (id, pbx_id, call_id, direction, extensions, started_at, talk_seconds,"
                    " details, crm_entity) VALUES (1, 'main', 'a', 'inbound', '[]', CURRENT_TIMESTAMP, 0,"
                    " '{}', 'none')"
                )
            )
            await conn.execute(text("INSERT INTO recording (call_pk, path) VALUES (1, '/spool/a.wav')"))
            await conn.execute(
                text("INSERT INTO recording (pbx_id, call_id, path) VALUES ('main', 'b', '/spool/b.wav')")
            )

        async with blank_engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0002"))

        assert [(1, "/spool/a.wav")] == await _rows(blank_engine, "SELECT call_pk, path FROM recording")
