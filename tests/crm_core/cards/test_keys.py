"""The duplicate keys: what counts as the same person, company and address."""

from __future__ import annotations

import pytest

from crm_core.models.keys import company_key, email_key, person_key


class TestPersonKey:
    def test_word_order_case_and_yo_do_not_matter(self):
        """
        "Смирнова Алёна" and "алена  СМИРНОВА" are the same person to duplicate control.
        """
        assert person_key("Смирнова Алёна") == person_key("алена  СМИРНОВА")

    def test_punctuation_is_ignored(self):
        """
        Dots and commas around initials do not make a different person.
        """
        assert "a smirnova" == person_key("Smirnova, A.")

    @pytest.mark.parametrize("name", [None, "", "  ", "--"])
    def test_empty_names_match_nothing(self, name):
        """
        A name with no letters has no key, so it never matches another empty name.
        """
        assert None is person_key(name)

    def test_different_people_differ(self):
        """
        Another first name is another key.
        """
        assert person_key("Anna Smirnova") != person_key("Olga Smirnova")


class TestCompanyKey:
    @pytest.mark.parametrize("title", ["ООО «Ромашка»", "Ромашка ООО", "ромашка", 'ООО "Ромашка"'])
    def test_legal_form_and_quotes_are_ignored(self, title):
        """
        The legal form and the quotes around the name are not part of the company's identity.
        """
        assert "ромашка" == company_key(title)

    def test_word_order_is_kept(self):
        """
        Unlike people's names, company words keep their order ("Bank City" is not "City Bank").
        """
        assert company_key("Bank City") != company_key("City Bank")

    def test_title_made_only_of_a_legal_form_keeps_it(self):
        """
        "LLC" alone still has a key instead of none.
        """
        assert "llc" == company_key("LLC")


class TestEmailKey:
    def test_case_and_spaces_around_are_ignored(self):
        """
        Addresses match whatever their case.
        """
        assert "anna@example.com" == email_key("  Anna@Example.COM ")

    @pytest.mark.parametrize("value", ["anna", "anna@", "@example.com", "anna@localhost", "an na@x.ru", None])
    def test_non_addresses_have_no_key(self, value):
        """
        Text that is not an address never matches anything.
        """
        assert None is email_key(value)
