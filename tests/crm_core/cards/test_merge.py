"""Merging duplicates: every call, recording, activity, phone, link and deal ends on the kept card."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm_core import audit
from crm_core.calllog import record_call
from crm_core.cards.activities import ActivitiesResource
from crm_core.cards.errors import BadValue
from crm_core.cards.merge import merge
from crm_core.cards.schemas import (
    ActivityCreate,
    Binding,
    CompanyCreate,
    ContactCreate,
    EmailIn,
    LeadCreate,
    PhoneIn,
)
from crm_core.cards.timeline import timeline
from crm_core.errors import NotFound
from crm_core.lookup import find_card
from crm_core.models import CallActivity, Contact, Deal, DealContact, Lead, Recording
from crm_core.rights import Forbidden
from crm_core.sales.deals import create_deal
from crm_core.sales.rows import load_rows, replace_rows
from crm_core.sales.schemas import DealCreate, RowIn

from ..factories import make_call


@pytest.fixture(name="twins")
async def _twins(session, people, contacts, companies, settings):
    """Two cards of one person, each with calls (and recordings), one with an activity and a lead."""
    company = await companies.create(session, people.admin, CompanyCreate(title="Romashka"))
    keep = await contacts.create(
        session,
        people.admin,
        ContactCreate(
            name="Anna Smirnova",
            phones=[PhoneIn(value="+79991112233")],
            emails=[EmailIn(value="anna@example.com")],
        ),
    )
    twin = await contacts.create(
        session,
        people.admin,
        ContactCreate(
            name="Smirnova Anna",
            company_ids=[company.id],
            phones=[PhoneIn(value="+79991112244"), PhoneIn(value="+79991112233")],
            emails=[EmailIn(value="Anna@Example.com")],
            comments="Prefers mornings",
        ),
    )
    # Each number calls twice; every call has one or two recordings.
    for n, (number, files) in enumerate(
        [("+79991112233", 1), ("+79991112244", 2), ("+79991112244", 1), ("+79991112233", 2)]
    ):
        call = make_call(
            f"c{n}", external=number, recordings=tuple(f"/spool/c{n}-{i}.wav" for i in range(files))
        )
        await record_call(session, call, pbx_id="main", settings=settings)
    await ActivitiesResource().create(
        session,
        people.admin,
        ActivityCreate(
            kind="note",
            subject="Asked for a quote",
            start_at=datetime(2026, 11, 1, tzinfo=UTC),
            bindings=[Binding(owner_type="contact", owner_id=twin.id)],
        ),
    )
    session.add(
        Lead(title="Repeat request", contact_id=twin.id, status="NEW", responsible_id=people.admin.user_id)
    )
    await session.commit()
    return keep, twin, company


class TestMergeContacts:
    async def test_keeps_every_call_and_recording(self, session, people, twins):
        """
        After the merge the kept contact has all four calls and all six recordings; nothing was deleted.
        """
        keep, twin, _company = twins
        calls_before = await session.scalar(select(func.count()).select_from(CallActivity))
        recordings_before = await session.scalar(select(func.count()).select_from(Recording))

        await merge(session, people.admin, "contact", keep.id, [twin.id])
        await session.commit()

        on_keep = list(
            await session.scalars(select(CallActivity.id).where(CallActivity.contact_id == keep.id))
        )
        recordings = await session.scalar(
            select(func.count()).select_from(Recording).where(Recording.call_pk.in_(on_keep))
        )
        assert (4, 4, 6, 6) == (calls_before, len(on_keep), recordings_before, recordings)
        assert [keep.id] * 4 == list(
            await session.scalars(
                select(CallActivity.crm_entity_id).where(CallActivity.crm_entity == "contact")
            )
        )

    async def test_phones_emails_links_activities_and_leads_move(self, session, people, contacts, twins):
        """
        The kept card gets the other number (once), the e-mail once, the company, the note and the lead.
        """
        keep, twin, company = twins

        await merge(session, people.admin, "contact", keep.id, [twin.id])

        out = await contacts.get(session, people.admin, keep.id)
        assert ["+79991112233", "+79991112244"] == sorted(p.e164 for p in out.phones)
        assert ["anna@example.com"] == [e.value for e in out.emails]
        assert ([company.id], company.id) == (out.company_ids, out.company_id)
        assert "Prefers mornings" == out.comments
        items = await timeline(session, people.admin, "contact", keep.id)
        assert "Asked for a quote" in [i.subject for i in items]
        assert keep.id == await session.scalar(select(Lead.contact_id).where(Lead.title == "Repeat request"))

    async def test_the_other_number_now_pops_the_kept_card(self, session, people, twins):
        """
        The merged card's number rings the kept card.
        """
        keep, twin, _company = twins

        await merge(session, people.admin, "contact", keep.id, [twin.id])

        assert keep.id == (await find_card(session, "+79991112244", region="RU")).id

    async def test_merged_card_is_gone_and_audited(self, session, people, contacts, twins):
        """
        The merged contact is deleted; the audit entry keeps it as it was and what moved.
        """
        keep, twin, _company = twins

        result = await merge(session, people.admin, "contact", keep.id, [twin.id])

        with pytest.raises(NotFound):
            await contacts.get(session, people.admin, twin.id)
        entry = (await audit.entries(session, action_prefix="contact.merge"))[0]
        assert (result.audit_id, f"contact:{keep.id}", "admin") == (entry.id, entry.target, entry.actor)
        assert ["Smirnova Anna"] == [card["name"] for card in entry.details["merged"]]
        assert 2 == entry.details["moved"]["call.contact_id"]

    async def test_deal_shared_by_both_keeps_one_contact_row(self, session, people, contacts, twins):
        """
        A deal with both cards as contacts ends with the kept card once; a deal of the twin alone moves.
        """
        keep, twin, _company = twins
        shared = await create_deal(
            session, people.admin, DealCreate(title="Shared", contact_ids=[keep.id, twin.id])
        )
        alone = await create_deal(session, people.admin, DealCreate(title="Alone", contact_ids=[twin.id]))

        await merge(session, people.admin, "contact", keep.id, [twin.id])

        rows = await session.execute(
            select(DealContact.deal_id, DealContact.contact_id).order_by(DealContact.deal_id)
        )
        assert [(shared.id, keep.id), (alone.id, keep.id)] == [tuple(r) for r in rows]

    async def test_agent_may_not_merge(self, session, people, contacts):
        """
        Merging deletes a card, which agents may not do.
        """
        a = await contacts.create(session, people.ivanov, ContactCreate(name="A"))
        b = await contacts.create(session, people.ivanov, ContactCreate(name="B"))

        with pytest.raises(Forbidden):
            await merge(session, people.ivanov, "contact", a.id, [b.id])

    async def test_merging_a_card_into_itself_is_refused(self, session, people, contacts):
        """
        The kept card cannot also be a merged one.
        """
        a = await contacts.create(session, people.admin, ContactCreate(name="A"))

        with pytest.raises(BadValue, match="other than the one kept"):
            await merge(session, people.admin, "contact", a.id, [a.id])


class TestMergeCompanies:
    async def test_contacts_links_and_deals_move(self, session, people, contacts, companies):
        """
        Contacts of the merged company (primary or not) and its deals move; a shared link is kept once.
        """
        keep = await companies.create(session, people.admin, CompanyCreate(title="Romashka LLC"))
        twin = await companies.create(session, people.admin, CompanyCreate(title="ООО Ромашка"))
        both = await contacts.create(
            session, people.admin, ContactCreate(name="Both", company_ids=[twin.id, keep.id])
        )
        only = await contacts.create(session, people.admin, ContactCreate(name="Only", company_ids=[twin.id]))
        deal = await create_deal(session, people.admin, DealCreate(title="Supply", company_id=twin.id))

        result = await merge(session, people.admin, "company", keep.id, [twin.id])

        assert [both.id, only.id] == (await companies.get(session, people.admin, keep.id)).contact_ids
        assert keep.id == await session.scalar(select(Contact.company_id).where(Contact.id == only.id))
        assert [keep.id] == (await contacts.get(session, people.admin, both.id)).company_ids
        assert keep.id == await session.scalar(select(Deal.company_id).where(Deal.id == deal.id))
        assert 1 == result.moved["deal.company_id"]


class TestMergeLeads:
    async def test_calls_move_to_the_kept_lead(self, session, people, leads, settings):
        """
        Two leads from calls by one person: merged, the kept lead has both calls.
        """
        keep = await leads.create(
            session, people.admin, LeadCreate(title="A", phones=[PhoneIn(value="+79991112233")])
        )
        await record_call(session, make_call("c1"), pbx_id="main", settings=settings)
        await record_call(session, make_call("c2", external="+79991112255"), pbx_id="main", settings=settings)
        twin_id = await session.scalar(select(CallActivity.lead_id).where(CallActivity.call_id == "c2"))

        await merge(session, people.admin, "lead", keep.id, [twin_id])

        assert [keep.id, keep.id] == list(
            await session.scalars(select(CallActivity.lead_id).order_by(CallActivity.id))
        )

    async def test_product_rows_move_to_the_kept_lead(self, session, people, leads):
        """
        The merged lead's product rows join the kept lead's.
        """
        keep = await leads.create(session, people.admin, LeadCreate(title="A"))
        twin = await leads.create(session, people.admin, LeadCreate(title="B"))
        await replace_rows(
            session, ("lead", keep.id), [RowIn(name="Box", quantity=Decimal(1), price=Decimal(10))]
        )
        await replace_rows(
            session, ("lead", twin.id), [RowIn(name="Bag", quantity=Decimal(2), price=Decimal(5))]
        )

        await merge(session, people.admin, "lead", keep.id, [twin.id])

        assert ["Box", "Bag"] == [row.name for row in await load_rows(session, ("lead", keep.id))]
