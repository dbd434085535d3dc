"""The CRM card pages on both databases: SQLite and PostgreSQL (a fresh schema per test, migrated by
the real Alembic revisions, from tests/crm_core/conftest.py). What depends on the database is what
runs here: case-folded Cyrillic search, phone search, paging, the form's writes, conversion, merge.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm_core.models import Contact, Lead, User
from tests.crm_core.conftest import _blank_engine, _engine  # noqa: F401 (fixtures: sqlite and postgres)
from web import keys

from .crm_seed import seeded_client
from .test_crm_pages import Page, add_leads, ids_listed


@pytest.fixture(name="db_client")
async def _db_client(aiohttp_client, engine, settings):
    """The real app over the parametrised database (SQLite or PostgreSQL), seeded."""
    return await seeded_client(aiohttp_client, engine, settings)


async def user_id(client, login: str) -> int:
    async with client.app[keys.DB]() as session:
        return await session.scalar(select(User.id).where(User.login == login))


class TestOnBothDatabases:
    async def test_search_folds_cyrillic_case_and_reads_numbers(self, db_client):
        """
        "смирн" finds "Анна Смирнова"; +7 916 123-45-67 finds her too; "Иванов" finds nobody.
        """
        olga = Page(db_client, await user_id(db_client, "olga"))

        _s, by_name = await olga.get("/crm/contacts?q=СМИРН")
        _s, by_phone = await olga.get("/crm/contacts?q=%2B7+916+123-45-67")
        _s, nobody = await olga.get("/crm/contacts?q=Иванов")

        assert 1 == len(ids_listed(by_name))
        assert ids_listed(by_name) == ids_listed(by_phone)
        assert [] == ids_listed(nobody)

    async def test_paging(self, db_client):
        """
        27 leads: page 2 of 2 holds the 2 oldest; newest first by default.
        """
        olga_id = await user_id(db_client, "olga")
        ids = await add_leads(db_client.app, olga_id, [f"Заявка {n}" for n in range(27)])
        olga = Page(db_client, olga_id)

        _s, second = await olga.get("/crm/leads?page=2")

        assert "Page 2 of 2" in second
        assert sorted(ids[:2]) == sorted(ids_listed(second))

    async def test_create_convert_and_merge(self, db_client):
        """
        A lead made by the form, converted into a new contact (create anyway: Anna has the number),
        then merged into Anna by the admin: one contact remains, holding the lead's history.
        """
        olga = Page(db_client, await user_id(db_client, "olga"))
        root = Page(db_client, await user_id(db_client, "root"))

        created = await olga.post(
            "/crm/lead/new",
            [
                ("title", "Звонок с сайта"),
                ("name", "Анна"),
                ("phone_value", "+79161234567"),
                ("phone_kind", "mobile"),
            ],
        )
        lead_id = int(re.search(r"/crm/lead/(\d+)", created.headers["Location"])[1])
        await olga.post(f"/crm/lead/{lead_id}/notes", {"text": "Просит счёт"})
        converted = await olga.post(f"/crm/lead/{lead_id}/convert", {"contact": "create", "anyway": "1"})
        twin = int(re.search(r"/crm/contact/(\d+)", converted.headers["Location"])[1])
        async with db_client.app[keys.DB]() as session:
            anna = await session.scalar(select(Contact.id).where(Contact.name == "Анна Смирнова"))
        merged = await root.post("/crm/contacts/merge", [("keep", str(anna)), ("merge", str(twin))])
        _s, card = await root.get(merged.headers["Location"])

        assert (303, 303, 303) == (created.status, converted.status, merged.status)
        assert "Просит счёт" in card
        async with db_client.app[keys.DB]() as session:
            assert 1 == await session.scalar(select(func.count()).select_from(Contact))
            assert anna == (await session.get(Lead, lead_id)).contact_id
