"""Duplicate control: find cards like a given one, and groups of look-alike cards."""

from __future__ import annotations

import pytest

from crm_core.cards.duplicates import (
    CardKeys,
    DuplicateGroup,
    card_keys,
    duplicate_groups,
    find_duplicates,
)
from crm_core.cards.errors import BadValue
from crm_core.cards.schemas import CompanyCreate, ContactCreate, EmailIn, LeadCreate, PhoneIn
from crm_core.errors import NotFound
from crm_core.rights import Forbidden


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


class TestCardKeys:
    async def test_contact_phones_as_e164_emails_and_name(self, session, people, contacts):
        """
        A contact offers its numbers in E.164, its e-mails as written and its name; no company name.
        """
        anna = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(
                name="Anna Smirnova",
                phones=[PhoneIn(value="8 (916) 123-45-67")],
                emails=[EmailIn(value="Anna@Example.org")],
            ),
        )

        keys = await card_keys(session, people.ivanov, "contact", anna.id)

        assert CardKeys(phones=["+79161234567"], emails=["Anna@Example.org"], name="Anna Smirnova") == keys

    async def test_company_title_is_its_company_name(self, session, people, companies):
        """
        A company offers its title as the company name, and no person name.
        """
        company = await companies.create(session, people.ivanov, CompanyCreate(title="ООО «Ромашка»"))

        keys = await card_keys(session, people.ivanov, "company", company.id)

        assert CardKeys(phones=[], emails=[], company_name="ООО «Ромашка»") == keys

    async def test_lead_offers_person_and_company(self, session, people, leads):
        """
        A lead offers both the person's name and the company name.
        """
        lead = await leads.create(
            session, people.ivanov, LeadCreate(title="Request", name="Olga", company_name="Romashka")
        )

        keys = await card_keys(session, people.ivanov, "lead", lead.id)

        assert ("Olga", "Romashka") == (keys.name, keys.company_name)

    async def test_keys_find_the_twin(self, session, people, contacts):
        """
        The keys of a card, passed to find_duplicates, find its twin (and the card itself).
        """
        anna = await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna", phones=[PhoneIn(value="+79161234567")])
        )
        twin = await contacts.create(
            session, people.ivanov, ContactCreate(name="Other", phones=[PhoneIn(value="89161234567")])
        )
        keys = await card_keys(session, people.ivanov, "contact", anna.id)

        found = await find_duplicates(
            session, people.ivanov, phones=keys.phones, name=keys.name, exclude=("contact", anna.id)
        )

        assert [("contact", twin.id, ["phone"])] == [(d.entity, d.id, d.matched_on) for d in found]

    async def test_card_the_user_may_not_read(self, session, people, contacts):
        """
        Another department's agent may not read the card's keys.
        """
        anna = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))

        with pytest.raises(Forbidden):
            await card_keys(session, people.kozlov, "contact", anna.id)

    async def test_missing_card(self, session, people):
        """
        A card that does not exist is NotFound.
        """
        with pytest.raises(NotFound):
            await card_keys(session, people.admin, "lead", 999_999)
