"""Deals: amount from rows unless typed, loss reasons, stage history, contacts, rights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from crm_core.cards.activities import ActivitiesResource
from crm_core.cards.schemas import ActivityCreate, Binding
from crm_core.cards.timeline import timeline
from crm_core.crud import ListQuery
from crm_core.errors import NotFound
from crm_core.models import Activity, Contact, Deal, DealStageHistory
from crm_core.rights import SYSTEM, Forbidden
from crm_core.sales import rows
from crm_core.sales.deals import (
    DealsResource,
    create_deal,
    delete_deal,
    get_deal,
    move_deal,
    stage_history,
    update_deal,
)
from crm_core.sales.errors import BadValue, LossReasonRequired
from crm_core.sales.pipelines import PipelinesResource
from crm_core.sales.schemas import DealCreate, DealUpdate, PipelineCreate, RowIn

from .builders import MIXED_TOTAL, mixed_rows

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _meeting(subject: str, *bindings: tuple[str, int]) -> ActivityCreate:
    return ActivityCreate(
        kind="meeting",
        subject=subject,
        start_at=T0,
        bindings=[Binding(owner_type=t, owner_id=i) for t, i in bindings],
    )


class TestAmount:
    async def test_follows_the_rows(self, session, people, router):
        """
        Without a typed amount, the deal's amount is its rows' total and follows every change of rows.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net", rows=mixed_rows(router.id)))
        assert (MIXED_TOTAL, False) == (deal.amount, deal.amount_manual)

        changed = await update_deal(
            session, people.ivanov, deal.id, DealUpdate(rows=[RowIn(name="Audit", price=D("150.00"))])
        )

        assert D("150.00") == changed.amount

    async def test_typed_amount_wins_over_rows(self, session, people, router):
        """
        An amount set by hand stays when the rows change.
        """
        deal = await create_deal(
            session, people.ivanov, DealCreate(title="Net", amount=D("5000.00"), rows=mixed_rows(router.id))
        )
        changed = await update_deal(
            session, people.ivanov, deal.id, DealUpdate(rows=[RowIn(name="Audit", price=D("150.00"))])
        )

        assert (D("5000.00"), True) == (changed.amount, changed.amount_manual)

    async def test_null_amount_goes_back_to_the_rows(self, session, people, router):
        """
        Sending amount=null turns the typed amount off: the rows' total again.
        """
        deal = await create_deal(
            session, people.ivanov, DealCreate(title="Net", amount=D("5000.00"), rows=mixed_rows(router.id))
        )

        changed = await update_deal(session, people.ivanov, deal.id, DealUpdate(amount=None))

        assert (MIXED_TOTAL, False) == (changed.amount, changed.amount_manual)

    async def test_currency_change_needs_new_rows(self, session, people, router):
        """
        The rows are priced in the deal's currency; changing it alone would relabel the money.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net", rows=mixed_rows(router.id)))

        with pytest.raises(BadValue, match="send the rows in USD"):
            await update_deal(session, people.ivanov, deal.id, DealUpdate(currency="USD"))
        changed = await update_deal(
            session,
            people.ivanov,
            deal.id,
            DealUpdate(currency="USD", rows=[RowIn(name="Audit", price=D("15.00"))]),
        )
        assert ("USD", D("15.00")) == (changed.currency, changed.amount)


class TestStages:
    async def test_new_deal_starts_in_the_default_pipelines_first_stage(self, session, people, stages):
        """
        A deal created without a stage is NEW in the default pipeline, open.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))

        assert (stages["NEW"].id, "NEW", False) == (deal.stage_id, deal.stage_code, deal.closed)

    async def test_failure_without_loss_reason_is_refused(self, session, people, stages):
        """
        Moving a deal to LOSE without saying why is refused, and the deal stays where it was.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))

        for reason in (None, "", "   "):
            with pytest.raises(LossReasonRequired) as caught:
                await move_deal(session, people.ivanov, deal.id, stages["LOSE"].id, loss_reason=reason)
            assert "loss-reason-required" == caught.value.error_id

        assert stages["NEW"].id == (await session.get(Deal, deal.id)).stage_id

    async def test_failure_with_loss_reason_closes_the_deal(self, session, people, stages):
        """
        With a reason the deal is lost: closed, the reason kept on the deal and in its history.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"), at=T0)
        t1 = T0 + timedelta(hours=2)

        lost = await move_deal(
            session, people.ivanov, deal.id, stages["LOSE"].id, loss_reason="Too expensive", at=t1
        )

        assert (True, t1, "Too expensive") == (lost.closed, lost.closed_at, lost.loss_reason)
        history = await stage_history(session, people.ivanov, deal.id)
        assert [None, "Too expensive"] == [h.loss_reason for h in history]

    async def test_cannot_clear_the_reason_of_a_lost_deal(self, session, people, stages):
        """
        A lost deal keeps a loss reason: an empty one is refused.
        """
        deal = await create_deal(
            session,
            people.ivanov,
            DealCreate(title="Net", stage_id=stages["LOSE"].id, loss_reason="No budget"),
        )

        with pytest.raises(LossReasonRequired):
            await update_deal(session, people.ivanov, deal.id, DealUpdate(loss_reason=""))

    async def test_history_records_every_stay(self, session, people, stages):
        """
        Each move closes the open stay and opens one, with times, who moved it and the responsible.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"), at=T0)
        t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=3)
        await move_deal(session, people.ivanov, deal.id, stages["EXECUTING"].id, at=t1)
        await move_deal(session, people.boss, deal.id, stages["WON"].id, at=t2)

        history = await stage_history(session, people.ivanov, deal.id)

        ivanov, boss = people.ivanov.user_id, people.boss.user_id
        assert [
            (stages["NEW"].id, T0, t1, ivanov, ivanov),
            (stages["EXECUTING"].id, t1, t2, ivanov, ivanov),
            (stages["WON"].id, t2, None, ivanov, boss),
        ] == [(h.stage_id, h.entered_at, h.left_at, h.responsible_id, h.changed_by_id) for h in history]

    async def test_won_then_reopened(self, session, people, stages):
        """
        A won deal is closed; moving it back to an in-progress stage reopens it.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net", stage_id=stages["WON"].id))
        assert deal.closed

        reopened = await move_deal(session, people.ivanov, deal.id, stages["EXECUTING"].id)

        assert (False, None) == (reopened.closed, reopened.closed_at)

    async def test_same_stage_writes_no_history(self, session, people, stages):
        """
        Saving a deal without changing its stage adds nothing to the history.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))

        await update_deal(
            session, people.ivanov, deal.id, DealUpdate(stage_id=stages["NEW"].id, title="Net 2")
        )

        assert 1 == len(await stage_history(session, people.ivanov, deal.id))

    async def test_stage_of_another_pipeline_moves_the_deal_there(self, session, people, stages):
        """
        A stage of another pipeline moves the deal to that pipeline; its passed stages start again there.
        """
        other = await PipelinesResource().create(session, SYSTEM, PipelineCreate(name="Projects"))
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))
        await move_deal(session, people.ivanov, deal.id, stages["EXECUTING"].id)

        moved = await move_deal(session, people.ivanov, deal.id, other.stages[1].id)

        stored = await session.get(Deal, deal.id)
        assert (other.id, 1 << 1) == (moved.pipeline_id, stored.passed_mask)

    async def test_passed_mask_follows_the_history(self, session, people, stages):
        """
        The mask has exactly the bits of the stages in the history (what the funnel counts on).
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))
        for code in ("PREPARATION", "FINAL_INVOICE", "EXECUTING"):
            await move_deal(session, people.ivanov, deal.id, stages[code].id)

        stored = await session.get(Deal, deal.id)
        visited = await session.scalars(
            select(DealStageHistory.stage_id).where(DealStageHistory.deal_id == deal.id)
        )
        bits = {stage.id: stage.bit for stage in stages.values()}
        assert sum(1 << bits[stage_id] for stage_id in set(visited)) == stored.passed_mask


class TestLinks:
    async def test_contacts_company_and_source_lead(self, session, people, client_cards):
        """
        A deal keeps its company and contacts in the given order (the first is the main contact).
        """
        anna, boris = client_cards.contact_ids
        deal = await create_deal(
            session,
            people.ivanov,
            DealCreate(title="Net", company_id=client_cards.company_id, contact_ids=[boris, anna]),
        )
        assert (client_cards.company_id, [boris, anna]) == (deal.company_id, deal.contact_ids)

        changed = await update_deal(session, people.ivanov, deal.id, DealUpdate(contact_ids=[anna]))

        assert [anna] == changed.contact_ids

    async def test_unknown_contact_is_not_found(self, session, people):
        """
        A contact id that does not exist is reported, not silently dropped.
        """
        with pytest.raises(NotFound, match="contact"):
            await create_deal(session, people.ivanov, DealCreate(title="Net", contact_ids=[99999]))

    async def test_delete_removes_rows_and_history(self, session, people, router):
        """
        Deleting a deal deletes its rows and its history with it.
        """
        deal = await create_deal(session, people.admin, DealCreate(title="Net", rows=mixed_rows(router.id)))

        await delete_deal(session, people.admin, deal.id)

        assert [] == await rows.load_rows(session, ("deal", deal.id))
        assert [] == list(
            await session.scalars(select(DealStageHistory).where(DealStageHistory.deal_id == deal.id))
        )

    async def test_delete_removes_its_activities_but_not_shared_ones(self, session, people):
        """
        A call note bound to the deal only goes with it; a meeting bound to the deal and a contact
        stays on the contact without the deal. A new deal given the same id starts with a blank history.
        """
        anna = Contact(name="Anna Smirnova")
        session.add(anna)
        await session.flush()
        deal = await create_deal(session, people.admin, DealCreate(title="Net"))
        activities = ActivitiesResource()
        only = await activities.create(session, people.admin, _meeting("Deal only", ("deal", deal.id)))
        shared = await activities.create(
            session, people.admin, _meeting("Shared", ("deal", deal.id), ("contact", anna.id))
        )
        await session.commit()

        await delete_deal(session, people.admin, deal.id)
        await session.commit()

        assert None is await session.get(Activity, only.id)
        kept = await activities.get(session, people.admin, shared.id)
        assert [Binding(owner_type="contact", owner_id=anna.id)] == kept.bindings
        assert ["Shared"] == [i.subject for i in await timeline(session, people.admin, "contact", anna.id)]
        session.add(Deal(id=deal.id, title="Reborn", pipeline_id=deal.pipeline_id, stage_id=deal.stage_id))
        await session.flush()
        assert [] == await timeline(session, people.admin, "deal", deal.id)


class TestRights:
    async def test_agent_creates_only_own_deals(self, session, people):
        """
        An agent may add deals for themselves but not for a colleague.
        """
        own = await create_deal(session, people.ivanov, DealCreate(title="Mine"))
        assert people.ivanov.user_id == own.responsible_id

        with pytest.raises(Forbidden):
            await create_deal(
                session, people.ivanov, DealCreate(title="His", responsible_id=people.petrov.user_id)
            )

    async def test_agent_reads_the_department_but_updates_only_own(self, session, people):
        """
        Ivanov reads Petrov's deal (same department) but may not change it; Kozlov may not even read it.
        """
        deal = await create_deal(session, people.petrov, DealCreate(title="Petrov's"))

        assert "Petrov's" == (await get_deal(session, people.ivanov, deal.id)).title
        with pytest.raises(Forbidden):
            await update_deal(session, people.ivanov, deal.id, DealUpdate(title="Mine now"))
        with pytest.raises(Forbidden):
            await get_deal(session, people.kozlov, deal.id)

    async def test_agent_cannot_delete(self, session, people):
        """
        Agents never delete deals, not even their own; a supervisor deletes in the department.
        """
        deal = await create_deal(session, people.ivanov, DealCreate(title="Mine"))

        with pytest.raises(Forbidden):
            await delete_deal(session, people.ivanov, deal.id)
        await delete_deal(session, people.boss, deal.id)

    async def test_list_shows_only_visible_deals(self, session, people):
        """
        The list holds the deals the user may read: Kozlov sees his only, Ivanov his department's.
        """
        for who, title in ((people.ivanov, "I"), (people.petrov, "P"), (people.kozlov, "K")):
            await create_deal(session, who, DealCreate(title=title))
        resource = DealsResource()

        ivanov_sees = await resource.list(session, people.ivanov, ListQuery(sort=("title",)))
        kozlov_sees = await resource.list(session, people.kozlov, ListQuery())

        assert (["I", "P"], 2) == ([d.title for d in ivanov_sees.items], ivanov_sees.total)
        assert ["K"] == [d.title for d in kozlov_sees.items]

    async def test_list_filters_and_sorts(self, session, people, stages):
        """
        Filters and sort of the generic list query apply to deals (amount, stage).
        """
        for title, amount in (("A", "10.00"), ("B", "250.50"), ("C", "99.99")):
            await create_deal(session, people.admin, DealCreate(title=title, amount=D(amount)))

        page = await DealsResource().list(
            session,
            people.admin,
            ListQuery(filters={"amount__gt": "50", "stage_id": str(stages["NEW"].id)}, sort=("-amount",)),
        )

        assert [("B", D("250.50")), ("C", D("99.99"))] == [(d.title, d.amount) for d in page.items]
