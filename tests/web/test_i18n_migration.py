"""Revision 0007: ``app_user.locale`` on SQLite and PostgreSQL, its CHECK, and the way back.

The revision adds the column with one plain ALTER (no table rebuild), so the users' rows and every
row referring to them survive; these tests hold it to that on both backends.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from crm_core.migrate import alembic_config, current, upgrade
from tests.crm_core.conftest import _blank_engine  # noqa: F401  (SQLite and PostgreSQL, fresh each test)

INSERT = text(
    "INSERT INTO app_user (login, name, role, is_active, locale) "
    "VALUES (:login, :login, 'agent', :on, :locale)"
)


async def columns(engine) -> set[str]:
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("app_user"))}


async def locales(engine) -> dict[str, str | None]:
    async with engine.connect() as conn:
        return dict((await conn.execute(text("SELECT login, locale FROM app_user ORDER BY login"))).all())


class TestUserLocaleRevision:
    async def test_adds_a_nullable_checked_column(self, blank_engine):
        """
        At 0007 a user may have en, ru or no locale; anything else is refused by the database itself.
        """
        await upgrade(blank_engine, "0007")
        async with blank_engine.begin() as conn:
            for login, locale in (("anna", "ru"), ("boris", "en"), ("vera", None)):
                await conn.execute(INSERT, {"login": login, "on": True, "locale": locale})

        with pytest.raises(IntegrityError):
            async with blank_engine.begin() as conn:
                await conn.execute(text("UPDATE app_user SET locale = 'de' WHERE login = 'anna'"))

        assert {"anna": "ru", "boris": "en", "vera": None} == await locales(blank_engine)

    async def test_keeps_existing_users_and_goes_back(self, blank_engine):
        """
        Users made at 0006 survive the upgrade with no locale; downgrading drops the column, not them.
        """
        await upgrade(blank_engine, "0006")
        async with blank_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO app_user (login, name, role, is_active) VALUES ('anna', 'A', 'agent', :on)"
                ),
                {"on": True},
            )

        await upgrade(blank_engine, "0007")
        upgraded = (await current(blank_engine), await locales(blank_engine))
        async with blank_engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0006"))

        assert ("0007", {"anna": None}) == upgraded
        assert "0006" == await current(blank_engine)
        assert "locale" not in await columns(blank_engine)
        async with blank_engine.connect() as conn:
            assert ["anna"] == list((await conn.execute(text("SELECT login FROM app_user"))).scalars())
