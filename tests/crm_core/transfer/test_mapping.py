"""Column mapping: checking a mapping against a file's columns, and guessing one from the headers."""

from __future__ import annotations

import pytest

from crm_core.rights import Entity
from crm_core.transfer.mapping import (
    FIELDS,
    ImportKind,
    MappingError,
    build_mapping,
    guess_mapping,
    parse_pairs,
)

HEADERS = ("ФИО", "Телефон", "Мобильный", "E-mail", "Компания", "Заметки")


class TestBuildMapping:
    def test_columns_feed_fields_by_position(self):
        """Each field gets the positions of its columns; phones may take several columns."""
        mapping = build_mapping(
            ImportKind.CONTACTS,
            HEADERS,
            {"ФИО": "name", "Телефон": "phone", "Мобильный": "phone", "E-mail": "email", "Заметки": ""},
        )
        assert {"name": (0,), "phone": (1, 2), "email": (3,)} == dict(mapping.columns)
        assert {"ФИО": "name", "Телефон": "phone", "Мобильный": "phone", "E-mail": "email"} == mapping.pairs(
            HEADERS
        )

    def test_column_names_match_without_case(self):
        """'e-mail' finds the 'E-mail' column."""
        mapping = build_mapping(ImportKind.CONTACTS, HEADERS, {"фио": "name", "e-mail": "email"})
        assert (3,) == mapping.columns["email"]

    def test_every_problem_is_named_at_once(self):
        """Unknown column, unknown field, a single field fed twice and a missing name: four lines."""
        with pytest.raises(MappingError) as caught:
            build_mapping(
                ImportKind.CONTACTS,
                HEADERS,
                {
                    "Телефон": "phone",
                    "Фамилия": "last_name",
                    "E-mail": "mail",
                    "Компания": "company",
                    "Заметки": "company",
                },
            )
        problems = caught.value.problems
        assert 4 == len(problems)
        assert problems[0].startswith("column 'Фамилия': the file has no such column; it has 'ФИО', ")
        assert problems[1].startswith("column 'E-mail': contacts have no field 'mail'; fields: 'name', ")
        assert "field 'company' takes one column, but 'Компания', 'Заметки' all feed it" == problems[2]
        assert "map a column to 'name' or 'last_name' or 'first_name': contacts need it" == problems[3]
        assert "invalid-mapping" == caught.value.error_id

    def test_a_lead_needs_one_of_title_name_or_company(self):
        """A lead's title may come from its company name."""
        build_mapping(ImportKind.LEADS, ("Компания",), {"Компания": "company_name"})
        with pytest.raises(MappingError, match="'title' or 'name' or 'company_name'"):
            build_mapping(ImportKind.LEADS, ("Телефон",), {"Телефон": "phone"})


class TestGuessMapping:
    def test_russian_and_bitrix_headers(self):
        """Common Russian headers map without help; unknown ones are left out."""
        guessed = guess_mapping(ImportKind.CONTACTS, (*HEADERS, "Ответственный", "Непонятно"))
        assert {
            "ФИО": "name",
            "Телефон": "phone",
            "Мобильный": "phone_mobile",
            "E-mail": "email",
            "Компания": "company",
            "Ответственный": "responsible",
        } == guessed

    def test_our_own_export_headers_map_back(self):
        """The field names themselves are recognised, so an export imports back as it is."""
        names = tuple(f.name for f in FIELDS[ImportKind.PRODUCTS])
        assert {name: name for name in names} == guess_mapping(ImportKind.PRODUCTS, names)

    def test_a_repeated_column_feeds_a_multiple_field_only(self):
        """'Phone (2)' is another phone; a second 'Name' column is not guessed."""
        guessed = guess_mapping(ImportKind.CONTACTS, ("Name", "Name (2)", "Phone", "Phone (2)"))
        assert {"Name": "name", "Phone": "phone", "Phone (2)": "phone"} == guessed


class TestParsePairs:
    def test_the_last_equals_sign_splits(self):
        """A column name may contain '='; the field name cannot."""
        assert {"a=b": "phone", "ФИО": "name"} == parse_pairs(["a=b=phone", " ФИО = name "])

    def test_bad_items_are_all_reported(self):
        """Every malformed item is named with an example of the right form."""
        with pytest.raises(MappingError) as caught:
            parse_pairs(["phone", "=name", "x="])
        assert 3 == len(caught.value.problems)
        assert "'phone': write COLUMN=FIELD, e.g. 'Телефон=phone'" == caught.value.problems[0]


class TestImportKind:
    def test_each_kind_names_its_rights_entity(self):
        """Imports are checked against the add right of the entity they create."""
        assert [Entity.CONTACT, Entity.COMPANY, Entity.LEAD, Entity.PRODUCT] == [k.entity for k in ImportKind]
