"""Pipelines: the seeded default, custom stage lists, their layout rules, editing and deleting."""

from __future__ import annotations

import pytest

from crm_core.crud import ListQuery
from crm_core.rights import SYSTEM, Forbidden
from crm_core.sales.deals import create_deal
from crm_core.sales.errors import BadValue, InUse
from crm_core.sales.pipelines import PipelinesResource
from crm_core.sales.schemas import DealCreate, PipelineCreate, PipelineUpdate, StageIn

pipelines = PipelinesResource()

SHORT = [
    StageIn(code="LEAD_IN", name="Lead in", probability=10),
    StageIn(code="PROPOSAL", name="Proposal", probability=50),
    StageIn(code="CLOSED_WON", name="Won", semantic="success", probability=100),
    StageIn(code="CLOSED_LOST", name="Lost", semantic="failure"),
]


class TestDefault:
    async def test_seeded_like_bitrix24(self, session, people):
        """
        The migration seeds one default pipeline with Bitrix24's stages, semantics and probabilities.
        """
        page = await pipelines.list(session, people.ivanov, ListQuery())

        (default,) = page.items
        assert default.is_default
        assert [
            ("NEW", "process", 10),
            ("PREPARATION", "process", 20),
            ("PREPAYMENT_INVOICE", "process", 40),
            ("EXECUTING", "process", 60),
            ("FINAL_INVOICE", "process", 80),
            ("WON", "success", 100),
            ("LOSE", "failure", 0),
        ] == [(s.code, s.semantic, s.probability) for s in default.stages]


class TestLayout:
    async def test_custom_stages_in_order(self, session):
        """
        A pipeline takes the stages given, in that order.
        """
        made = await pipelines.create(session, SYSTEM, PipelineCreate(name="Short", stages=SHORT))

        assert ["LEAD_IN", "PROPOSAL", "CLOSED_WON", "CLOSED_LOST"] == [s.code for s in made.stages]
        assert not made.is_default

    @pytest.mark.parametrize(
        ("stages", "message"),
        [
            ([SHORT[0], SHORT[2]], "at least one failure stage"),
            ([SHORT[0], SHORT[3]], "exactly one success stage"),
            ([SHORT[2], SHORT[3]], "at least one in-progress stage"),
            ([SHORT[0], SHORT[3], SHORT[2]], "in-progress stages first"),
            ([SHORT[0], SHORT[0], SHORT[2], SHORT[3]], "used twice"),
        ],
    )
    async def test_bad_layouts_are_refused(self, session, stages, message):
        """
        In-progress stages, then one success stage, then failure stages, with unique codes.
        """
        with pytest.raises(BadValue, match=message):
            await pipelines.create(session, SYSTEM, PipelineCreate(name="Bad", stages=stages))

    async def test_new_default_replaces_the_old(self, session, people):
        """
        Making a pipeline the default takes it from the previous one; new deals go there.
        """
        made = await pipelines.create(
            session, SYSTEM, PipelineCreate(name="Short", stages=SHORT, is_default=True)
        )

        deal = await create_deal(session, people.ivanov, DealCreate(title="Net"))
        page = await pipelines.list(session, SYSTEM, ListQuery(filters={"is_default": "true"}))
        assert [made.id] == [p.id for p in page.items]
        assert (made.id, "LEAD_IN") == (deal.pipeline_id, deal.stage_code)


class TestEditing:
    async def test_rename_add_and_drop_unused_stages(self, session):
        """
        Stages named by id are kept and edited, new ones added, unused ones dropped; bits are reused.
        """
        made = await pipelines.create(session, SYSTEM, PipelineCreate(name="Short", stages=SHORT))
        lead_in, proposal, won, lost = made.stages
        wanted = [
            StageIn(id=lead_in.id, code="LEAD_IN", name="Incoming", probability=5),
            StageIn(code="DEMO", name="Demo", probability=30),
            StageIn(id=won.id, code="CLOSED_WON", name="Won", semantic="success", probability=100),
            StageIn(id=lost.id, code="CLOSED_LOST", name="Lost", semantic="failure"),
        ]

        changed = await pipelines.update(session, SYSTEM, made.id, PipelineUpdate(stages=wanted))

        assert [("LEAD_IN", "Incoming", 5), ("DEMO", "Demo", 30), ("CLOSED_WON", "Won", 100)] == [
            (s.code, s.name, s.probability) for s in changed.stages[:3]
        ]
        assert lead_in.id == changed.stages[0].id
        assert proposal.id not in {s.id for s in changed.stages}

    async def test_codes_may_move_between_stages(self, session):
        """
        Swapping two stages' codes, or giving a new stage the code of a renamed one, just works.
        """
        made = await pipelines.create(session, SYSTEM, PipelineCreate(name="Short", stages=SHORT))
        lead_in, proposal, won, lost = made.stages
        wanted = [
            StageIn(id=proposal.id, code="LEAD_IN", name="Lead in"),
            StageIn(id=lead_in.id, code="PROPOSAL", name="Proposal"),
            StageIn(id=won.id, code="WON", name="Won", semantic="success"),
            StageIn(code="CLOSED_WON", name="Lost, retry later", semantic="failure"),
            StageIn(id=lost.id, code="CLOSED_LOST", name="Lost", semantic="failure"),
        ]

        changed = await pipelines.update(session, SYSTEM, made.id, PipelineUpdate(stages=wanted))

        assert [
            (proposal.id, "LEAD_IN"),
            (lead_in.id, "PROPOSAL"),
            (won.id, "WON"),
            (changed.stages[3].id, "CLOSED_WON"),
            (lost.id, "CLOSED_LOST"),
        ] == [(s.id, s.code) for s in changed.stages]

    async def test_stage_with_deals_is_not_deleted(self, session, people):
        """
        A stage any deal has been in stays (the history and the funnel need it).
        """
        made = await pipelines.create(session, SYSTEM, PipelineCreate(name="Short", stages=SHORT))
        await create_deal(session, people.ivanov, DealCreate(title="Net", stage_id=made.stages[1].id))
        keep = [StageIn(id=s.id, code=s.code, name=s.name, semantic=s.semantic) for s in made.stages]

        with pytest.raises(InUse, match="stage PROPOSAL"):
            await pipelines.update(
                session, SYSTEM, made.id, PipelineUpdate(stages=[keep[0], keep[2], keep[3]])
            )

    async def test_meaning_of_a_stage_with_deals_is_fixed(self, session, people):
        """
        A stage deals are in now cannot turn from in-progress into success under them.
        """
        made = await pipelines.create(session, SYSTEM, PipelineCreate(name="Short", stages=SHORT))
        await create_deal(session, people.ivanov, DealCreate(title="Net", stage_id=made.stages[1].id))
        lead_in, proposal, _won, lost = made.stages
        wanted = [
            StageIn(id=lead_in.id, code="LEAD_IN", name="Lead in"),
            StageIn(id=proposal.id, code="PROPOSAL", name="Proposal", semantic="success"),
            StageIn(id=lost.id, code="CLOSED_LOST", name="Lost", semantic="failure"),
        ]

        with pytest.raises(InUse, match="meaning of stage PROPOSAL"):
            await pipelines.update(session, SYSTEM, made.id, PipelineUpdate(stages=wanted))

    async def test_delete_only_unused_non_default(self, session, people):
        """
        The default pipeline and pipelines with deals stay; an unused one is deleted with its stages.
        """
        default = (await pipelines.list(session, SYSTEM, ListQuery(filters={"is_default": "true"}))).items[0]
        used = await pipelines.create(session, SYSTEM, PipelineCreate(name="Used", stages=SHORT))
        await create_deal(session, people.ivanov, DealCreate(title="Net", stage_id=used.stages[0].id))
        unused = await pipelines.create(session, SYSTEM, PipelineCreate(name="Unused", stages=SHORT))

        with pytest.raises(InUse, match="default"):
            await pipelines.delete(session, SYSTEM, default.id)
        with pytest.raises(InUse, match="deals"):
            await pipelines.delete(session, SYSTEM, used.id)
        await pipelines.delete(session, SYSTEM, unused.id)

        remaining = await pipelines.list(session, SYSTEM, ListQuery(sort=("id",)))
        assert [default.id, used.id] == [p.id for p in remaining.items]


class TestRights:
    async def test_everyone_with_deals_reads_only_admins_change(self, session, people):
        """
        Agents and supervisors read pipelines; changing them takes the all-level deal update right.
        """
        for who in (people.ivanov, people.boss):
            assert 1 == (await pipelines.list(session, who, ListQuery())).total
            with pytest.raises(Forbidden):
                await pipelines.create(session, who, PipelineCreate(name="Mine"))
        made = await pipelines.create(session, people.admin, PipelineCreate(name="Admin's"))
        assert 7 == len(made.stages)
