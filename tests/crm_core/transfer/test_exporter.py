"""CSV export: the export right and the read scope, the columns, formula escaping, the round trip."""

from __future__ import annotations

import csv
import io

import pytest

from crm_core.audit import entries
from crm_core.query import InvalidQuery
from crm_core.rights import DEFAULT_GRANTS, SYSTEM, Action, Entity, Forbidden, Level, Principal
from crm_core.transfer.exporter import export_csv
from crm_core.transfer.importer import DedupeMode, import_table
from crm_core.transfer.mapping import ImportKind
from crm_core.transfer.readers import read_csv

from .conftest import csv_table, mapping_for

CONTACTS = """ФИО,Телефон,Мобильный,E-mail,Компания,Ответственный,Комментарий
Смирнова Анна,8 (916) 123-45-67,+7 903 555-00-11,anna@example.com,ООО «Ромашка»,ivanov,"=HYPERLINK(""http://x"")"
Борис Петров,+7 903 555-00-22,,,,petrov,-5 pcs
Вера Админова,+7 903 555-00-33,,,,admin,
"""


async def seed(session):
    table = csv_table(CONTACTS)
    report = await import_table(session, SYSTEM, table, mapping_for(ImportKind.CONTACTS, table))
    assert report.ok


async def exported(session, principal, kind=ImportKind.CONTACTS, filters=None) -> list[dict[str, str]]:
    text = "".join([piece async for piece in export_csv(session, principal, kind, filters)])
    return list(csv.DictReader(io.StringIO(text)))


class TestExportRights:
    async def test_an_agent_without_the_export_right_is_forbidden(self, session, people):
        """Agents read their department's contacts but may not export them."""
        await seed(session)
        with pytest.raises(Forbidden) as caught:
            await exported(session, people.agent)
        assert (Entity.CONTACT, Action.EXPORT) == (caught.value.entity, caught.value.action)

    async def test_the_rows_are_those_both_readable_and_exportable(self, session, people):
        """Export at 'all' but read at 'own': only the user's own cards come out."""
        await seed(session)
        grants = {**DEFAULT_GRANTS["agent"], (Entity.CONTACT, Action.EXPORT): Level.ALL}
        grants[(Entity.CONTACT, Action.READ)] = Level.OWN
        principal = Principal(people.agent.user_id, "ivanov", grants, team_ids=people.agent.team_ids)
        assert ["Смирнова Анна"] == [row["name"] for row in await exported(session, principal)]

    async def test_a_supervisor_exports_the_department(self, session, people):
        """Department level: ivanov's and petrov's contacts, not the admin's."""
        await seed(session)
        names = [row["name"] for row in await exported(session, people.supervisor)]
        assert ["Смирнова Анна", "Борис Петров"] == names


class TestExportContent:
    async def test_columns_channels_and_references(self, session, people):
        """Typed phones in their columns, the company title, the responsible's login."""
        await seed(session)
        anna = (await exported(session, people.admin))[0]
        assert {
            "name": "Смирнова Анна",
            "phone": "8 (916) 123-45-67",
            "phone_mobile": "+7 903 555-00-11",
            "phone_home": "",
            "email": "anna@example.com",
            "email_home": "",
            "company": "ООО «Ромашка»",
            "responsible": "ivanov",
        }.items() <= anna.items()

    async def test_formulas_are_defused_but_phones_are_not(self, session, people):
        """'=HYPERLINK(...)' and '-5 pcs' get an apostrophe; '+7 903 ...' stays a phone."""
        await seed(session)
        rows = await exported(session, people.admin)
        assert '\'=HYPERLINK("http://x")' == rows[0]["comments"]
        assert "'-5 pcs" == rows[1]["comments"]
        assert "+7 903 555-00-22" == rows[1]["phone"]

    async def test_filters_are_the_resources_filters(self, session, people):
        """name__contains works; an unknown field is refused naming the filterable ones."""
        await seed(session)
        assert ["Борис Петров"] == [
            r["name"] for r in await exported(session, people.admin, filters={"name__contains": "Борис"})
        ]
        with pytest.raises(InvalidQuery, match="cannot filter on 'shoe_size'"):
            await exported(session, people.admin, filters={"shoe_size": "42"})

    async def test_the_export_is_audited(self, session, people):
        """Who exported how many rows of what, with the filters."""
        await seed(session)
        await exported(session, people.admin, filters={"name__contains": "а"})
        (entry,) = await entries(session, action_prefix="crm.export")
        assert ("admin", "contacts", {"rows": 2, "filters": {"name__contains": "а"}}) == (
            entry.actor,
            entry.target,
            entry.details,
        )

    async def test_an_export_imports_back_as_duplicates_only(self, session, people):
        """Round trip: the export's header maps by itself, and every row is found again."""
        await seed(session)
        text = "".join([piece async for piece in export_csv(session, people.admin, ImportKind.CONTACTS)])
        table = read_csv("export.csv", text.encode())
        report = await import_table(
            session,
            people.admin,
            table,
            mapping_for(ImportKind.CONTACTS, table),
            dedupe=DedupeMode.SKIP,
            dry_run=True,
        )
        assert ([], 0, 3) == (report.errors, report.created, len(report.skipped))

    async def test_products_round_trip_with_sections_and_flags(self, session, people):
        """Products export Y/N flags, exact prices and their section, and import back unchanged."""
        table = csv_table("Название;Раздел;Цена;НДС;Активен;Внешний код\nКабель;Провода;12,3456;20;N;A-1\n")
        await import_table(session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table))
        (row,) = await exported(session, people.admin, ImportKind.PRODUCTS)
        assert ("Провода", "12.3456", "20.0000", "N", "Y", "A-1") == (
            row["section"],
            row["price"],
            row["vat_rate"],
            row["active"],
            row["vat_included"],
            row["external_id"],
        )
