"""The agent workspace's service functions on SQLite and PostgreSQL: card details, caller form, notes.

Calls are built by the real registry from cti events and logged by the real call -> CRM rules, so
the caller form and the call log meet exactly as they do in the running daemon.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from config.settings import CrmSettings
from crm_core.access import load_principal
from crm_core.calllog import record_call
from crm_core.models import (
    Activity,
    ActivityBinding,
    CallActivity,
    Contact,
    Deal,
    DealContact,
    Lead,
    Recording,
    Stage,
    User,
)
from crm_core.rights import Forbidden
from crm_core.seed import apply_seed
from cti.model import Disposition
from cti.registry import CallRegistry
from tests.crm_core.conftest import _blank_engine, _engine, _sessionmaker  # noqa: F401 (both backends)
from web.agent_calls import CallerForm, CallWorkRefused, add_note, call_backs, fill_caller, logged_call
from web.agent_card import card_details

from .fakes import OWN_DID, answered, ended, inbound, ringing

ANNA = "+79161234567"
NEW = "+79990001122"
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SETTINGS = CrmSettings(own_numbers=(OWN_DID,), default_responsible="ivanov")
SEED = {
    "users": [
        {"login": "ivanov", "name": "Ivan Ivanov", "extension": "101"},
        {"login": "petrov", "name": "Petr Petrov", "extension": "102"},
    ],
    "companies": [{"title": "Romashka LLC", "responsible": "ivanov"}],
    "contacts": [
        {
            "name": "Anna Smirnova",
            "phones": ["8 (916) 123-45-67"],
            "company": "Romashka LLC",
            "responsible": "ivanov",
        }
    ],
}


@pytest.fixture(name="crm")
async def _crm(sessionmaker):
    """The seeded CRM: user ids by login and Anna's contact id."""
    async with sessionmaker() as session:
        await apply_seed(session, SEED)
        await session.commit()
        users = {login: uid for login, uid in await session.execute(select(User.login, User.id))}
        anna = await session.scalar(select(Contact.id).where(Contact.name == "Anna Smirnova"))
    return {**users, "anna": anna}


def a_call(call_id: str, number: str, *, answered_by: str | None = "101", finished: bool = False):
    """The registry's Call after an inbound ring at 101 (answered, and ended when *finished*)."""
    registry = CallRegistry()
    registry.apply(inbound(call_id, number))
    call = registry.apply(ringing(call_id, "101"))
    if answered_by is not None:
        call = registry.apply(answered(call_id, answered_by))
    if finished:
        call = registry.apply(ended(call_id, Disposition.ANSWERED if answered_by else Disposition.MISSED))
    return call


class TestCardDetails:
    async def test_deals_calls_and_notes_through_the_agents_rights(self, sessionmaker, crm):
        """
        Ivanov's view of Anna: her open deal with its stage name, his call with the recording, the note.
        """
        async with sessionmaker() as session:
            stage = await session.scalar(select(Stage).order_by(Stage.pipeline_id, Stage.sort).limit(1))
            deal = Deal(
                title="Tea",
                pipeline_id=stage.pipeline_id,
                stage_id=stage.id,
                amount=Decimal("10.50"),
                responsible_id=crm["ivanov"],
            )
            session.add(deal)
            await session.flush()
            session.add(DealContact(deal_id=deal.id, contact_id=crm["anna"]))
            call = CallActivity(
                pbx_id="main",
                call_id="c1",
                direction="inbound",
                external_number=ANNA,
                started_at=AT,
                contact_id=crm["anna"],
                responsible_id=crm["ivanov"],
                recordings=[Recording(path="/spool/c1.wav")],
            )
            note = Activity(
                kind="note",
                subject="Hi",
                description="Call before 11",
                start_at=AT,
                responsible_id=crm["ivanov"],
                bindings=[ActivityBinding(owner_type="contact", owner_id=crm["anna"])],
            )
            session.add_all([call, note])
            await session.commit()
            principal = await load_principal(session, crm["ivanov"])

            card = await card_details(session, principal, "contact", crm["anna"], region="RU")

        assert ("Anna Smirnova", "Romashka LLC", "Ivan Ivanov") == (
            card["title"],
            card["company"],
            card["responsible"],
        )
        assert [("Tea", stage.name, "10.50")] == [
            (d["title"], d["stage"], d["amount"]) for d in card["deals"]
        ]
        assert [call.id] == [c["id"] for c in card["calls"]]
        assert 1 == len(card["calls"][0]["recordings"])
        assert ["Call before 11"] == [n["text"] for n in card["notes"]]

    async def test_another_departments_agent_is_forbidden(self, sessionmaker, crm):
        """
        Petrov shares no department with ivanov: Anna's card raises Forbidden.
        """
        async with sessionmaker() as session:
            principal = await load_principal(session, crm["petrov"])

            with pytest.raises(Forbidden):
                await card_details(session, principal, "contact", crm["anna"], region="RU")


class TestCallerFormMeetsTheCallLog:
    async def test_the_call_lands_on_the_lead_the_form_created(self, sessionmaker, crm):
        """
        The form makes the lead during the call; the call log then binds the call to it.
        """
        form = CallerForm(name="Oleg", company="Vektor", comment="Quote please")
        async with sessionmaker() as session:
            principal = await load_principal(session, crm["ivanov"])
            made = await fill_caller(
                session, principal, form, call=a_call("u1", NEW), row=None, settings=SETTINGS
            )
            await session.commit()
            outcome = await record_call(
                session, a_call("u1", NEW, finished=True), pbx_id="main", settings=SETTINGS
            )
            await session.commit()
            leads = list(await session.scalars(select(Lead)))

        assert ("lead", made["id"], False) == (outcome.entity, outcome.id, outcome.created)
        assert [("Oleg", "Vektor", "Quote please", crm["ivanov"])] == [
            (lead.name, lead.company_name, lead.comments, lead.responsible_id) for lead in leads
        ]

    async def test_after_logging_it_updates_the_calls_lead(self, sessionmaker, crm):
        """
        With the call logged (its lead made by the call log), the form fills that lead.
        """
        async with sessionmaker() as session:
            await record_call(session, a_call("u2", NEW, finished=True), pbx_id="main", settings=SETTINGS)
            await session.commit()
            row = await logged_call(session, "main", "u2")
            principal = await load_principal(session, crm["ivanov"])

            result = await fill_caller(
                session, principal, CallerForm("Oleg", "", "Monday"), call=None, row=row, settings=SETTINGS
            )
            await session.commit()
            lead = await session.get(Lead, row.lead_id)

        assert (False, "Oleg", "Monday") == (result["created"], lead.name, lead.comments)

    async def test_a_known_caller_is_refused(self, sessionmaker, crm):
        """
        Anna has a contact card: no lead is made for her.
        """
        async with sessionmaker() as session:
            principal = await load_principal(session, crm["ivanov"])

            with pytest.raises(CallWorkRefused) as refused:
                await fill_caller(
                    session,
                    principal,
                    CallerForm("A", "", ""),
                    call=a_call("k1", ANNA),
                    row=None,
                    settings=SETTINGS,
                )

        assert "caller-known" == refused.value.error_id


class TestNotesAndCallBacks:
    async def test_the_note_binds_to_the_calls_cards_and_the_call(self, sessionmaker, crm):
        """
        The after-call note lands on Anna and her company, pointing at the logged call.
        """
        async with sessionmaker() as session:
            await record_call(session, a_call("n1", ANNA, finished=True), pbx_id="main", settings=SETTINGS)
            await session.commit()
            row = await logged_call(session, "main", "n1")
            principal = await load_principal(session, crm["ivanov"])

            saved = await add_note(session, principal, row, "Will order on Friday")
            await session.commit()
            note = await session.get(Activity, saved["id"])

        assert ("note", row.id, "Will order on Friday") == (note.kind, note.call_pk, note.description)
        assert {("contact", crm["anna"]), ("company", row.company_id)} == {
            (b.owner_type, b.owner_id) for b in note.bindings
        }

    async def test_a_missed_call_is_on_the_responsibles_call_back_list(self, sessionmaker, crm):
        """
        Anna's missed call leaves ivanov (her responsible) a call-back with her number.
        """
        async with sessionmaker() as session:
            missed = a_call("m1", ANNA, answered_by=None, finished=True)
            await record_call(session, missed, pbx_id="main", settings=SETTINGS)
            await session.commit()

            mine = await call_backs(session, crm["ivanov"])
            theirs = await call_backs(session, crm["petrov"])

        assert [(ANNA, "missed", "contact", crm["anna"])] == [
            (i["number"], i["disposition"], i["card"]["entity"], i["card"]["id"]) for i in mine
        ]
        assert [] == theirs
