"""The lead status and source dictionaries: editable, with the codes behaviour depends on protected."""

from __future__ import annotations

import pytest

from crm_core.calllog import record_call
from crm_core.cards.dictionaries import LeadSourcesResource, LeadStatusesResource
from crm_core.cards.errors import BadValue, InUse
from crm_core.cards.schemas import (
    LeadCreate,
    LeadSourceCreate,
    LeadStatusCreate,
    LeadStatusUpdate,
    LeadUpdate,
    PhoneIn,
)
from crm_core.crud import ListQuery
from crm_core.lookup import find_card
from crm_core.rights import Forbidden

from ..factories import make_call


@pytest.fixture(name="statuses")
def _statuses() -> LeadStatusesResource:
    return LeadStatusesResource()


@pytest.fixture(name="sources")
def _sources() -> LeadSourcesResource:
    return LeadSourcesResource()


async def status_id(session, statuses, principal, code: str) -> int:
    page = await statuses.list(session, principal, ListQuery(filters={"code": code}))
    return page.items[0].id


class TestStatuses:
    async def test_built_in_statuses_in_order_with_semantics(self, session, people, statuses):
        """
        A fresh install has Bitrix24's five statuses; CONVERTED is the success, JUNK the failure.
        """
        page = await statuses.list(session, people.ivanov, ListQuery())

        assert [
            ("NEW", "process"),
            ("IN_PROCESS", "process"),
            ("PROCESSED", "process"),
            ("CONVERTED", "success"),
            ("JUNK", "failure"),
        ] == [(s.code, s.semantic) for s in page.items]

    async def test_admin_adds_a_failure_status_that_closes_leads(
        self, session, people, statuses, leads, settings
    ):
        """
        A new "SPAM" failure status closes a lead: its number then makes a new lead instead of binding.
        """
        await statuses.create(
            session, people.admin, LeadStatusCreate(code="SPAM", name="Spam", semantic="failure")
        )
        lead = await leads.create(
            session, people.admin, LeadCreate(title="x", phones=[PhoneIn(value="+79991112233")])
        )
        await leads.update(session, people.admin, lead.id, LeadUpdate(status="SPAM"))

        outcome = await record_call(session, make_call("c1"), pbx_id="main", settings=settings)

        assert None is await find_card(session, "+79991112244", region="RU")
        assert (True, "lead") == (outcome.created, outcome.entity)
        assert lead.id != outcome.id

    async def test_agents_may_read_but_not_edit(self, session, people, statuses):
        """
        Dictionaries are CRM settings: an agent cannot add a status.
        """
        with pytest.raises(Forbidden):
            await statuses.create(session, people.ivanov, LeadStatusCreate(code="HOT", name="Hot"))

    async def test_duplicate_code_is_refused(self, session, people, statuses):
        """
        Codes are unique.
        """
        with pytest.raises(BadValue, match="'NEW' already exists"):
            await statuses.create(session, people.admin, LeadStatusCreate(code="NEW", name="Again"))

    async def test_status_in_use_cannot_be_removed(self, session, people, statuses, leads):
        """
        Removing a status that a lead still has says how many leads use it.
        """
        await leads.create(session, people.admin, LeadCreate(title="x", status="IN_PROCESS"))

        with pytest.raises(InUse, match="1 lead"):
            await statuses.delete(
                session, people.admin, await status_id(session, statuses, people.admin, "IN_PROCESS")
            )

    @pytest.mark.parametrize(("code", "why"), [("NEW", "call logging"), ("CONVERTED", "conversion")])
    async def test_statuses_behaviour_needs_stay(self, session, people, statuses, code, why):
        """
        NEW (call logging's) and the success status cannot be removed.
        """
        with pytest.raises(InUse, match=why):
            await statuses.delete(
                session, people.admin, await status_id(session, statuses, people.admin, code)
            )

    async def test_new_stays_open(self, session, people, statuses):
        """
        NEW cannot become a failure status: leads from calls must stay open.
        """
        new_id = await status_id(session, statuses, people.admin, "NEW")

        with pytest.raises(BadValue, match="stays open"):
            await statuses.update(session, people.admin, new_id, LeadStatusUpdate(semantic="failure"))

    async def test_rename_and_remove_an_unused_status(self, session, people, statuses):
        """
        Names are free to edit, and an unused status can go.
        """
        processed = await status_id(session, statuses, people.admin, "PROCESSED")

        renamed = await statuses.update(session, people.admin, processed, LeadStatusUpdate(name="Qualified"))
        await statuses.delete(session, people.admin, processed)

        assert "Qualified" == renamed.name
        assert (
            0 == (await statuses.list(session, people.admin, ListQuery(filters={"code": "PROCESSED"}))).total
        )


class TestSources:
    async def test_new_source_is_usable_by_leads(self, session, people, sources, leads):
        """
        A source added to the dictionary is accepted on a lead.
        """
        await sources.create(session, people.admin, LeadSourceCreate(code="PARTNER", name="Partner"))

        lead = await leads.create(session, people.ivanov, LeadCreate(title="x", source="PARTNER"))

        assert "PARTNER" == lead.source

    async def test_call_source_is_protected(self, session, people, sources):
        """
        CALL cannot go: call logging files leads with it.
        """
        page = await sources.list(session, people.admin, ListQuery(filters={"code": "CALL"}))

        with pytest.raises(InUse, match="call logging"):
            await sources.delete(session, people.admin, page.items[0].id)
