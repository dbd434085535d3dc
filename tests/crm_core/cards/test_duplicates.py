"""Duplicate control: find cards like a given one, and groups of look-alike cards."""

from __future__ import annotations

import pytest

from crm_core.cards.duplicates import DuplicateGroup, duplicate_groups, find_duplicates
from crm_core.cards.errors import BadValue
from crm_core.cards.schemas import CompanyCreate, ContactCreate, EmailIn, LeadCreate, PhoneIn


class TestFindDuplicates:
    async def test_phone_in_another_spelling(self, session, people, contacts):
        """
        "8 (916) 123-45-67" finds the contact saved as "+7 916 123 45 67".
        """
        anna = await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna", phones=[PhoneIn(value="+7 916 123 45 67")])
        )

        found = await find_duplicates(session, people.ivanov, phones=["8 (916) 123-45-67"])

        assert [("contact", anna.id, ["phone"])] == [(d.entity, d.id, d.matched_on) for d in found]

    async def test_email_any_case(self, session, people, companies):
        """
        An e-mail matches whatever its case.
        """
        company = await companies.create(
            session,
            people.ivanov,
            CompanyCreate(title="Romashka", emails=[EmailIn(value="info@romashka.ru")]),
        )

        found = await find_duplicates(session, people.ivanov, emails=["INFO@Romashka.RU"])

        assert [("company", company.id)] == [(d.entity, d.id) for d in found]

    async def test_person_name_swapped_and_company_legal_form(
        self, session, people, contacts, companies, leads
    ):
        """
        "Смирнова Алёна" matches "Алена Смирнова"; "Ромашка" matches "ООО «Ромашка»" and a lead's company.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Алена Смирнова"))
        company = await companies.create(session, people.ivanov, CompanyCreate(title="ООО «Ромашка»"))
        lead = await leads.create(
            session, people.ivanov, LeadCreate(title="Request", company_name="Ромашка ООО")
        )

        found = await find_duplicates(session, people.ivanov, name="Смирнова Алёна", company_name="Ромашка")

        assert [
            ("contact", contact.id, ["name"]),
            ("company", company.id, ["company"]),
            ("lead", lead.id, ["company"]),
        ] == [(d.entity, d.id, d.matched_on) for d in found]

    async def test_strongest_match_first_and_self_excluded(self, session, people, contacts):
        """
        A card matching on phone and name ranks above one matching on name only; the card itself is left out.
        """
        weak = await contacts.create(session, people.ivanov, ContactCreate(name="Anna Smirnova"))
        strong = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(name="Anna Smirnova", phones=[PhoneIn(value="+79161234567")]),
        )
        me = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(name="Anna Smirnova", phones=[PhoneIn(value="+79161234567")]),
        )

        found = await find_duplicates(
            session, people.ivanov, phones=["+79161234567"], name="Anna Smirnova", exclude=("contact", me.id)
        )

        assert [strong.id, weak.id] == [d.id for d in found]

    async def test_unreadable_duplicate_is_reported_without_title(self, session, people, contacts):
        """
        Kozlov is told a duplicate exists in another department, but not whose card it is.
        """
        anna = await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna", phones=[PhoneIn(value="+79161234567")])
        )

        found = await find_duplicates(session, people.kozlov, phones=["+79161234567"])

        assert [(anna.id, None, people.ivanov.user_id)] == [(d.id, d.title, d.responsible_id) for d in found]

    async def test_nothing_alike(self, session, people, contacts):
        """
        A new person with a new number has no duplicates.
        """
        await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna", phones=[PhoneIn(value="+79161234567")])
        )

        assert [] == await find_duplicates(session, people.ivanov, phones=["+79160000000"], name="Olga")


class TestDuplicateGroups:
    async def test_groups_by_phone(self, session, people, contacts):
        """
        Two contacts sharing a number form one group; a contact alone forms none.
        """
        a = await contacts.create(
            session, people.admin, ContactCreate(name="A", phones=[PhoneIn(value="+79161234567")])
        )
        b = await contacts.create(
            session, people.admin, ContactCreate(name="B", phones=[PhoneIn(value="8 916 123-45-67")])
        )
        await contacts.create(
            session, people.admin, ContactCreate(name="C", phones=[PhoneIn(value="+79160000000")])
        )

        groups = await duplicate_groups(session, people.admin, "contact", "phone")

        assert [DuplicateGroup(axis="phone", key="+79161234567", ids=[a.id, b.id])] == groups

    async def test_groups_by_name_only_among_visible_cards(self, session, people, contacts):
        """
        Kozlov's group search does not see the sales department's cards.
        """
        await contacts.create(session, people.ivanov, ContactCreate(name="Anna Smirnova"))
        await contacts.create(session, people.ivanov, ContactCreate(name="Smirnova Anna"))

        assert 1 == len(await duplicate_groups(session, people.ivanov, "contact", "name"))
        assert [] == await duplicate_groups(session, people.kozlov, "contact", "name")

    async def test_axis_the_entity_lacks(self, session, people):
        """
        A company has no person name to compare.
        """
        with pytest.raises(BadValue, match="a company has no name"):
            await duplicate_groups(session, people.admin, "company", "name")
