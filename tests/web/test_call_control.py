"""Call control from the pages: who may steer which live call, and what reaches the PBX port."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from crm_core.models import Department, DepartmentMember, User
from cti.errors import PbxActionFailed, PbxUnavailable
from cti.events import CallTransferred, ConferenceJoined, RingingStopped
from cti.model import CallId, Party, TransferKind
from web import keys

from .browser import Browser
from .fakes import answered, inbound, internal, now, ringing

CALLER = "+79161234567"


async def organise(app, template) -> dict[str, int]:
    """Sales: ivanov (101), petrov (102) and boss (supervisor, 104); Support: kuznetsov (supervisor, 105)."""
    users = dict(template.users)
    async with app[keys.DB]() as session:
        sales = Department(name="Sales")
        support = Department(name="Support")
        kuznetsov = User(login="kuznetsov", name="K", role="supervisor", extension="105")
        session.add_all([sales, support, kuznetsov])
        await session.flush()
        users["kuznetsov"] = kuznetsov.id
        session.add_all(
            [
                DepartmentMember(user_id=users[login], department_id=sales.id)
                for login in ("ivanov", "petrov", "boss")
            ]
            + [DepartmentMember(user_id=kuznetsov.id, department_id=support.id)]
        )
        await session.execute(update(User).where(User.login == "boss").values(extension="104"))
        await session.commit()
    return users


@pytest.fixture(name="users")
async def _users(client, app, template) -> dict[str, int]:
    return await organise(app, template)


@pytest.fixture(name="as_")
def _as(client, users):
    def browser(login: str) -> Browser:
        return Browser(client, users[login])

    return browser


def ring_101(pbx, call_id: str = "c1") -> None:
    pbx.publish(inbound(call_id, CALLER))
    pbx.publish(ringing(call_id, "101"))


class TestHangup:
    async def test_an_agent_hangs_up_a_call_on_their_phone(self, as_, pbx):
        """The call rings at ivanov's 101: he may hang it up, and the PBX is told."""
        ring_101(pbx)

        response = await as_("ivanov").post_json("/calls/c1/hangup", {})

        assert 200 == response.status
        assert {"ok": True} == await response.json()
        assert ["c1"] == pbx.hung_up

    async def test_a_colleague_may_not_hang_up_someone_elses_call(self, as_, pbx):
        """petrov (agent, same department) has own-level call rights: 403, nothing reaches the PBX."""
        ring_101(pbx)

        response = await as_("petrov").post_json("/calls/c1/hangup", {})

        assert 403 == response.status
        assert "forbidden" == (await response.json())["error_id"]
        assert [] == pbx.hung_up

    async def test_the_department_supervisor_may(self, as_, pbx):
        """boss supervises Sales, where ivanov works."""
        ring_101(pbx)

        response = await as_("boss").post_json("/calls/c1/hangup", {})

        assert 200 == response.status
        assert ["c1"] == pbx.hung_up

    async def test_another_departments_supervisor_may_not(self, as_, pbx):
        """kuznetsov supervises Support only."""
        ring_101(pbx)

        response = await as_("kuznetsov").post_json("/calls/c1/hangup", {})

        assert 403 == response.status

    async def test_a_group_phone_that_stopped_ringing_is_no_party(self, as_, pbx):
        """
        101 and 102 ring as a group and 102 answers (the PBX stops 101's phone): ivanov at 101 may
        no longer hang up, transfer or stop recording the call; petrov at 102 may.
        """
        pbx.publish(inbound("g1", CALLER))
        pbx.publish(ringing("g1", "101", "102"))
        pbx.publish(answered("g1", "102"))
        pbx.publish(RingingStopped(call_id=CallId("g1"), at=now(), extensions=("101",)))

        hangup = await as_("ivanov").post_json("/calls/g1/hangup", {})
        transfer = await as_("ivanov").post_json("/calls/g1/transfer", {"to": "103"})
        recording = await as_("ivanov").post_json("/calls/g1/recording", {"on": True})
        petrov = await as_("petrov").post_json("/calls/g1/hangup", {})

        assert (403, 403, 403, 200) == (hangup.status, transfer.status, recording.status, petrov.status)
        assert (["g1"], []) == (pbx.hung_up, pbx.commands)

    async def test_after_transferring_the_call_away_the_agent_is_no_party(self, as_, pbx):
        """
        ivanov answers at 101 and transfers to 102: his hang-up is 403 from then on; the
        department's supervisor keeps his right over the call now at petrov's phone.
        """
        ring_101(pbx, "t1")
        pbx.publish(answered("t1", "101"))
        pbx.publish(
            CallTransferred(call_id=CallId("t1"), at=now(), kind=TransferKind.BLIND, by="101", to="102")
        )
        pbx.publish(ringing("t1", "102"))

        ivanov = await as_("ivanov").post_json("/calls/t1/hangup", {})
        boss = await as_("boss").post_json("/calls/t1/hangup", {})

        assert (403, 200) == (ivanov.status, boss.status)
        assert ["t1"] == pbx.hung_up

    async def test_the_calling_extension_is_a_party_until_it_hands_the_call_on(self, as_, pbx):
        """
        ivanov (101) calls petrov (102): he may hang up his own outgoing call while it rings.
        """
        pbx.publish(internal("i1", "101", "102"))
        pbx.publish(ringing("i1", "102"))

        response = await as_("ivanov").post_json("/calls/i1/hangup", {})

        assert 200 == response.status

    async def test_an_unknown_call_is_404(self, as_):
        """A call id the PBX does not have (or that ended) is named in the error."""
        response = await as_("ivanov").post_json("/calls/nope/hangup", {})

        assert 404 == response.status
        body = await response.json()
        assert ("no-such-call", {"call_id": "nope"}) == (body["error_id"], body["details"])

    async def test_without_the_csrf_header_nothing_happens(self, as_, pbx):
        """A forged cross-site POST carries no CSRF token."""
        ring_101(pbx)

        response = await as_("ivanov").post_json("/calls/c1/hangup", {}, csrf=False)

        assert 403 == response.status
        assert [] == pbx.hung_up

    async def test_the_pbx_being_down_is_said_plainly(self, as_, pbx):
        """PbxUnavailable becomes 503 with its message."""
        ring_101(pbx)
        pbx.fail_with = PbxUnavailable("Asterisk did not answer in 5 s")

        response = await as_("ivanov").post_json("/calls/c1/hangup", {})

        assert 503 == response.status
        assert "Asterisk did not answer in 5 s" in (await response.json())["message"]


class TestDial:
    async def test_click_to_call_rings_the_agents_phone_first(self, as_, pbx):
        """The number as shown on a card (spaces, brackets, dashes) is dialled as digits."""
        response = await as_("ivanov").post_json("/calls/dial", {"number": "8 (916) 123-45-67"})

        assert 200 == response.status
        assert [("101", "89161234567")] == pbx.originated

    async def test_not_a_number_is_422_naming_the_field(self, as_, pbx):
        """Letters are no phone number."""
        response = await as_("ivanov").post_json("/calls/dial", {"number": "call mom"})

        assert 422 == response.status
        body = await response.json()
        expected = "Number: digits only, with an optional + * or #, up to 32"
        assert (expected, {"number": expected}) == (body["message"], body["details"])
        assert [] == pbx.originated

    async def test_form_problems_in_russian_name_the_field(self, client, app, as_, pbx, users):
        """
        A Russian user's refused transfer says, in Russian, which field and what is wrong.
        """
        async with app[keys.DB]() as session:
            (await session.get(User, users["ivanov"])).locale = "ru"
            await session.commit()
        ring_101(pbx)

        response = await as_("ivanov").post_json(
            "/calls/c1/transfer", {"to": "two-oh-two", "announced": "maybe"}
        )

        assert 422 == response.status
        assert {
            "to": "Перевести на: только цифры (можно +, * или #), не больше 32",
            "announced": "С представлением: должно быть «да» или «нет» (true/false)",
        } == (await response.json())["details"]

    async def test_a_user_without_an_extension_gets_409(self, client, template, pbx):
        """The seed's boss has no phone until ``organise`` gives him one."""
        response = await Browser(client, template.users["boss"]).post_json("/calls/dial", {"number": "101"})

        assert 409 == response.status
        assert "no-extension" == (await response.json())["error_id"]

    async def test_the_pbx_refusal_is_shown(self, as_, pbx):
        """A refusal by the PBX (the number is not permitted...) is a 409 with the PBX's reason."""
        pbx.fail_with = PbxActionFailed("Originate", "Extension does not exist")

        response = await as_("ivanov").post_json("/calls/dial", {"number": "999"})

        assert 409 == response.status
        assert "Extension does not exist" in (await response.json())["message"]


class TestTransfer:
    async def test_blind_by_default(self, as_, pbx):
        """The agent on the call transfers it to 102 without talking to 102 first."""
        ring_101(pbx)
        pbx.publish(answered("c1", "101"))

        response = await as_("ivanov").post_json("/calls/c1/transfer", {"to": "102"})

        assert 200 == response.status
        assert [("blind_transfer", "c1", "102", "101")] == pbx.commands

    async def test_with_announcement(self, as_, pbx):
        """announced: the PBX's attended transfer."""
        ring_101(pbx)
        pbx.publish(answered("c1", "101"))

        await as_("ivanov").post_json("/calls/c1/transfer", {"to": "102", "announced": True})

        assert [("attended_transfer", "c1", "102", "101")] == pbx.commands


class TestConference:
    async def test_move_then_add(self, as_, pbx):
        """A call moved to a room, then 102 added to it (the registry learns the room from the PBX)."""
        ring_101(pbx)
        pbx.publish(answered("c1", "101"))
        browser = as_("ivanov")

        moved = await browser.post_json("/calls/c1/conference", {"room": "conf-101"})
        pbx.publish(
            ConferenceJoined(call_id="c1", at=now(), room="conf-101", party=Party("101", extension="101"))
        )
        added = await browser.post_json("/calls/c1/conference", {"add": "102"})

        assert (200, 200) == (moved.status, added.status)
        assert [
            ("move_to_conference", "c1", "conf-101"),
            ("add_to_conference", "conf-101", "102"),
        ] == pbx.commands

    async def test_adding_before_a_room_exists_is_refused(self, as_, pbx):
        """Nothing to add to yet: the message says what to do first."""
        ring_101(pbx)

        response = await as_("ivanov").post_json("/calls/c1/conference", {"add": "102"})

        assert 422 == response.status
        assert "move it to a room first" in (await response.json())["message"]

    async def test_room_and_add_together_are_refused(self, as_, pbx):
        """One thing at a time."""
        ring_101(pbx)

        response = await as_("ivanov").post_json("/calls/c1/conference", {"room": "r", "add": "102"})

        assert 422 == response.status


class TestRecording:
    async def test_mandatory_recording_cannot_be_stopped(self, as_, pbx):
        """The sample plan records every inbound call: stopping is 409 and never reaches the PBX."""
        ring_101(pbx)

        response = await as_("ivanov").post_json("/calls/c1/recording", {"on": False})

        assert 409 == response.status
        assert "recording-mandatory" == (await response.json())["error_id"]
        assert [] == pbx.commands

    async def test_an_internal_call_may_be_recorded_and_stopped(self, as_, pbx):
        """Internal calls are not recorded by policy: the agent may start and stop."""
        pbx.publish(internal("c2", "101", "102"))
        pbx.publish(ringing("c2", "102"))
        browser = as_("ivanov")

        started = await browser.post_json("/calls/c2/recording", {"on": True})
        stopped = await browser.post_json("/calls/c2/recording", {"on": False})

        assert (200, 200) == (started.status, stopped.status)
        assert [("start_recording", "c2"), ("stop_recording", "c2")] == pbx.commands


class TestListenIn:
    @pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
    async def test_the_department_supervisor_listens_from_their_phone(self, as_, pbx, mode):
        """boss's phone (104) is rung to listen, whisper or barge."""
        ring_101(pbx)
        pbx.publish(answered("c1", "101"))

        response = await as_("boss").post_json("/calls/c1/listen", {"mode": mode})

        assert 200 == response.status
        assert [("spy", "c1", "104", mode)] == pbx.commands

    @pytest.mark.parametrize("login", ["petrov", "kuznetsov"])
    async def test_agents_and_other_departments_may_not(self, as_, pbx, login):
        """An agent never listens in; Support's supervisor does not reach Sales' calls."""
        ring_101(pbx)
        pbx.publish(answered("c1", "101"))

        response = await as_(login).post_json("/calls/c1/listen", {"mode": "listen"})

        assert 403 == response.status
        assert [] == pbx.commands

    async def test_an_unknown_mode_is_422(self, as_, pbx):
        """Only listen, whisper and barge exist."""
        ring_101(pbx)

        response = await as_("boss").post_json("/calls/c1/listen", {"mode": "record"})

        assert 422 == response.status
