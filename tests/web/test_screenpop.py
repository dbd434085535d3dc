"""The agent's screen-pop: events pushed by the (fake) PBX reach the right sockets with the card."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from sqlalchemy import select

from crm_core.models import Task
from cti.events import CallPickedUp, CallTransferred, DndChanged, RecordingStarted, RecordingStopped
from cti.model import CallId, Disposition, TransferKind
from web import keys

from .browser import Browser
from .conftest import KNOWN_CALLER, UNKNOWN_CALLER, cookie_header, origin_of
from .fakes import OWN_DID, answered, ended, inbound, internal, now, ringing

TIMEOUT = 5.0


async def connect(client, app, user_id: int):
    """Open /ws/screenpop as a logged-in browser on this page's origin; return once registered."""
    headers = {**cookie_header(app, user_id), "Origin": origin_of(client)}
    ws = await client.ws_connect("/ws/screenpop", headers=headers)
    assert (await next_frame(ws))["type"] == "hello"
    return ws


async def next_frame(ws) -> dict:
    return await asyncio.wait_for(ws.receive_json(), TIMEOUT)


@pytest.fixture(name="agent101")
async def _agent101(client, app, template, pbx):
    ws = await connect(client, app, template.users["ivanov"])
    yield ws
    await ws.close()


class TestRinging:
    async def test_known_caller_pops_the_contact_card_then_answered_then_ended(self, agent101, pbx, template):
        """
        Ringing at 101 pops Anna's contact card; answering and hanging up update the same call.
        """
        pbx.publish(inbound("c1", KNOWN_CALLER, name="ANNA"))
        pbx.publish(ringing("c1", "101"))

        assert {
            "type": "ringing",
            "call_id": "c1",
            "number": KNOWN_CALLER,
            "name": "ANNA",
            "direction": "inbound",
            "did": OWN_DID,
            "card": {
                "entity": "contact",
                "id": template.contact_id,
                "title": "Anna Smirnova",
                "company": "Romashka LLC",
                "responsible": "Petr Petrov",
                "url": f"/crm/contact/{template.contact_id}",
            },
            "recording": False,
            "recording_mandatory": True,
        } == await next_frame(agent101)

        pbx.publish(answered("c1", "101"))
        assert await next_frame(agent101) == {"type": "answered", "call_id": "c1", "by": "101"}

        pbx.publish(ended("c1"))
        assert await next_frame(agent101) == {"type": "ended", "call_id": "c1", "disposition": "answered"}

    async def test_unknown_caller_pops_without_a_card(self, agent101, pbx):
        pbx.publish(inbound("c2", UNKNOWN_CALLER))
        pbx.publish(ringing("c2", "101"))

        frame = await next_frame(agent101)

        assert frame["number"] == UNKNOWN_CALLER
        assert frame["card"] is None

    async def test_internal_call_is_not_looked_up(self, agent101, pbx):
        pbx.publish(internal("c3", "102", "101", name="Petr Petrov"))
        pbx.publish(ringing("c3", "101"))

        frame = await next_frame(agent101)

        assert (frame["direction"], frame["number"], frame["card"]) == ("internal", "102", None)

    async def test_other_extensions_get_nothing(self, client, app, template, agent101, pbx):
        """
        102's socket gets no frame of a call ringing only at 101: its first frame is its own call.
        """
        agent102 = await connect(client, app, template.users["petrov"])

        pbx.publish(inbound("c4", KNOWN_CALLER))
        pbx.publish(ringing("c4", "101"))
        pbx.publish(answered("c4", "101"))
        pbx.publish(ended("c4"))
        pbx.publish(inbound("c5", UNKNOWN_CALLER))
        pbx.publish(ringing("c5", "102"))

        assert (await next_frame(agent102))["call_id"] == "c5"
        assert [(await next_frame(agent101))["call_id"] for _ in range(3)] == ["c4", "c4", "c4"]
        await agent102.close()

    async def test_group_ringing_tells_the_others_who_answered(self, client, app, template, agent101, pbx):
        agent102 = await connect(client, app, template.users["petrov"])

        pbx.publish(inbound("c6", KNOWN_CALLER))
        pbx.publish(ringing("c6", "101", "102"))
        pbx.publish(answered("c6", "102"))

        for ws in (agent101, agent102):
            assert (await next_frame(ws))["type"] == "ringing"
            assert await next_frame(ws) == {"type": "answered", "call_id": "c6", "by": "102"}
        await agent102.close()

    async def test_transfer_pops_the_original_callers_card_at_the_target(
        self, client, app, template, agent101, pbx
    ):
        agent102 = await connect(client, app, template.users["petrov"])

        pbx.publish(inbound("c7", KNOWN_CALLER))
        pbx.publish(ringing("c7", "101"))
        pbx.publish(answered("c7", "101"))
        pbx.publish(
            CallTransferred(call_id=CallId("c7"), at=now(), kind=TransferKind.ATTENDED, by="101", to="102")
        )
        pbx.publish(answered("c7", "102"))

        frame = await next_frame(agent102)
        assert (
            frame["type"],
            frame["transferred_by"],
            frame["card"]["title"],
        ) == ("ringing", "101", "Anna Smirnova")
        assert (await next_frame(agent102))["by"] == "102"
        assert [(await next_frame(agent101))["type"] for _ in range(4)] == [
            "ringing",
            "answered",
            "transferred",
            "answered",
        ]
        await agent102.close()

    async def test_pickup_pops_the_card_at_the_picker(self, client, app, template, agent101, pbx):
        agent102 = await connect(client, app, template.users["petrov"])

        pbx.publish(inbound("c8", KNOWN_CALLER))
        pbx.publish(ringing("c8", "101"))
        pbx.publish(CallPickedUp(call_id=CallId("c8"), at=now(), by="102", from_="101", code="*11"))

        frame = await next_frame(agent102)
        assert (frame["picked_up"], frame["card"]["title"]) == (True, "Anna Smirnova")
        assert await next_frame(agent102) == {"type": "answered", "call_id": "c8", "by": "102"}
        assert (await next_frame(agent101))["type"] == "ringing"
        assert (await next_frame(agent101))["by"] == "102"
        await agent102.close()

    async def test_a_socket_opened_while_the_phone_rings_gets_the_pop(self, client, app, template, pbx):
        """
        Reloading the page during ringing still shows the call.
        """
        pbx.publish(inbound("c9", KNOWN_CALLER))
        pbx.publish(ringing("c9", "101"))

        ws = await connect(client, app, template.users["ivanov"])

        assert ((frame := await next_frame(ws))["call_id"], frame["card"]["title"]) == ("c9", "Anna Smirnova")
        pbx.publish(ended("c9", Disposition.MISSED))
        assert await next_frame(ws) == {"type": "ended", "call_id": "c9", "disposition": "missed"}
        await ws.close()


class TestSocket:
    async def test_cross_origin_socket_is_403(self, client, app, template):
        """
        A page on another site cannot ride the agent's cookie into the socket.
        """
        headers = {**cookie_header(app, template.users["ivanov"]), "Origin": "http://evil.example"}

        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/screenpop", headers=headers)

        assert refused.value.status == 403

    async def test_user_without_extension_is_refused(self, client, app, template):
        resp = await client.get("/ws/screenpop", headers=cookie_header(app, template.users["boss"]))

        assert resp.status == 409

    async def test_socket_closes_when_the_session_expires(self, client, app, template):
        """
        An open socket does not outlive its session: it closes with 1008 and the page goes to login.
        """
        issued_at = time.time() - 3600 + 1.5  # a one-hour session with about a second left
        headers = {**cookie_header(app, template.users["ivanov"], now=issued_at), "Origin": origin_of(client)}
        ws = await client.ws_connect("/ws/screenpop", headers=headers)
        assert (await next_frame(ws))["type"] == "hello"

        message = await asyncio.wait_for(ws.receive(), TIMEOUT)

        assert (message.type, message.data) == (WSMsgType.CLOSE, 1008)

    async def test_socket_closes_when_the_user_is_deactivated(self, client, app, template, monkeypatch):
        """
        A deactivated agent stops receiving callers' numbers at once, though the cookie is still valid.
        """
        from sqlalchemy import update

        from crm_core.models import User

        monkeypatch.setattr("web.ws.USER_RECHECK", 0.05)
        ws = await connect(client, app, template.users["ivanov"])
        async with app[keys.DB]() as db:
            await db.execute(update(User).where(User.login == "ivanov").values(is_active=False))
            await db.commit()

        message = await asyncio.wait_for(ws.receive(), TIMEOUT)

        assert (message.type, message.data) == (WSMsgType.CLOSE, 1008)

    async def test_shutdown_closes_sockets_going_away(self, client, app, template):
        ws = await connect(client, app, template.users["ivanov"])

        await app.shutdown()

        message = await asyncio.wait_for(ws.receive(), TIMEOUT)
        assert (message.type, message.data) == (WSMsgType.CLOSE, 1001)


class TestBackpressure:
    async def test_full_screenpop_queue_drops_and_counts_without_blocking_publish(
        self, client, app, agent101, pbx
    ):
        """
        publish() never waits: 10,050 events in one go overflow the hub's queue, and it recovers.
        """
        bus = app[keys.EVENT_BUS]
        for index in range(10_050):
            pbx.publish(DndChanged(extension="101", at=now(), enabled=bool(index % 2)))

        assert bus.stats()["screenpop"][1] == 50
        metrics = await (await client.get("/metrics")).text()
        assert 'cti_bus_dropped_total{subscriber="screenpop"} 50.0' in metrics

        pbx.publish(inbound("c10", KNOWN_CALLER))
        pbx.publish(ringing("c10", "101"))
        assert (await next_frame(agent101))["call_id"] == "c10"


class TestCallStateFrames:
    async def test_the_transferer_hears_where_the_call_went(self, client, app, template, agent101, pbx):
        """
        101 answers Anna and hands her to 102: 101's socket gets "transferred" naming 102 and its user.
        """
        pbx.publish(inbound("x1", KNOWN_CALLER))
        pbx.publish(ringing("x1", "101"))
        pbx.publish(answered("x1", "101"))
        pbx.publish(
            CallTransferred(call_id=CallId("x1"), at=now(), kind=TransferKind.BLIND, by="101", to="102")
        )

        frames = [await next_frame(agent101) for _ in range(3)]

        assert ["ringing", "answered"] == [f["type"] for f in frames[:2]]
        assert {
            "type": "transferred",
            "call_id": "x1",
            "by": "101",
            "to": "102",
            "to_name": "Petr Petrov",
        } == (frames[2])

    async def test_recording_started_and_stopped_reach_the_pop(self, agent101, pbx):
        """
        An internal call (not recorded by the sample plan's policy): the pop says not recording and
        not mandatory; then the PBX's RecordingStarted/Stopped come as "recording" frames.
        """
        pbx.publish(internal("r1", "102", "101"))
        pbx.publish(ringing("r1", "101"))
        pbx.publish(answered("r1", "101"))
        pbx.publish(RecordingStarted(call_id=CallId("r1"), at=now(), file="/spool/r1.wav"))
        pbx.publish(RecordingStopped(call_id=CallId("r1"), at=now(), file="/spool/r1.wav"))

        pop = await next_frame(agent101)
        frames = [await next_frame(agent101) for _ in range(3)]

        assert (False, False) == (pop["recording"], pop["recording_mandatory"])
        assert [
            {"type": "answered", "call_id": "r1", "by": "101"},
            {"type": "recording", "call_id": "r1", "on": True, "mandatory": False},
            {"type": "recording", "call_id": "r1", "on": False, "mandatory": False},
        ] == frames

    async def test_a_pop_after_recording_started_says_so(self, client, app, template, agent101, pbx):
        """
        A second page opened while the inbound call (recorded always by the plan) is recording.
        """
        pbx.publish(inbound("r2", KNOWN_CALLER))
        pbx.publish(ringing("r2", "101"))
        pbx.publish(answered("r2", "101"))
        pbx.publish(RecordingStarted(call_id=CallId("r2"), at=now(), file="/spool/r2.wav"))
        assert ["ringing", "answered", "recording"] == [
            (await next_frame(agent101))["type"] for _ in range(3)
        ]

        ws = await connect(client, app, template.users["ivanov"])
        pop = await next_frame(ws)

        assert ("r2", True, True) == (pop["call_id"], pop["recording"], pop["recording_mandatory"])
        await ws.close()

    async def test_a_missed_call_tells_the_call_back_owner_to_reload(
        self, client, app, template, agent101, pbx
    ):
        """
        Anna (petrov's contact) calls 101 and nobody answers: once the call log made petrov's
        call-back task, petrov's page (102, which never rang) is told; closing it tells it again.
        """
        agent102 = await connect(client, app, template.users["petrov"])
        pbx.publish(inbound("m1", KNOWN_CALLER))
        pbx.publish(ringing("m1", "101"))
        pbx.publish(ended("m1", Disposition.MISSED))

        created = await next_frame(agent102)
        async with app[keys.DB]() as session:
            [task_id] = await session.scalars(select(Task.id).where(Task.done.is_(False)))
        done = await Browser(client, template.users["petrov"]).post_json(
            f"/agent/call-backs/{task_id}/done", {}
        )
        closed = await next_frame(agent102)

        assert ({"type": "call-backs"}, 200, {"type": "call-backs"}) == (created, done.status, closed)
        assert ["ringing", "ended"] == [(await next_frame(agent101))["type"] for _ in range(2)]
        await agent102.close()
