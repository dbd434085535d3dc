"""Lead conversion: to contact, company and deal, offering duplicates, carrying rows and history over."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core import audit
from crm_core.calllog import record_call
from crm_core.cards.activities import ActivitiesResource
from crm_core.cards.conversion import LeadConversion, conversion_offer, convert_lead
from crm_core.cards.errors import AlreadyConverted, BadValue, DuplicatesFound
from crm_core.cards.schemas import ActivityCreate, Binding, CompanyCreate, ContactCreate, EmailIn, PhoneIn
from crm_core.cards.timeline import timeline
from crm_core.errors import NotFound
from crm_core.lookup import find_card
from crm_core.models import CallActivity, Contact, Deal, Lead
from crm_core.rights import Forbidden
from crm_core.sales.rows import load_rows, replace_rows
from crm_core.sales.schemas import RowIn

from ..factories import count, make_call


@pytest.fixture(name="lead_from_call")
async def _lead_from_call(session, people, settings):
    """A lead made by an incoming call answered by ivanov, given a name, a company, an e-mail and a note."""
    await record_call(session, make_call("c1", external="+79991112233"), pbx_id="main", settings=settings)
    lead = await session.scalar(select(Lead))
    lead.name = "Anna Smirnova"
    lead.company_name = "ООО «Ромашка»"
    lead.amount = Decimal("5000.00")
    await session.flush()
    await ActivitiesResource().create(
        session,
        people.ivanov,
        ActivityCreate(
            kind="note",
            subject="Wants 3 boxes",
            start_at=datetime(2026, 11, 1, tzinfo=UTC),
            bindings=[Binding(owner_type="lead", owner_id=lead.id)],
        ),
    )
    await session.commit()
    return lead


class TestConversion:
    async def test_to_contact_company_and_deal(self, session, people, contacts, lead_from_call):
        """
        A full conversion: new contact (with the lead's number) working for a new company, and a deal.
        """
        lead_id = lead_from_call.id

        result = await convert_lead(
            session, people.ivanov, lead_id, LeadConversion(contact="create", company="create", deal=True)
        )

        contact = await contacts.get(session, people.ivanov, result.contact_id)
        deal = await session.get(Deal, result.deal_id)
        assert ["company", "contact", "deal"] == result.created
        assert ("Anna Smirnova", ["+79991112233"], [result.company_id]) == (
            contact.name,
            [p.e164 for p in contact.phones],
            contact.company_ids,
        )
        assert (lead_id, result.company_id, Decimal("5000.00"), people.ivanov.user_id) == (
            deal.source_lead_id,
            deal.company_id,
            deal.amount,
            deal.responsible_id,
        )

    async def test_lead_keeps_links_and_is_closed(self, session, people, lead_from_call):
        """
        The lead is CONVERTED, points at its contact and company, and its number now pops the contact.
        """
        result = await convert_lead(
            session, people.ivanov, lead_from_call.id, LeadConversion(contact="create", company="create")
        )

        lead = await session.get(Lead, lead_from_call.id)
        assert ("CONVERTED", result.contact_id, result.company_id) == (
            lead.status,
            lead.contact_id,
            lead.company_id,
        )
        assert lead.converted_at is not None
        assert ("contact", result.contact_id) == (
            (card := await find_card(session, "+79991112233", region="RU")).entity,
            card.id,
        )

    async def test_calls_and_activities_carry_over(self, session, people, lead_from_call):
        """
        The call that made the lead and the lead's note are on the new contact's timeline.
        """
        result = await convert_lead(
            session, people.ivanov, lead_from_call.id, LeadConversion(contact="create")
        )

        items = await timeline(session, people.ivanov, "contact", result.contact_id)
        assert [("activity", "Wants 3 boxes"), ("call", "Incoming call +79991112233")] == sorted(
            (i.source, i.subject) for i in items
        )
        assert (1, 1) == (result.calls_linked, result.activities_bound)
        assert result.contact_id == await session.scalar(select(CallActivity.contact_id))

    async def test_product_rows_go_to_the_deal(self, session, people, lead_from_call):
        """
        The lead's product rows are copied to the deal, whose amount is then their total to the kopeck.
        """
        rows = [RowIn(name="Box", quantity=Decimal("3"), price=Decimal("333.33"))]
        await replace_rows(session, ("lead", lead_from_call.id), rows)

        result = await convert_lead(session, people.ivanov, lead_from_call.id, LeadConversion(deal=True))

        copied = await load_rows(session, ("deal", result.deal_id))
        deal = await session.get(Deal, result.deal_id)
        assert (1, ["Box"], Decimal("999.99")) == (result.rows_copied, [r.name for r in copied], deal.amount)

    async def test_duplicates_are_offered_and_block_a_blind_create(
        self, session, people, contacts, companies, lead_from_call
    ):
        """
        With a contact of the same number and a company of the same name, creating new ones is refused
        with the duplicates listed; the offer lists them too.
        """
        anna = await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna S.", phones=[PhoneIn(value="8 999 111-22-33")])
        )
        romashka = await companies.create(session, people.ivanov, CompanyCreate(title="Ромашка"))

        offer = await conversion_offer(session, people.ivanov, lead_from_call.id)
        with pytest.raises(DuplicatesFound) as caught:
            await convert_lead(
                session, people.ivanov, lead_from_call.id, LeadConversion(contact="create", company="create")
            )

        assert ([anna.id], [romashka.id]) == ([d.id for d in offer.contacts], [d.id for d in offer.companies])
        assert [("contact", anna.id), ("company", romashka.id)] == [
            (d["entity"], d["id"]) for d in caught.value.details()["duplicates"]
        ]

    async def test_linking_an_existing_contact_instead(self, session, people, contacts, lead_from_call):
        """
        Choosing the duplicate links the lead to it; no new contact is made and the contact gets the history.
        """
        anna = await contacts.create(
            session,
            people.ivanov,
            ContactCreate(
                name="Anna S.", phones=[PhoneIn(value="8 999 111-22-33")], emails=[EmailIn(value="a@b.ru")]
            ),
        )

        result = await convert_lead(
            session, people.ivanov, lead_from_call.id, LeadConversion(contact=anna.id)
        )

        assert ([], anna.id) == (result.created, result.contact_id)
        assert 1 == len((await contacts.get(session, people.ivanov, anna.id)).phones)

    async def test_create_despite_duplicates(self, session, people, contacts, lead_from_call):
        """
        The user who saw the duplicates may still ask for a new contact.
        """
        await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna S.", phones=[PhoneIn(value="8 999 111-22-33")])
        )

        result = await convert_lead(
            session,
            people.ivanov,
            lead_from_call.id,
            LeadConversion(contact="create", create_despite_duplicates=True),
        )

        assert ["contact"] == result.created

    async def test_twice_is_refused(self, session, people, lead_from_call):
        """
        A converted lead cannot be converted again.
        """
        await convert_lead(session, people.ivanov, lead_from_call.id, LeadConversion(contact="create"))

        with pytest.raises(AlreadyConverted):
            await convert_lead(session, people.ivanov, lead_from_call.id, LeadConversion(company="create"))

    async def test_nothing_chosen_is_refused(self, session, people, lead_from_call):
        """
        A conversion to nothing is an error, not a silent status change.
        """
        with pytest.raises(BadValue, match="choose at least one"):
            await convert_lead(session, people.ivanov, lead_from_call.id, LeadConversion())

    async def test_colleague_without_update_right_cannot_convert(self, session, people, lead_from_call):
        """
        Petrov reads ivanov's lead (same department) but may not convert it.
        """
        with pytest.raises(Forbidden):
            await convert_lead(session, people.petrov, lead_from_call.id, LeadConversion(contact="create"))

    async def test_failed_conversion_changes_nothing(self, session, people, lead_from_call):
        """
        A conversion that fails half-way (unknown deal stage) leaves no contact behind after rollback.
        """
        lead_id = lead_from_call.id
        with pytest.raises(NotFound, match="stage"):
            await convert_lead(
                session,
                people.ivanov,
                lead_id,
                LeadConversion(contact="create", deal=True, deal_stage_id=999),
            )
        await session.rollback()

        lead = await session.get(Lead, lead_id)
        assert ("NEW", None, 0) == (lead.status, lead.contact_id, await count(session, Contact))

    async def test_audited(self, session, people, lead_from_call):
        """
        The conversion is in the audit trail with what it created.
        """
        await convert_lead(session, people.ivanov, lead_from_call.id, LeadConversion(contact="create"))

        entry = (await audit.entries(session, action_prefix="lead.convert"))[0]
        assert (f"lead:{lead_from_call.id}", ["contact"]) == (entry.target, entry.details["created"])
