"""The agent workspace's JSON: the card in depth, the unknown caller's form, notes, call-backs.

The real app with the FakePbx feeding its bus and the real CRM writer logging calls into a migrated,
seeded SQLite (see conftest); every request carries a session cookie and the CSRF token.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.models import (
    Activity,
    ActivityBinding,
    CallActivity,
    Contact,
    Deal,
    DealContact,
    Lead,
    Phone,
    Recording,
    Stage,
    Task,
    User,
)
from cti.model import Disposition
from web import keys

from .browser import Browser
from .conftest import KNOWN_CALLER, UNKNOWN_CALLER
from .fakes import answered, ended, inbound, internal, ringing
from .test_crm_wiring import written

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


async def live(app, call_id: str) -> None:
    """Wait until the registry holds the call the FakePbx announced."""
    for _ in range(500):
        if app[keys.REGISTRY].get(call_id) is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"call {call_id} never became live")


@pytest.fixture(name="ivanov")
def _ivanov(client, template) -> Browser:
    return Browser(client, template.users["ivanov"])


@pytest.fixture(name="petrov")
def _petrov(client, template) -> Browser:
    return Browser(client, template.users["petrov"])


@pytest.fixture(name="history")
async def _history(app, template):
    """Anna's card (petrov's): an open and a closed deal, petrov's and ivanov's calls, a note."""
    users, contact_id = template.users, template.contact_id
    async with app[keys.DB]() as session:
        stage = await session.scalar(select(Stage).order_by(Stage.pipeline_id, Stage.sort).limit(1))
        open_deal = Deal(
            title="Chamomile tea, 40 boxes",
            pipeline_id=stage.pipeline_id,
            stage_id=stage.id,
            amount=Decimal("125000.50"),
            responsible_id=users["petrov"],
        )
        closed_deal = Deal(
            title="Old order",
            pipeline_id=stage.pipeline_id,
            stage_id=stage.id,
            responsible_id=users["petrov"],
            closed=True,
        )
        session.add_all([open_deal, closed_deal])
        await session.flush()
        session.add_all(
            [
                DealContact(deal_id=open_deal.id, contact_id=contact_id),
                DealContact(deal_id=closed_deal.id, contact_id=contact_id),
            ]
        )
        petrovs_call = CallActivity(
            pbx_id="main",
            call_id="old-1",
            direction="inbound",
            external_number=KNOWN_CALLER,
            answered_by="102",
            disposition="answered",
            started_at=AT,
            talk_seconds=42,
            contact_id=contact_id,
            responsible_id=users["petrov"],
            crm_entity="contact",
            crm_entity_id=contact_id,
            recordings=[Recording(path="/spool/old-1.wav", status="pending")],
        )
        ivanovs_call = CallActivity(
            pbx_id="main",
            call_id="old-2",
            direction="inbound",
            external_number=KNOWN_CALLER,
            started_at=AT,
            contact_id=contact_id,
            responsible_id=users["ivanov"],
            crm_entity="contact",
            crm_entity_id=contact_id,
        )
        note = Activity(
            kind="note",
            subject="Prefers mornings",
            description="Prefers mornings, call before 11",
            start_at=AT,
            completed=True,
            responsible_id=users["petrov"],
            bindings=[ActivityBinding(owner_type="contact", owner_id=contact_id)],
        )
        session.add_all([petrovs_call, ivanovs_call, note])
        await session.commit()
        recording_id = await session.scalar(select(Recording.id).where(Recording.call_pk == petrovs_call.id))
    return {"deal": open_deal.id, "call": petrovs_call.id, "recording": recording_id, "note": note.id}


class TestCard:
    async def test_the_responsible_gets_deals_calls_recordings_and_notes(self, petrov, template, history):
        """
        Petrov (Anna's responsible) gets her card with the open deal only, his call with its
        recording link, and the note; the colleague's call on the same card is not shown.
        """
        response = await petrov.get(f"/agent/card/contact/{template.contact_id}")
        card = await response.json()

        assert 200 == response.status
        assert ("Anna Smirnova", "Romashka LLC", "Petr Petrov") == (
            card["title"],
            card["company"],
            card["responsible"],
        )
        assert [{"raw": "8 (916) 123-45-67", "e164": KNOWN_CALLER}] == card["phones"]
        assert [(history["deal"], f"/crm/deals/{history['deal']}")] == [
            (d["id"], d["url"]) for d in card["deals"]
        ]
        assert ("Chamomile tea, 40 boxes", "125000.50", "RUB") == (
            card["deals"][0]["title"],
            card["deals"][0]["amount"],
            card["deals"][0]["currency"],
        )
        assert [history["call"]] == [c["id"] for c in card["calls"]]
        assert [{"id": history["recording"], "url": f"/recordings/{history['recording']}"}] == card["calls"][
            0
        ]["recordings"]
        assert ["Prefers mornings, call before 11"] == [n["text"] for n in card["notes"]]

    async def test_stage_names_the_deals_stage(self, petrov, app, template, history):
        """
        The deal's stage is shown by its name from the pipeline, not its code.
        """
        async with app[keys.DB]() as session:
            stage_name = await session.scalar(
                select(Stage.name).join(Deal, Deal.stage_id == Stage.id).where(Deal.id == history["deal"])
            )

        card = await (await petrov.get(f"/agent/card/contact/{template.contact_id}")).json()

        assert stage_name == card["deals"][0]["stage"]

    async def test_a_card_out_of_reach_is_403(self, ivanov, template, history):
        """
        Ivanov (no department shared with petrov) may not open petrov's contact: 403, nothing leaks.
        """
        response = await ivanov.get(f"/agent/card/contact/{template.contact_id}")

        assert 403 == response.status
        assert "forbidden" == (await response.json())["error_id"]

    async def test_unknown_kind_or_card_is_404(self, petrov):
        """
        Only contact, company and lead cards pop; a missing one is 404.
        """
        assert 404 == (await petrov.get("/agent/card/deal/1")).status
        assert 404 == (await petrov.get("/agent/card/lead/999999")).status

    async def test_needs_a_login(self, client, template):
        """
        Without a session the card is not served.
        """
        response = await client.get(
            f"/agent/card/contact/{template.contact_id}", headers={"Accept": "application/json"}
        )

        assert 401 == response.status


async def _lead_of(app, e164: str) -> list[Lead]:
    async with app[keys.DB]() as session:
        lead_ids = select(Phone.owner_id).where(Phone.owner_type == "lead", Phone.e164 == e164)
        return list(await session.scalars(select(Lead).where(Lead.id.in_(lead_ids)).order_by(Lead.id)))


class TestCallerForm:
    async def test_fills_a_new_lead_that_the_call_then_lands_on(self, ivanov, app, pbx, template):
        """
        During the call the form creates the lead (ivanov responsible); when the call ends the
        call log binds the call to that lead instead of creating another.
        """
        pbx.publish(inbound("u1", UNKNOWN_CALLER))
        pbx.publish(ringing("u1", "101"))
        pbx.publish(answered("u1", "101"))
        await live(app, "u1")

        response = await ivanov.post_json(
            "/agent/calls/u1/caller", {"name": "Oleg", "company": "Vektor", "comment": "Wants a quote"}
        )
        result = await response.json()
        pbx.publish(ended("u1"))
        await written(app, 1)

        assert 200 == response.status
        assert {"entity": "lead", "title": f"Incoming call {UNKNOWN_CALLER}", "created": True} == {
            k: result[k] for k in ("entity", "title", "created")
        }
        [lead] = await _lead_of(app, UNKNOWN_CALLER)
        assert (result["id"], "Oleg", "Vektor", "Wants a quote", "CALL", template.users["ivanov"]) == (
            lead.id,
            lead.name,
            lead.company_name,
            lead.comments,
            lead.source,
            lead.responsible_id,
        )
        async with app[keys.DB]() as session:
            row = await session.scalar(select(CallActivity).where(CallActivity.call_id == "u1"))
        assert ("lead", lead.id) == (row.crm_entity, row.crm_entity_id)

    async def test_after_the_call_it_updates_the_calls_lead(self, ivanov, app, pbx):
        """
        Sent after the call was logged, the form fills the lead the call log created (no new lead).
        """
        pbx.publish(inbound("u2", UNKNOWN_CALLER))
        pbx.publish(ringing("u2", "101"))
        pbx.publish(answered("u2", "101"))
        pbx.publish(ended("u2"))
        await written(app, 1)

        response = await ivanov.post_json(
            "/agent/calls/u2/caller", {"name": "Oleg", "comment": "Call Monday"}
        )

        assert 200 == response.status
        assert False is (await response.json())["created"]
        [lead] = await _lead_of(app, UNKNOWN_CALLER)
        assert ("Oleg", None, "Call Monday") == (lead.name, lead.company_name, lead.comments)

    async def test_sent_twice_it_updates_the_same_lead(self, ivanov, app, pbx):
        """
        A second form during the same call updates the lead the first one created.
        """
        pbx.publish(inbound("u3", UNKNOWN_CALLER))
        pbx.publish(ringing("u3", "101"))
        pbx.publish(answered("u3", "101"))
        await live(app, "u3")

        first = await (await ivanov.post_json("/agent/calls/u3/caller", {"name": "Oleg"})).json()
        second = await (await ivanov.post_json("/agent/calls/u3/caller", {"company": "Vektor"})).json()

        assert (True, False, first["id"]) == (first["created"], second["created"], second["id"])
        [lead] = await _lead_of(app, UNKNOWN_CALLER)
        assert ("Oleg", "Vektor") == (lead.name, lead.company_name)

    async def test_a_known_caller_is_refused(self, petrov, app, pbx):
        """
        A caller who already has a contact card gets no lead: 409 naming why.
        """
        pbx.publish(inbound("k1", KNOWN_CALLER))
        pbx.publish(ringing("k1", "102"))
        await live(app, "k1")

        response = await petrov.post_json("/agent/calls/k1/caller", {"name": "Anna"})

        assert 409 == response.status
        assert "caller-known" == (await response.json())["error_id"]

    async def test_an_internal_call_is_refused(self, ivanov, app, pbx):
        """
        A colleague's call has no outside number to make a lead of.
        """
        pbx.publish(internal("i1", "102", "101"))
        pbx.publish(ringing("i1", "101"))
        await live(app, "i1")

        response = await ivanov.post_json("/agent/calls/i1/caller", {"name": "Petr"})

        assert 409 == response.status
        assert "no-caller-number" == (await response.json())["error_id"]

    async def test_someone_elses_call_is_403(self, petrov, app, pbx):
        """
        Petrov may not fill the form of a call that rang only at ivanov's phone.
        """
        pbx.publish(inbound("u4", UNKNOWN_CALLER))
        pbx.publish(ringing("u4", "101"))
        await live(app, "u4")

        response = await petrov.post_json("/agent/calls/u4/caller", {"name": "Oleg"})

        assert 403 == response.status
        assert [] == await _lead_of(app, UNKNOWN_CALLER)

    async def test_needs_the_csrf_token(self, ivanov, app, pbx):
        """
        Without the CSRF header the form is refused before anything is written.
        """
        pbx.publish(inbound("u5", UNKNOWN_CALLER))
        pbx.publish(ringing("u5", "101"))
        await live(app, "u5")

        response = await ivanov.post_json("/agent/calls/u5/caller", {"name": "Oleg"}, csrf=False)

        assert 403 == response.status
        assert [] == await _lead_of(app, UNKNOWN_CALLER)


class TestNote:
    async def _answered_and_logged(self, app, pbx, call_id: str, number: str, extension: str) -> None:
        pbx.publish(inbound(call_id, number))
        pbx.publish(ringing(call_id, extension))
        pbx.publish(answered(call_id, extension))
        pbx.publish(ended(call_id))
        await written(app, 1)

    async def test_saves_a_note_on_the_card_and_the_call(self, petrov, app, pbx, template):
        """
        The note is an activity of kind note, bound to Anna's card, her company and the logged call.
        """
        await self._answered_and_logged(app, pbx, "n1", KNOWN_CALLER, "102")

        response = await petrov.post_json("/agent/calls/n1/note", {"text": "Wants 40 boxes\nby Friday"})

        assert 201 == response.status
        async with app[keys.DB]() as session:
            call_pk = await session.scalar(select(CallActivity.id).where(CallActivity.call_id == "n1"))
            note = await session.get(Activity, (await response.json())["id"])
            company_id = await session.scalar(
                select(Contact.company_id).where(Contact.id == template.contact_id)
            )
        assert ("note", "Wants 40 boxes", "Wants 40 boxes\nby Friday", call_pk) == (
            note.kind,
            note.subject,
            note.description,
            note.call_pk,
        )
        assert [("company", company_id), ("contact", template.contact_id)] == [
            (b.owner_type, b.owner_id) for b in note.bindings
        ]
        assert template.users["petrov"] == note.responsible_id

    async def test_a_call_not_logged_yet_is_409_to_retry(self, petrov):
        """
        Before the call log has written the call, the page is told to try again.
        """
        response = await petrov.post_json("/agent/calls/nowhere/note", {"text": "x"})

        assert 409 == response.status
        assert "call-not-logged-yet" == (await response.json())["error_id"]

    async def test_someone_elses_call_is_403(self, ivanov, app, pbx):
        """
        Ivanov may not put notes on petrov's call.
        """
        await self._answered_and_logged(app, pbx, "n2", KNOWN_CALLER, "102")

        response = await ivanov.post_json("/agent/calls/n2/note", {"text": "mine now"})

        assert 403 == response.status

    async def test_an_empty_note_is_422(self, petrov, app, pbx):
        """
        A note of blanks is refused with the field named.
        """
        await self._answered_and_logged(app, pbx, "n3", KNOWN_CALLER, "102")

        response = await petrov.post_json("/agent/calls/n3/note", {"text": "   "})

        assert 422 == response.status
        body = await response.json()
        assert ("Note text: must not be empty", "Note text: must not be empty") == (
            body["message"],
            body["details"]["text"],
        )

    async def test_form_problems_are_told_in_russian_naming_each_field(self, client, app, template):
        """
        For a Russian user the caller form's problems come in Russian, each with its field's label.
        """
        async with app[keys.DB]() as session:
            (await session.get(User, template.users["ivanov"])).locale = "ru"
            await session.commit()
        body = {"name": "x" * 201, "colour": "red"}

        response = await Browser(client, template.users["ivanov"]).post_json("/agent/calls/any/caller", body)

        assert 422 == response.status
        assert {
            "name": "Имя: не больше 200 символов",
            "colour": "colour: такого поля в форме нет",
        } == (await response.json())["details"]


class TestCallBacks:
    async def _missed(self, app, pbx) -> None:
        """Anna (petrov's contact) calls 101 and nobody answers: a call-back task for petrov."""
        pbx.publish(inbound("m1", KNOWN_CALLER))
        pbx.publish(ringing("m1", "101"))
        pbx.publish(ended("m1", Disposition.MISSED))
        await written(app, 1)

    async def test_lists_my_open_call_backs_with_the_number(self, petrov, app, pbx, template):
        """
        Petrov sees the missed call's task with the number to call and Anna's card.
        """
        await self._missed(app, pbx)

        response = await petrov.get("/agent/call-backs")
        [item] = (await response.json())["items"]

        assert 200 == response.status
        assert (KNOWN_CALLER, "missed", {"entity": "contact", "id": template.contact_id}) == (
            item["number"],
            item["disposition"],
            {k: item["card"][k] for k in ("entity", "id")},
        )

    async def test_a_click_closes_the_task(self, petrov, app, pbx):
        """
        Done: the task is marked done and leaves the list.
        """
        await self._missed(app, pbx)
        [item] = (await (await petrov.get("/agent/call-backs")).json())["items"]

        response = await petrov.post_json(f"/agent/call-backs/{item['id']}/done", {})

        assert 200 == response.status
        assert [] == (await (await petrov.get("/agent/call-backs")).json())["items"]
        async with app[keys.DB]() as session:
            assert True is (await session.get(Task, item["id"])).done

    async def test_others_do_not_see_or_close_my_tasks(self, ivanov, petrov, app, pbx):
        """
        Ivanov's list is empty, and closing petrov's task is 404 (its existence is not told).
        """
        await self._missed(app, pbx)
        [item] = (await (await petrov.get("/agent/call-backs")).json())["items"]

        listed = (await (await ivanov.get("/agent/call-backs")).json())["items"]
        response = await ivanov.post_json(f"/agent/call-backs/{item['id']}/done", {})

        assert ([], 404) == (listed, response.status)
        async with app[keys.DB]() as session:
            assert False is (await session.get(Task, item["id"])).done


class TestPage:
    async def test_the_page_has_the_workspace(self, ivanov):
        """
        The agent page carries the CSRF token for its script and the call-backs and dial parts.
        """
        response = await ivanov.get("/agent")
        html = await response.text()

        assert 200 == response.status
        assert f'data-csrf="{ivanov.csrf}"' in html
        assert all(part in html for part in ('id="call-back-list"', 'id="dial-form"', 'class="note-form"'))
