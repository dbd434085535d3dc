"""Cards never carry an excluded phone or e-mail: the card services and lead conversion refuse it."""

from __future__ import annotations

import pytest

from crm_core.cards.companies import CompaniesResource
from crm_core.cards.contacts import ContactsResource
from crm_core.cards.conversion import LeadConversion, convert_lead
from crm_core.cards.exclusions import add_exclusion
from crm_core.cards.leads import LeadsResource
from crm_core.cards.schemas import (
    CompanyCreate,
    CompanyUpdate,
    ContactCreate,
    ContactUpdate,
    EmailIn,
    LeadCreate,
    PhoneIn,
)
from crm_core.errors import ExcludedValue
from crm_core.models import Company, Contact, Lead

from ..factories import count

OWN = ("+7 (495) 123-45-67",)


class TestCardServices:
    async def test_contact_with_an_own_number_is_refused(self, session, people):
        """
        The company's own number (``crm.own_numbers``), in any spelling, cannot go on a new contact;
        the error names the field and the number.
        """
        contacts = ContactsResource("RU", OWN)
        data = ContactCreate(
            name="Anna", phones=[PhoneIn(value="+79990001122"), PhoneIn(value="8 495 1234567")]
        )

        with pytest.raises(
            ExcludedValue, match=r"phones\[1\]: \+74951234567 is on the exclusion list"
        ) as caught:
            await contacts.create(session, people.admin, data)

        assert ("excluded-value", "own number") == (caught.value.error_id, caught.value.reason)
        await session.rollback()
        assert 0 == await count(session, Contact)

    async def test_company_with_an_excluded_email_is_refused(self, session, people):
        """
        An e-mail on the exclusion list is refused whatever its case, on create and on update.
        """
        await add_exclusion(session, people.admin, "email", "office@partner.ru")
        companies = CompaniesResource("RU", OWN)

        with pytest.raises(ExcludedValue, match=r"emails\[0\]: office@partner.ru"):
            await companies.create(
                session,
                people.admin,
                CompanyCreate(title="Partner", emails=[EmailIn(value="Office@Partner.ru")]),
            )
        company = await companies.create(session, people.admin, CompanyCreate(title="Partner"))
        with pytest.raises(ExcludedValue, match=r"office@partner\.ru"):
            await companies.update(
                session, people.admin, company.id, CompanyUpdate(emails=[EmailIn(value="OFFICE@partner.ru")])
            )

    async def test_lead_and_contact_update_with_a_listed_number_are_refused(self, session, people):
        """
        A number on the exclusion list cannot go on a lead, nor be added to a contact later; a card
        that does not touch its phones is updated as before.
        """
        await add_exclusion(session, people.admin, "phone", "+7 999 111-22-33")
        leads, contacts = LeadsResource("RU", OWN), ContactsResource("RU", OWN)

        with pytest.raises(ExcludedValue, match=r"phones\[0\]: \+79991112233"):
            await leads.create(
                session, people.admin, LeadCreate(title="Call", phones=[PhoneIn(value="89991112233")])
            )
        contact = await contacts.create(session, people.admin, ContactCreate(name="Anna"))
        with pytest.raises(ExcludedValue):
            await contacts.update(
                session, people.admin, contact.id, ContactUpdate(phones=[PhoneIn(value="+79991112233")])
            )
        renamed = await contacts.update(session, people.admin, contact.id, ContactUpdate(name="Anna S."))

        assert "Anna S." == renamed.name


class TestConversion:
    async def test_lead_with_an_own_number_does_not_become_a_contact(self, session, people):
        """
        A lead typed in before the number became an own number keeps it, but converting it to a new
        contact or company (which would get the number) is refused; a deal alone is fine.
        """
        lead = await LeadsResource("RU").create(
            session, people.admin, LeadCreate(title="Call", phones=[PhoneIn(value="+74951234567")])
        )
        await session.commit()

        for wanted in (LeadConversion(contact="create"), LeadConversion(company="create")):
            with pytest.raises(ExcludedValue, match=r"\+74951234567"):
                await convert_lead(session, people.admin, lead.id, wanted, own_numbers=OWN)
            await session.rollback()
        result = await convert_lead(
            session, people.admin, lead.id, LeadConversion(deal=True), own_numbers=OWN
        )

        assert (0, 0, ["deal"]) == (
            await count(session, Contact),
            await count(session, Company),
            result.created,
        )

    async def test_lead_with_a_listed_email_is_refused(self, session, people):
        """
        The exclusion list counts too, without any own numbers configured.
        """
        lead = await LeadsResource("RU").create(
            session, people.admin, LeadCreate(title="Mail", emails=[EmailIn(value="robot@our.ru")])
        )
        await add_exclusion(session, people.admin, "email", "robot@our.ru")
        await session.commit()

        with pytest.raises(ExcludedValue, match=r"emails\[0\]: robot@our.ru"):
            await convert_lead(session, people.admin, lead.id, LeadConversion(contact="create"))
        await session.rollback()

        assert (1, 0) == (await count(session, Lead), await count(session, Contact))
