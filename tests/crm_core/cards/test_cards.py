"""Contacts, companies and leads as services: typed phones and e-mails, companies, rights."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.cards.errors import BadValue
from crm_core.cards.schemas import (
    CompanyCreate,
    ContactCreate,
    ContactUpdate,
    EmailIn,
    LeadCreate,
    LeadUpdate,
    PhoneIn,
)
from crm_core.crud import ListQuery
from crm_core.errors import NotFound
from crm_core.lookup import find_card
from crm_core.models import Contact, ContactCompany, Phone
from crm_core.rights import Forbidden


class TestContacts:
    async def test_phone_is_kept_raw_e164_and_extension(self, session, people, contacts):
        """
        A phone typed with an extension is stored as typed, as E.164, and with the extension apart.
        """
        out = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(
                name="Anna Smirnova", phones=[PhoneIn(value="8 (916) 123-45-67 доб. 12", kind="mobile")]
            ),
        )

        phone = out.phones[0]
        assert ("8 (916) 123-45-67 доб. 12", "+79161234567", "12", "mobile") == (
            phone.raw,
            phone.e164,
            phone.extension,
            phone.kind,
        )

    async def test_bad_phone_is_refused_naming_its_position(self, session, people, contacts):
        """
        A phone that does not parse is refused with its place in the list, and nothing is written.
        """
        data = ContactCreate(name="Anna", phones=[PhoneIn(value="+79161234567"), PhoneIn(value="12ab")])

        with pytest.raises(BadValue, match=r"phones\[1\]: '12ab' is not a phone number"):
            await contacts.create(session, people.ivanov, data)

    async def test_emails_are_typed_and_matched_case_insensitively(self, session, people, contacts):
        """
        E-mails keep their kind; the list filter finds them whatever the case.
        """
        await contacts.create(
            session,
            people.ivanov,
            ContactCreate(name="Anna", emails=[EmailIn(value="Anna@Example.com", kind="home")]),
        )

        page = await contacts.list(session, people.ivanov, ListQuery(filters={"email": "anna@EXAMPLE.com"}))

        assert [("Anna", "Anna@Example.com", "home")] == [
            (c.name, c.emails[0].value, c.emails[0].kind) for c in page.items
        ]

    async def test_bad_email_is_refused(self, session, people, contacts):
        """
        Text that is not an address is refused, naming its position.
        """
        with pytest.raises(BadValue, match=r"emails\[0\]"):
            await contacts.create(
                session, people.ivanov, ContactCreate(name="A", emails=[EmailIn(value="anna at x")])
            )

    async def test_several_companies_first_is_primary(self, session, people, contacts, companies):
        """
        A contact works for two companies; the first is primary and the screen-pop shows it.
        """
        romashka = await companies.create(session, people.ivanov, CompanyCreate(title="Romashka"))
        vasilek = await companies.create(session, people.ivanov, CompanyCreate(title="Vasilek"))

        out = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(
                name="Anna", company_ids=[vasilek.id, romashka.id], phones=[PhoneIn(value="+79161234567")]
            ),
        )
        card = await find_card(session, "+79161234567", region="RU")

        assert (vasilek.id, [vasilek.id, romashka.id]) == (out.company_id, out.company_ids)
        assert "Vasilek" == card.company
        assert [out.id] == (await companies.get(session, people.ivanov, romashka.id)).contact_ids

    async def test_replacing_companies_moves_the_primary(self, session, people, contacts, companies):
        """
        Updating company_ids replaces the links; the new first company becomes primary.
        """
        a = await companies.create(session, people.ivanov, CompanyCreate(title="A"))
        b = await companies.create(session, people.ivanov, CompanyCreate(title="B"))
        out = await contacts.create(session, people.ivanov, ContactCreate(name="Anna", company_ids=[a.id]))

        out = await contacts.update(session, people.ivanov, out.id, ContactUpdate(company_ids=[b.id]))

        assert (b.id, [b.id]) == (out.company_id, out.company_ids)

    async def test_primary_company_written_directly_gets_its_link(self, session, people, companies):
        """
        A contact written with company_id by another writer (seed, call log) is linked too.
        """
        company = await companies.create(session, people.admin, CompanyCreate(title="Romashka"))
        contact = Contact(name="Anna", company_id=company.id)
        session.add(contact)
        await session.flush()

        links = (await session.execute(select(ContactCompany.contact_id, ContactCompany.company_id))).all()

        assert [(contact.id, company.id)] == [tuple(link) for link in links]

    async def test_unknown_company_is_refused(self, session, people, contacts):
        """
        Linking a company that does not exist names the bad id.
        """
        with pytest.raises(BadValue, match=r"company_ids\[0\]: no company with id 999"):
            await contacts.create(session, people.ivanov, ContactCreate(name="Anna", company_ids=[999]))

    async def test_delete_removes_phones_and_emails(self, session, people, contacts):
        """
        Deleting a contact deletes its phones and e-mails (they have no foreign key to do it).
        """
        out = await contacts.create(
            session,
            people.admin,
            ContactCreate(
                name="Anna", phones=[PhoneIn(value="+79161234567")], emails=[EmailIn(value="a@b.ru")]
            ),
        )

        await contacts.delete(session, people.admin, out.id)

        assert [] == list(await session.scalars(select(Phone.id)))
        with pytest.raises(NotFound):
            await contacts.get(session, people.admin, out.id)


class TestRights:
    async def test_agent_sees_department_cards_not_others(self, session, people, contacts):
        """
        An agent reads the department's contacts (level department), not another department's.
        """
        await contacts.create(session, people.petrov, ContactCreate(name="Petrov's client"))
        await contacts.create(session, people.kozlov, ContactCreate(name="Kozlov's client"))

        page = await contacts.list(session, people.ivanov, ListQuery())

        assert (["Petrov's client"], 1) == ([c.name for c in page.items], page.total)

    async def test_agent_cannot_update_a_colleagues_card(self, session, people, contacts):
        """
        Update is "own" for an agent: a colleague's contact is readable but not writable.
        """
        out = await contacts.create(session, people.petrov, ContactCreate(name="Anna"))

        with pytest.raises(Forbidden):
            await contacts.update(session, people.ivanov, out.id, ContactUpdate(name="Changed"))

    async def test_agent_cannot_create_a_card_for_a_colleague(self, session, people, contacts):
        """
        Add is "own" for an agent: a card owned by someone else is refused.
        """
        with pytest.raises(Forbidden):
            await contacts.create(
                session, people.ivanov, ContactCreate(name="Anna", responsible_id=people.petrov.user_id)
            )

    async def test_agent_cannot_delete(self, session, people, contacts):
        """
        Agents never delete cards, not even their own.
        """
        out = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))

        with pytest.raises(Forbidden):
            await contacts.delete(session, people.ivanov, out.id)

    async def test_own_lead_is_invisible_to_another_department(self, session, people, leads):
        """
        Kozlov (another department) can neither list nor get ivanov's lead.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="Site request"))

        page = await leads.list(session, people.kozlov, ListQuery())

        assert 0 == page.total
        with pytest.raises(Forbidden):
            await leads.get(session, people.kozlov, out.id)


class TestLeads:
    async def test_amount_currency_and_defaults(self, session, people, leads):
        """
        A lead keeps even an 18-digit amount to the kopeck, its currency, and starts NEW from source OTHER.
        """
        out = await leads.create(
            session,
            people.ivanov,
            LeadCreate(title="Request", amount=Decimal("9999999999999999.99"), currency="USD"),
        )

        got = await leads.get(session, people.ivanov, out.id)
        assert (Decimal("9999999999999999.99"), "USD", "NEW", "process", "OTHER") == (
            got.amount,
            got.currency,
            got.status,
            got.semantic,
            got.source,
        )

    async def test_unknown_status_is_refused_listing_the_allowed(self, session, people, leads):
        """
        A status not in the dictionary is refused, naming the allowed codes (not the success one).
        """
        with pytest.raises(BadValue) as caught:
            await leads.create(session, people.ivanov, LeadCreate(title="x", status="WHATEVER"))

        assert {"NEW", "IN_PROCESS", "PROCESSED", "JUNK"} == set(caught.value.allowed)

    async def test_converted_is_reached_only_by_conversion(self, session, people, leads):
        """
        Setting the success status by an edit is refused with a message saying why.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="x"))

        with pytest.raises(BadValue, match="by conversion"):
            await leads.update(session, people.ivanov, out.id, LeadUpdate(status="CONVERTED"))

    async def test_junk_closes_the_lead(self, session, people, leads):
        """
        A failure status makes the lead closed: its semantic says so.
        """
        out = await leads.create(session, people.ivanov, LeadCreate(title="x"))

        out = await leads.update(session, people.ivanov, out.id, LeadUpdate(status="JUNK"))

        assert ("JUNK", "failure") == (out.status, out.semantic)

    async def test_unknown_source_is_refused(self, session, people, leads):
        """
        A source not in the dictionary is refused.
        """
        with pytest.raises(BadValue, match="source: 'FAX'"):
            await leads.create(session, people.ivanov, LeadCreate(title="x", source="FAX"))

    async def test_filter_by_phone_in_any_spelling(self, session, people, leads):
        """
        ``phone=`` finds a lead by its number however it is written.
        """
        await leads.create(
            session, people.ivanov, LeadCreate(title="x", phones=[PhoneIn(value="+7 916 123-45-67")])
        )
        await leads.create(session, people.ivanov, LeadCreate(title="y"))

        page = await leads.list(session, people.ivanov, ListQuery(filters={"phone": "8 916 1234567"}))

        assert ["x"] == [lead.title for lead in page.items]

    async def test_phone_filter_takes_no_operator(self, session, people, leads):
        """
        ``phone__contains`` is refused by name: numbers match exactly, in any spelling.
        """
        with pytest.raises(BadValue, match="phone__contains: phone takes one exact value"):
            await leads.list(session, people.ivanov, ListQuery(filters={"phone__contains": "916"}))
