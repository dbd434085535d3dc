"""Activities bound to several cards, and each card's timeline (activities, calls, tasks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_core.calllog import record_call
from crm_core.cards.activities import ActivitiesResource
from crm_core.cards.errors import BadValue
from crm_core.cards.schemas import (
    ActivityCreate,
    ActivityUpdate,
    Binding,
    CompanyCreate,
    ContactCreate,
    LeadCreate,
    PhoneIn,
)
from crm_core.cards.timeline import timeline
from crm_core.crud import ListQuery
from crm_core.db import utc_now
from crm_core.errors import NotFound
from crm_core.models import Activity
from crm_core.rights import Forbidden
from cti.model import Disposition

from ..factories import make_call

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(name="activities")
def _activities() -> ActivitiesResource:
    return ActivitiesResource()


def meeting(*bindings: tuple[str, int], at: datetime = AT, subject: str = "Meeting") -> ActivityCreate:
    return ActivityCreate(
        kind="meeting",
        subject=subject,
        start_at=at,
        end_at=at + timedelta(hours=1),
        bindings=[Binding(owner_type=t, owner_id=i) for t, i in bindings],
    )


class TestActivities:
    async def test_one_activity_shows_on_every_bound_card(
        self, session, people, activities, contacts, companies
    ):
        """
        A meeting bound to a contact and a company is on both timelines.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))
        company = await companies.create(session, people.ivanov, CompanyCreate(title="Romashka"))

        out = await activities.create(
            session, people.ivanov, meeting(("contact", contact.id), ("company", company.id))
        )

        on_contact = await timeline(session, people.ivanov, "contact", contact.id)
        on_company = await timeline(session, people.ivanov, "company", company.id)
        assert [("activity", out.id)] == [(i.source, i.id) for i in on_contact]
        assert [("activity", out.id)] == [(i.source, i.id) for i in on_company]

    async def test_binding_a_card_the_user_cannot_read_is_refused(
        self, session, people, activities, contacts
    ):
        """
        Kozlov (another department) cannot attach a note to ivanov's contact.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))

        with pytest.raises(Forbidden):
            await activities.create(session, people.kozlov, meeting(("contact", contact.id)))

    async def test_binding_a_missing_card_is_not_found(self, session, people, activities):
        """
        A binding to a card that does not exist names it.
        """
        with pytest.raises(NotFound, match="lead 999"):
            await activities.create(session, people.admin, meeting(("lead", 999)))

    async def test_end_before_start_is_refused(self, session, people, activities, contacts):
        """
        A meeting cannot end before it starts.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))
        data = meeting(("contact", contact.id)).model_copy(update={"end_at": AT - timedelta(minutes=1)})

        with pytest.raises(BadValue, match="ends before it starts"):
            await activities.create(session, people.ivanov, data)

    async def test_update_replaces_the_bindings(self, session, people, activities, contacts, leads):
        """
        Sending bindings replaces the set: the activity leaves the contact and goes to the lead.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))
        lead = await leads.create(session, people.ivanov, LeadCreate(title="Request"))
        out = await activities.create(session, people.ivanov, meeting(("contact", contact.id)))

        out = await activities.update(
            session,
            people.ivanov,
            out.id,
            ActivityUpdate(bindings=[Binding(owner_type="lead", owner_id=lead.id)], completed=True),
        )

        assert ([Binding(owner_type="lead", owner_id=lead.id)], True) == (out.bindings, out.completed)
        assert [] == await timeline(session, people.ivanov, "contact", contact.id)

    async def test_list_by_owner(self, session, people, activities, contacts):
        """
        ``owner=contact:ID`` lists the activities of one card only.
        """
        anna = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))
        olga = await contacts.create(session, people.ivanov, ContactCreate(name="Olga"))
        await activities.create(session, people.ivanov, meeting(("contact", anna.id), subject="With Anna"))
        await activities.create(session, people.ivanov, meeting(("contact", olga.id), subject="With Olga"))

        page = await activities.list(
            session, people.ivanov, ListQuery(filters={"owner": f"contact:{olga.id}"})
        )

        assert ["With Olga"] == [a.subject for a in page.items]

    async def test_deleting_the_only_card_deletes_its_activities(self, session, people, activities, contacts):
        """
        An activity left bound to no card goes with the card.
        """
        contact = await contacts.create(session, people.admin, ContactCreate(name="Anna"))
        await activities.create(session, people.admin, meeting(("contact", contact.id)))

        await contacts.delete(session, people.admin, contact.id)

        assert None is await session.get(Activity, 1)


class TestTimeline:
    async def test_calls_tasks_and_activities_newest_first(
        self, session, people, activities, contacts, settings
    ):
        """
        A contact's timeline mixes a logged call with its recording, a missed call's task and a meeting.
        """
        contact = await contacts.create(
            session, people.admin, ContactCreate(name="Anna", phones=[PhoneIn(value="+79991112233")])
        )
        day_ago = utc_now() - timedelta(days=1)  # the task is dated by the clock: calls come before it
        first = make_call(
            "c1",
            recordings=("/spool/c1.wav",),
            started_at=day_ago,
            answered_at=day_ago + timedelta(seconds=5),
            ended_at=day_ago + timedelta(seconds=65),
        )
        missed = make_call(
            "c2",
            disposition=Disposition.MISSED,
            started_at=day_ago + timedelta(hours=1),
            ended_at=day_ago + timedelta(hours=1, seconds=30),
        )
        await record_call(session, first, pbx_id="main", settings=settings)
        await record_call(session, missed, pbx_id="main", settings=settings)
        await activities.create(
            session, people.admin, meeting(("contact", contact.id), at=utc_now() + timedelta(days=1))
        )

        items = await timeline(session, people.admin, "contact", contact.id)

        assert ["activity", "task", "call", "call"] == [i.source for i in items]
        assert 1 == len(items[-1].details["recording_ids"])
        assert "missed" == items[2].details["disposition"]

    async def test_agent_sees_only_own_calls_on_a_shared_card(self, session, people, contacts, settings):
        """
        Calls follow the call rights: petrov reads ivanov's contact but not the call ivanov answered.
        """
        contact = await contacts.create(
            session, people.ivanov, ContactCreate(name="Anna", phones=[PhoneIn(value="+79991112233")])
        )
        await record_call(session, make_call("c1", answered_by="101"), pbx_id="main", settings=settings)

        mine = await timeline(session, people.ivanov, "contact", contact.id)
        theirs = await timeline(session, people.petrov, "contact", contact.id)

        assert (["call"], []) == ([i.source for i in mine], [i.source for i in theirs])

    async def test_paging(self, session, people, activities, contacts):
        """
        offset/limit page through the merged history.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))
        for day in range(5):
            await activities.create(
                session,
                people.ivanov,
                meeting(("contact", contact.id), at=AT + timedelta(days=day), subject=f"d{day}"),
            )

        page = await timeline(session, people.ivanov, "contact", contact.id, offset=1, limit=2)

        assert ["d3", "d2"] == [i.subject for i in page]

    async def test_unreadable_card_is_forbidden(self, session, people, contacts):
        """
        Another department's agent cannot read the timeline.
        """
        contact = await contacts.create(session, people.ivanov, ContactCreate(name="Anna"))

        with pytest.raises(Forbidden):
            await timeline(session, people.kozlov, "contact", contact.id)
