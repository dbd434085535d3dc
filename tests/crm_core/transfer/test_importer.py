"""Importing contacts, companies, leads and products: dry run, all-or-nothing, dedupe, rights."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm_core.audit import entries
from crm_core.lookup import find_card
from crm_core.models import (
    Company,
    Contact,
    ContactCompany,
    Email,
    ExcludedNumber,
    Lead,
    Phone,
)
from crm_core.models.catalog import Product, ProductSection
from crm_core.rights import SYSTEM, Forbidden
from crm_core.transfer.importer import DedupeMode, MatchKey, import_table
from crm_core.transfer.mapping import ImportKind
from tests.crm_core.factories import count

from .conftest import csv_table, mapping_for

CONTACTS = """ФИО,Телефон,E-mail,Компания,Комментарий
Смирнова Анна,8 (916) 123-45-67,anna@example.com,ООО «Ромашка»,VIP
Борис Петров,+7 903 555-00-11,,Ромашка,
Вера Сидорова,"+7 903 555-00-22, +7 903 555-00-33",vera@example.com; v@example.org,,
"""


async def import_contacts(session, principal, text=CONTACTS, **options):
    table = csv_table(text)
    return await import_table(session, principal, table, mapping_for(ImportKind.CONTACTS, table), **options)


class TestContactsImport:
    async def test_rows_become_cards_the_screen_pop_finds(self, session, people):
        """Names, typed phones, e-mails, one company per title, comments; find_card knows the caller."""
        report = await import_contacts(session, people.admin)
        assert (3, 3, 0, [], True) == (
            report.rows,
            report.created,
            report.merged,
            report.errors,
            report.committed,
        )
        assert 1 == report.created_companies
        card = await find_card(session, "+79161234567", region="RU")
        assert ("contact", "Смирнова Анна", "ООО «Ромашка»") == (card.entity, card.title, card.company)
        assert 3 == await count(session, Contact)
        assert 1 == await count(session, Company)
        assert 2 == await count(session, ContactCompany)
        assert 4 == await count(session, Phone)
        vera = await session.scalar(select(Contact).where(Contact.name == "Вера Сидорова"))
        emails = set(await session.scalars(select(Email.value_key).where(Email.owner_id == vera.id)))
        assert {"vera@example.com", "v@example.org"} == emails
        anna = await session.scalar(select(Contact).where(Contact.name_key == "анна смирнова"))
        assert ("VIP", people.admin.user_id) == (anna.comments, anna.responsible_id)

    async def test_the_import_is_in_the_audit_trail(self, session, people):
        """Who imported what, with the counts."""
        await import_contacts(session, people.admin)
        (entry,) = await entries(session, action_prefix="crm.import")
        assert ("admin", "contacts") == (entry.actor, entry.target)
        assert {
            "file": "import.csv",
            "rows": 3,
            "created": 3,
            "merged": 0,
            "skipped": 0,
            "dedupe": "skip",
        } == entry.details

    async def test_responsible_defaults_to_the_given_user(self, session, people):
        """Rows without a responsible get the default (the importing user on the web)."""
        await import_contacts(session, SYSTEM, default_responsible_id=people.colleague_id)
        owners = set(await session.scalars(select(Contact.responsible_id)))
        assert {people.colleague_id} == owners

    async def test_progress_reaches_the_total_in_each_phase(self, session, people):
        """The callback sees check then write, each ending at its total."""
        seen = []
        await import_contacts(session, people.admin, progress=seen.append, chunk=2)
        assert [("check", 2, 3), ("check", 3, 3), ("write", 2, 3), ("write", 3, 3)] == [
            (p.phase, p.done, p.total) for p in seen
        ]

    async def test_phones_belong_to_their_own_rows_across_chunks(self, session, people):
        """Inserted in chunks of two, every phone still lands on the card of its own row."""
        rows = "".join(f"Контакт {n},+7 903 000-00-{n:02d}\n" for n in range(7))
        await import_contacts(session, people.admin, text="ФИО,Телефон\n" + rows, chunk=2)
        owners = await session.execute(
            select(Contact.name, Phone.e164).join(Phone, Phone.owner_id == Contact.id).order_by(Contact.id)
        )
        assert [(f"Контакт {n}", f"+790300000{n:02d}") for n in range(7)] == [tuple(row) for row in owners]

    async def test_the_responsible_by_login_or_by_name(self, session, people):
        """'petrov' and 'Petr Petrov' are the same user; a login wins over a name."""
        text = "ФИО,Телефон,Ответственный\nАнна,+79161234567,petrov\nБорис,+79035550011,Petr Petrov\n"
        await import_contacts(session, people.admin, text=text)
        assert {people.colleague_id} == set(await session.scalars(select(Contact.responsible_id)))


BAD = """ФИО,Телефон,E-mail,Ответственный
Анна,+79161234567,anna@example.com,ivanov
Борис,not a phone,,
,+79035550011,,
Вера,+79035550022,vera(at)example.com,
Глеб,+79035550033,,nobody
"""


class TestAllOrNothing:
    async def test_one_bad_row_changes_nothing_in_commit_mode(self, session, people):
        """Four good rows and one bad one: no contact, no phone, no company, no audit entry."""
        text = "ФИО,Телефон\nАнна,+79161234567\nБорис,12\nВера,+79035550022\n"
        report = await import_contacts(session, people.admin, text=text)
        assert (False, False) == (report.ok, report.committed)
        assert [(3, "Телефон", "'12' is not a phone number")] == [
            (e.line, e.column, e.reason) for e in report.errors
        ]
        assert (0, 0) == (await count(session, Contact), await count(session, Phone))
        assert [] == await entries(session, action_prefix="crm.import")

    async def test_the_dry_run_names_every_bad_row_with_its_line_and_reason(self, session, people):
        """Each bad row is listed once, in line order, with the column at fault."""
        report = await import_contacts(session, people.admin, text=BAD, dry_run=True)
        assert [
            (3, "Телефон", "'not a phone' is not a phone number"),
            (4, "ФИО", "no name: the name columns are empty"),
            (5, "E-mail", "'vera(at)example.com' is not an e-mail address"),
            (6, "Ответственный", "no user with login or name 'nobody'"),
        ] == [(e.line, e.column, e.reason) for e in report.errors]
        assert (1, False) == (report.created, report.committed)
        assert 0 == await count(session, Contact)

    async def test_a_clean_dry_run_writes_nothing_but_counts(self, session, people):
        """Dry run: the counts of a real run, no rows."""
        report = await import_contacts(session, people.admin, dry_run=True)
        assert (True, 3, 1, False) == (report.ok, report.created, report.created_companies, report.committed)
        assert (0, 0) == (await count(session, Contact), await count(session, Company))

    async def test_a_too_wide_row_is_an_error(self, session, people):
        """Extra non-empty cells are reported, not silently dropped."""
        report = await import_contacts(session, people.admin, text="ФИО\nАнна\nБорис,лишнее\n")
        assert [(3, "2 cells, but the header has 1 columns")] == [(e.line, e.reason) for e in report.errors]


EXISTING = "ФИО,Телефон,E-mail,Комментарий\nСмирнова Анна,8 916 123 45 67,,Old client\n"
AGAIN = (
    "ФИО,Телефон,E-mail,Комментарий\n"
    "Анна С.,+79161234567,anna@example.com,New comment\n"
    "Новый,+79035550011,,\n"
)


class TestDedupe:
    async def _existing(self, session, principal):
        await import_contacts(session, principal, text=EXISTING)
        return await session.scalar(select(Contact.id))

    async def test_skip_leaves_the_card_and_names_it(self, session, people):
        """A row with a known phone is skipped; the report names the card it duplicates."""
        anna = await self._existing(session, people.admin)
        report = await import_contacts(session, people.admin, text=AGAIN, dedupe=DedupeMode.SKIP)
        assert [(2, f"duplicate of contact #{anna}")] == [(s.line, s.reason) for s in report.skipped]
        assert (1, 2) == (report.created, await count(session, Contact))
        assert 0 == await count(session, Email)

    async def test_merge_fills_empty_fields_and_adds_channels_but_overwrites_nothing(self, session, people):
        """The e-mail is added, the name and comment the CRM had stay."""
        anna = await self._existing(session, people.admin)
        report = await import_contacts(session, people.admin, text=AGAIN, dedupe=DedupeMode.MERGE)
        assert (1, 1) == (report.created, report.merged)
        card = await session.get(Contact, anna)
        await session.refresh(card)
        assert ("Смирнова Анна", "Old client") == (card.name, card.comments)
        assert ["anna@example.com"] == list(
            await session.scalars(select(Email.value_key).where(Email.owner_id == anna))
        )
        assert 1 == await session.scalar(
            select(func.count()).select_from(Phone).where(Phone.owner_id == anna)
        )

    async def test_create_makes_a_second_card(self, session, people):
        """Create mode ignores duplicates."""
        await self._existing(session, people.admin)
        report = await import_contacts(session, people.admin, text=AGAIN, dedupe=DedupeMode.CREATE)
        assert (2, 3) == (report.created, await count(session, Contact))

    async def test_rows_repeating_each_other_fold_into_one_card(self, session, people):
        """Merge: two rows with one phone make one contact with both e-mails; skip keeps the first."""
        text = "ФИО,Телефон,E-mail\nАнна,+79161234567,a@x.ru\nАнна,8 916 123-45-67,b@x.ru\n"
        report = await import_contacts(session, people.admin, text=text, dedupe=DedupeMode.MERGE)
        assert (1, 1) == (report.created, report.merged)
        assert {"a@x.ru", "b@x.ru"} == set(await session.scalars(select(Email.value_key)))
        report = await import_contacts(session, people.admin, text=text.replace("Анна", "Ann"), dry_run=True)
        assert ["duplicate of contact #1", "duplicate of contact #1"] == [
            s.reason.replace(str(await session.scalar(select(Contact.id))), "1") for s in report.skipped
        ]

    async def test_match_on_name_ignores_word_order_and_case(self, session, people):
        """--match name: 'анна смирнова' is 'Смирнова Анна'."""
        await self._existing(session, people.admin)
        text = "ФИО,Телефон\nанна  СМИРНОВА,+79035550099\n"
        report = await import_contacts(
            session, people.admin, text=text, match_on=[MatchKey.NAME], dry_run=True
        )
        assert 1 == len(report.skipped)

    async def test_a_company_matches_without_its_legal_form(self, session, people):
        """Companies dedupe on their name too: «Ромашка» is ООО «Ромашка»."""
        table = csv_table("Название,Телефон\nООО «Ромашка»,+74951112233\n")
        await import_table(session, people.admin, table, mapping_for(ImportKind.COMPANIES, table))
        table = csv_table("Название,E-mail\nРомашка,info@romashka.ru\n")
        report = await import_table(
            session, people.admin, table, mapping_for(ImportKind.COMPANIES, table), dedupe=DedupeMode.MERGE
        )
        assert (0, 1, 1) == (report.created, report.merged, await count(session, Company))
        assert ["info@romashka.ru"] == list(await session.scalars(select(Email.value_key)))

    async def test_excluded_numbers_make_no_card(self, session, people):
        """A row with our own number is skipped with the reason."""
        session.add(ExcludedNumber(e164="+74951234567", reason="own number"))
        await session.flush()
        report = await import_contacts(session, people.admin, text="ФИО,Телефон\nМы,+7 495 123-45-67\n")
        assert ["+74951234567 is on the exclusion list (our own or an excluded number)"] == [
            s.reason for s in report.skipped
        ]
        assert 0 == await count(session, Contact)


class TestRights:
    async def test_an_agent_may_add_only_their_own_cards(self, session, people):
        """An agent importing a colleague's contacts gets an error on that row."""
        text = "ФИО,Телефон,Ответственный\nАнна,+79161234567,ivanov\nБорис,+79035550011,petrov\n"
        report = await import_contacts(
            session, people.agent, text=text, default_responsible_id=people.agent.user_id
        )
        assert [(3, "you may not add contacts for that responsible user")] == [
            (e.line, e.reason) for e in report.errors
        ]

    async def test_an_agent_may_not_merge_into_a_colleagues_card(self, session, people):
        """Merge needs the update right on the card it changes."""
        await import_contacts(session, SYSTEM, text=EXISTING, default_responsible_id=people.colleague_id)
        report = await import_contacts(
            session,
            people.agent,
            text=AGAIN,
            dedupe=DedupeMode.MERGE,
            default_responsible_id=people.agent.user_id,
        )
        assert 1 == len(report.errors)
        assert report.errors[0].reason.endswith(", which you may not change (merge)")

    async def test_no_add_right_at_all_is_forbidden_up_front(self, session, people):
        """An agent cannot add products (the catalogue is the admins')."""
        table = csv_table("Название,Цена\nКабель,10\n")
        with pytest.raises(Forbidden):
            await import_table(session, people.agent, table, mapping_for(ImportKind.PRODUCTS, table))


class TestLeadsImport:
    async def test_dictionary_values_by_code_or_name_and_money(self, session, people):
        """Status and source accept codes or names; '1 234,50' is 1234.50; title falls back to the company."""
        table = csv_table(
            "Компания;Имя;Телефон;Статус;Источник;Сумма;Валюта\n"
            "Ромашка;Анна;+79161234567;in_process;Web;1 234,50;usd\n"
            "Лютик;Борис;+79035550011;;;;\n"
        )
        report = await import_table(session, people.admin, table, mapping_for(ImportKind.LEADS, table))
        assert (2, []) == (report.created, report.errors)
        lead = await session.scalar(select(Lead).where(Lead.company_name == "Ромашка"))
        assert ("Ромашка", "IN_PROCESS", "WEB", Decimal("1234.50"), "USD") == (
            lead.title,
            lead.status,
            lead.source,
            lead.amount,
            lead.currency,
        )
        other = await session.scalar(select(Lead).where(Lead.company_name == "Лютик"))
        assert ("NEW", Decimal("0.00"), "RUB") == (other.status, other.amount, other.currency)
        card = await find_card(session, "+79161234567", region="RU")
        assert ("lead", lead.id) == (card.entity, card.id)

    async def test_an_unknown_status_lists_the_known_ones(self, session, people):
        """The reason tells what to write instead."""
        table = csv_table("Название,Статус\nЛид,Горячий\n")
        report = await import_table(
            session, people.admin, table, mapping_for(ImportKind.LEADS, table), dry_run=True
        )
        (error,) = report.errors
        assert error.reason.startswith(
            "'Горячий' is not a lead status; use one of CONVERTED, IN_PROCESS, JUNK, NEW"
        )


class TestProductsImport:
    async def test_prices_vat_sections_and_flags(self, session, people):
        """A section named in the file is created once; VAT 'без НДС' is no VAT."""
        table = csv_table(
            "Название;Раздел;Цена;НДС;НДС включен в цену;Активен;Внешний код;Ед. изм.\n"
            "Кабель;Провода;12,3456;20%;N;Y;A-1;m\n"
            "Услуга;Работы;1000;без НДС;;;A-2;\n"
            "Провод;провода;1;;;N;;\n"
        )
        report = await import_table(session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table))
        assert (3, 2, []) == (report.created, report.created_companies, report.errors)
        cable = await session.scalar(select(Product).where(Product.external_id == "A-1"))
        assert (Decimal("12.3456"), Decimal("20.0000"), False, True, "m") == (
            cable.price,
            cable.vat_rate,
            cable.vat_included,
            cable.active,
            cable.unit,
        )
        service = await session.scalar(select(Product).where(Product.external_id == "A-2"))
        assert (None, "pcs") == (service.vat_rate, service.unit)
        assert 2 == await count(session, ProductSection)

    async def test_a_section_with_required_custom_fields_refuses_the_row(self, session, people):
        """The file cannot fill custom fields: a row into a section that requires one is a bad row."""
        session.add_all(
            [
                ProductSection(name="Кабели", fields=[{"code": "gauge", "name": "Gauge", "type": "number",
                                                       "required": True}]),
                ProductSection(name="Работы", fields=[{"code": "note", "name": "Note", "type": "text"}]),
            ]
        )  # fmt: skip
        await session.flush()
        table = csv_table("Название;Раздел\nКабель;Кабели\nУслуга;Работы\n")

        report = await import_table(session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table))

        reason = (
            "section 'Кабели' requires the custom fields gauge, which an import cannot fill: "
            "add this product in the product form"
        )
        assert [(2, reason)] == [(e.line, e.reason) for e in report.errors]
        assert 0 == await count(session, Product)

    async def test_an_external_id_is_never_given_twice(self, session, people):
        """Even in create mode, a used external id is a row error naming its product."""
        table = csv_table("Название,Внешний код\nКабель,A-1\n")
        await import_table(session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table))
        table = csv_table("Название,Внешний код\nДругой,A-1\nТретий,B-2\nЧетвёртый,B-2\n")
        report = await import_table(
            session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table), dedupe=DedupeMode.CREATE
        )
        product = await session.scalar(select(Product.id))
        assert [
            (2, f"external id 'A-1' is already used by product #{product}"),
            (4, "external id 'B-2' is already used by line 3"),
        ] == [(e.line, e.reason) for e in report.errors]

    async def test_merge_by_external_id_fills_the_missing_price(self, session, people):
        """A re-import merges into the product with the same 1C code."""
        table = csv_table("Название,Внешний код\nКабель,A-1\n")
        await import_table(session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table))
        table = csv_table("Название,Внешний код,Описание\nКабель ВВГ,A-1,Медный\n")
        report = await import_table(
            session, SYSTEM, table, mapping_for(ImportKind.PRODUCTS, table), dedupe=DedupeMode.MERGE
        )
        assert (0, 1) == (report.created, report.merged)
        product = await session.scalar(select(Product))
        await session.refresh(product)
        assert ("Кабель", "Медный") == (product.name, product.description)
