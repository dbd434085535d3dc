"""record_call: the call -> CRM rules of DESIGN §4, on SQLite and PostgreSQL."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select
from structlog.testing import capture_logs

from crm_core.calllog import CrmOutcome, attach_recording, record_call
from crm_core.errors import NotFound
from crm_core.models import CallActivity, Company, Contact, Lead, Phone, Recording, Task, User
from crm_core.seed import apply_seed
from cti.model import Direction, Disposition, Pickup, Transfer, TransferKind

from .factories import OWN_DID, SEED, count, make_call


@pytest.fixture(name="seeded")
async def _seeded(session):
    await apply_seed(session, SEED)
    await session.commit()
    return session


async def user_id(session, login: str) -> int:
    return await session.scalar(select(User.id).where(User.login == login))


async def call_row(session, call_id: str = "1700000000.1") -> CallActivity:
    return await session.scalar(select(CallActivity).where(CallActivity.call_id == call_id))


class TestUnknownNumber:
    async def test_inbound_creates_lead_with_phone_for_the_answerer(self, seeded, settings):
        """
        An unknown inbound caller becomes a NEW CALL lead owned by who answered, with the number.
        """
        outcome = await record_call(seeded, make_call(answered_by="102"), pbx_id="main", settings=settings)
        await seeded.commit()

        lead = await seeded.get(Lead, outcome.id)
        phone = await seeded.scalar(
            select(Phone).where(Phone.owner_type == "lead", Phone.owner_id == lead.id)
        )
        assert CrmOutcome(entity="lead", id=lead.id, created=True) == outcome
        assert ("Incoming call +79991112233", "CALL", "NEW") == (lead.title, lead.source, lead.status)
        assert await user_id(seeded, "petrov") == lead.responsible_id
        assert ("+79991112233", "+79991112233") == (phone.raw, phone.e164)
        row = await call_row(seeded)
        assert (lead.id, "lead", lead.id, True) == (
            row.lead_id,
            row.crm_entity,
            row.crm_entity_id,
            row.crm_created,
        )

    async def test_outbound_creates_outgoing_lead_for_the_caller(self, seeded, settings):
        """
        Calling out to an unknown number makes an "Outgoing call" lead owned by the extension that dialled.
        """
        call = make_call(
            direction=Direction.OUTBOUND,
            external="+79991112244",
            answered_by="+79991112244",
            extensions=("101",),
        )

        outcome = await record_call(seeded, call, pbx_id="main", settings=settings)

        lead = await seeded.get(Lead, outcome.id)
        assert "Outgoing call +79991112244" == lead.title
        assert await user_id(seeded, "ivanov") == lead.responsible_id
        assert 0 == await count(seeded, Task)

    async def test_missed_call_creates_lead_and_call_back_task(self, seeded, settings):
        """
        A missed inbound call from a new number: a lead and a "Call back" task, both for the default user.
        """
        call = make_call(disposition=Disposition.MISSED, extensions=("101", "102"))

        outcome = await record_call(seeded, call, pbx_id="main", settings=settings)

        admin = await user_id(seeded, "admin")
        lead = await seeded.get(Lead, outcome.id)
        task = await seeded.scalar(select(Task))
        row = await call_row(seeded)
        assert admin == lead.responsible_id
        assert ("Call back +79991112233", admin) == (task.title, task.responsible_id)
        assert (row.id, lead.id, False) == (task.call_pk, task.lead_id, task.done)
        assert task.due_at > call.ended_at

    @pytest.mark.parametrize("disposition", [Disposition.BUSY, Disposition.FAILED])
    async def test_an_inbound_call_that_reached_nobody_gets_a_call_back(self, seeded, settings, disposition):
        """
        Everyone busy, or every phone offline: the customer still waits for a call back.
        """
        call = make_call(disposition=disposition, extensions=("101",))

        await record_call(seeded, call, pbx_id="main", settings=settings)

        assert 1 == await count(seeded, Task)


class TestKnownNumber:
    async def test_contact_match_binds_contact_and_company_and_creates_nothing(self, seeded, settings):
        """
        "+79161234567" is the contact saved as "8 (916) 123-45-67": the call lands on the card, no lead.
        """
        leads_before = await count(seeded, Lead)

        outcome = await record_call(
            seeded, make_call(external="+79161234567"), pbx_id="main", settings=settings
        )

        contact = await seeded.scalar(select(Contact).where(Contact.name == "Anna Smirnova"))
        company = await seeded.scalar(select(Company).where(Company.title == "Romashka LLC"))
        row = await call_row(seeded)
        assert CrmOutcome(entity="contact", id=contact.id, created=False) == outcome
        assert (contact.id, company.id, None) == (row.contact_id, row.company_id, row.lead_id)
        assert leads_before == await count(seeded, Lead)
        assert await user_id(seeded, "ivanov") == row.responsible_id

    async def test_contact_match_binds_its_open_lead(self, seeded, settings):
        """
        A contact with an open lead on the same number: the call binds both.
        """
        await apply_seed(seeded, {"leads": [{"title": "Repeat request", "phones": ["+79161234567"]}]})
        lead_id = await seeded.scalar(select(Lead.id).where(Lead.title == "Repeat request"))

        outcome = await record_call(
            seeded, make_call(external="+79161234567"), pbx_id="main", settings=settings
        )

        row = await call_row(seeded)
        assert "contact" == outcome.entity
        assert lead_id == row.lead_id

    async def test_company_match(self, seeded, settings):
        """
        The company's number binds the call to the company.
        """
        outcome = await record_call(
            seeded, make_call(external="+74951112233"), pbx_id="main", settings=settings
        )

        company_id = await seeded.scalar(select(Company.id))
        assert CrmOutcome(entity="company", id=company_id, created=False) == outcome
        assert company_id == (await call_row(seeded)).company_id

    async def test_open_lead_match(self, seeded, settings):
        """
        An open lead's number binds the call to that lead, no new lead.
        """
        outcome = await record_call(
            seeded, make_call(external="+79035550011"), pbx_id="main", settings=settings
        )

        lead_id = await seeded.scalar(select(Lead.id).where(Lead.title == "Website request"))
        assert CrmOutcome(entity="lead", id=lead_id, created=False) == outcome

    async def test_converted_lead_does_not_match(self, seeded, settings):
        """
        A converted lead's number is unknown again: a fresh lead is created.
        """
        outcome = await record_call(
            seeded, make_call(external="+79035550022"), pbx_id="main", settings=settings
        )

        lead = await seeded.get(Lead, outcome.id)
        assert (True, "Incoming call +79035550022", "NEW") == (outcome.created, lead.title, lead.status)

    async def test_missed_call_from_contact_gets_task_for_the_contacts_owner(self, seeded, settings):
        """
        A known client's missed call: no lead, a call-back task for the card's responsible user.
        """
        call = make_call(external="+79161234567", disposition=Disposition.MISSED)

        outcome = await record_call(seeded, call, pbx_id="main", settings=settings)

        task = await seeded.scalar(select(Task))
        assert "contact" == outcome.entity
        assert (await user_id(seeded, "petrov"), outcome.id) == (task.responsible_id, task.contact_id)


class TestNoCrm:
    @pytest.mark.parametrize("number", [OWN_DID, "8 (495) 123-45-67"])
    async def test_own_number_is_none(self, seeded, settings, number):
        """
        A call from our own DID (settings or the seeded exclusion list) touches no card.
        """
        outcome = await record_call(
            seeded,
            make_call(external=number, disposition=Disposition.MISSED),
            pbx_id="main",
            settings=settings,
        )

        assert CrmOutcome(entity="none", id=None, created=False) == outcome
        assert (2, 0) == (await count(seeded, Lead), await count(seeded, Task))
        assert 1 == await count(seeded, CallActivity)

    async def test_internal_call_is_logged_without_lead(self, seeded, settings):
        """
        101 calling 102 is logged (owner: the caller) but never creates a lead or task.
        """
        call = make_call(
            direction=Direction.INTERNAL, external=None, answered_by="102", extensions=("101", "102")
        )

        outcome = await record_call(seeded, call, pbx_id="main", settings=settings)

        row = await call_row(seeded)
        assert CrmOutcome(entity="none", id=None, created=False) == outcome
        assert ("internal", ["101", "102"], await user_id(seeded, "petrov")) == (
            row.direction,
            row.extensions,
            row.responsible_id,
        )
        assert 2 == await count(seeded, Lead)

    async def test_unparsable_external_number_is_none(self, seeded, settings):
        """
        "anonymous" (hidden caller id) cannot be a lead: the call is logged with entity none.
        """
        outcome = await record_call(seeded, make_call(external="anonymous"), pbx_id="main", settings=settings)

        assert CrmOutcome(entity="none", id=None, created=False) == outcome
        assert "anonymous" == (await call_row(seeded)).external_number


class TestStoredCall:
    async def test_call_facts_are_stored(self, seeded, settings):
        """
        Pickups, transfers, conference, listeners, times and talk time land on the call row.
        """
        call = make_call(
            extensions=("101", "102", "103"),
            pickups=(Pickup(by="102", from_="101", code="*11"),),
            transfers=(Transfer(kind=TransferKind.ATTENDED, by="102", to="103"),),
            conference="800",
            listeners=("105",),
        )

        await record_call(seeded, call, pbx_id="main", settings=settings)
        await seeded.commit()

        row = await call_row(seeded)
        assert [{"by": "102", "from": "101", "code": "*11"}] == row.details["pickups"]
        assert [{"kind": "attended", "by": "102", "to": "103"}] == row.details["transfers"]
        assert ("800", ["105"]) == (row.details["conference"], row.details["listeners"])
        assert (call.started_at, call.answered_at, call.ended_at) == (
            row.started_at,
            row.answered_at,
            row.ended_at,
        )
        assert (60, "answered", "101", "+74951234567") == (
            row.talk_seconds,
            row.disposition,
            row.answered_by,
            row.did,
        )


class TestRecordings:
    async def test_recordings_are_attached(self, seeded, settings):
        """
        Each recording path of the call becomes one Recording row of the call.
        """
        call = make_call(recordings=("2026/11/27/a.wav", "2026/11/27/b.wav"))

        await record_call(seeded, call, pbx_id="main", settings=settings)

        paths = set(await seeded.scalars(select(Recording.path)))
        assert {"2026/11/27/a.wav", "2026/11/27/b.wav"} == paths

    async def test_late_recording_attaches_once(self, seeded, settings):
        """
        attach_recording adds a file that completed after the call, once.
        """
        await record_call(seeded, make_call(), pbx_id="main", settings=settings)

        first = await attach_recording(seeded, pbx_id="main", call_id="1700000000.1", path="late.wav")
        second = await attach_recording(seeded, pbx_id="main", call_id="1700000000.1", path="late.wav")

        assert (True, False) == (first, second)
        assert 1 == await count(seeded, Recording)

    async def test_recording_of_unknown_call_is_not_found(self, seeded):
        """
        A recording for a call not logged yet is refused with NotFound.
        """
        with pytest.raises(NotFound, match="main/nope"):
            await attach_recording(seeded, pbx_id="main", call_id="nope", path="x.wav")


class TestIdempotence:
    async def test_second_record_returns_same_outcome_and_adds_nothing(self, seeded, settings):
        """
        Replaying a call: the same card, created False, not one more row anywhere.
        """
        call = make_call(disposition=Disposition.MISSED, recordings=("a.wav",))
        first = await record_call(seeded, call, pbx_id="main", settings=settings)
        await seeded.commit()
        tables = (CallActivity, Lead, Phone, Task, Recording)
        before = [await count(seeded, t) for t in tables]

        second = await record_call(seeded, call, pbx_id="main", settings=settings)
        await seeded.commit()

        assert CrmOutcome(entity="lead", id=first.id, created=False) == second
        assert before == [await count(seeded, t) for t in tables]

    async def test_replay_adds_only_new_recordings(self, seeded, settings):
        """
        A replay with one more recording attaches that one and changes nothing else.
        """
        await record_call(seeded, make_call(recordings=("a.wav",)), pbx_id="main", settings=settings)

        await record_call(seeded, make_call(recordings=("a.wav", "b.wav")), pbx_id="main", settings=settings)

        assert ["a.wav", "b.wav"] == sorted(await seeded.scalars(select(Recording.path)))
        assert 3 == await count(seeded, Lead)

    async def test_same_call_id_on_another_pbx_is_another_call(self, seeded, settings):
        """
        Call ids are unique per PBX only.
        """
        await record_call(seeded, make_call(), pbx_id="main", settings=settings)
        await record_call(seeded, make_call(), pbx_id="branch", settings=settings)

        assert 2 == await count(seeded, CallActivity)

    async def test_racing_writers_make_one_row(self, seeded, sessionmaker, engine, settings):
        """
        Two sessions logging the same call at once: one call row, one lead; the loser reports the winner's.
        """
        call = make_call(recordings=("a.wav",))
        inserting = asyncio.Event()

        def on_execute(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("INSERT"):
                inserting.set()

        async with sessionmaker() as first, sessionmaker() as second:
            won = await record_call(first, call, pbx_id="main", settings=settings)  # flushed, not committed
            event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
            try:
                with capture_logs() as logs:
                    racer = asyncio.create_task(record_call(second, call, pbx_id="main", settings=settings))
                    await inserting.wait()  # the racer has seen no call row and is writing its own
                    await first.commit()
                    lost = await racer
                await second.commit()
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

        assert CrmOutcome(entity="lead", id=won.id, created=False) == lost
        assert "call_log_race_lost" in [entry["event"] for entry in logs]
        assert (1, 3, 1) == (
            await count(seeded, CallActivity),
            await count(seeded, Lead),
            await count(seeded, Recording),
        )
