"""The supervisor's live board: a snapshot, then the changes, only of the calls the user may see."""

from __future__ import annotations

import asyncio

import pytest

from cti.events import DeviceRegistered, DndChanged

from .browser import Browser
from .conftest import cookie_header, origin_of
from .fakes import answered, ended, inbound, now, ringing
from .test_call_control import CALLER, organise

TIMEOUT = 5.0


@pytest.fixture(name="users")
async def _users(client, app, template) -> dict[str, int]:
    return await organise(app, template)


async def open_board(client, app, user_id: int):
    headers = {**cookie_header(app, user_id), "Origin": origin_of(client)}
    ws = await client.ws_connect("/ws/board", headers=headers)
    snapshot = await next_frame(ws)
    assert "snapshot" == snapshot["type"]
    return ws, snapshot


async def next_frame(ws) -> dict:
    return await asyncio.wait_for(ws.receive_json(), TIMEOUT)


async def frames_until(ws, predicate) -> list[dict]:
    seen = []
    while True:
        frame = await next_frame(ws)
        seen.append(frame)
        if predicate(frame):
            return seen


def by_extension(snapshot: dict) -> dict[str, dict]:
    return {item["extension"]: item for item in snapshot["extensions"]}


class TestSnapshot:
    async def test_a_call_in_progress_and_the_phones_states(self, client, app, users, pbx):
        """ivanov talks to a caller: the board shows the call and 101 talking, 102 idle, unregistered."""
        pbx.publish(inbound("c1", CALLER, name="ANNA"))
        pbx.publish(ringing("c1", "101"))
        pbx.publish(answered("c1", "101"))
        pbx.publish(DeviceRegistered(extension="102", at=now(), contact="sip:102@127.0.0.1"))

        ws, snapshot = await open_board(client, app, users["boss"])

        [call] = snapshot["calls"]
        assert ("c1", "talking", ["101"], "ANNA") == (
            call["call_id"],
            call["state"],
            call["talking"],
            call["caller"]["name"],
        )
        phones = by_extension(snapshot)
        assert ("talking", False) == (phones["101"]["state"], phones["101"]["registered"])
        assert ("idle", True) == (phones["102"]["state"], phones["102"]["registered"])
        await ws.close()

    async def test_another_departments_calls_are_not_shown(self, client, app, users, pbx):
        """kuznetsov (Support) does not see a call at Sales' 101."""
        pbx.publish(inbound("c1", CALLER))
        pbx.publish(ringing("c1", "101"))

        ws, snapshot = await open_board(client, app, users["kuznetsov"])

        assert [] == snapshot["calls"]
        await ws.close()


class TestUpdates:
    async def test_ringing_answered_ended_arrive_in_order(self, client, app, users, pbx):
        """Each change is one frame; an ended call is removed by id."""
        ws, _ = await open_board(client, app, users["boss"])

        pbx.publish(inbound("c1", CALLER))
        pbx.publish(ringing("c1", "101"))
        ring = await frames_until(ws, lambda f: f["type"] == "call" and f["call"]["ringing"] == ["101"])
        pbx.publish(answered("c1", "101"))
        talk = await frames_until(ws, lambda f: f["type"] == "call" and f["call"]["state"] == "talking")
        pbx.publish(ended("c1"))
        end = await frames_until(ws, lambda f: f["type"] == "ended")

        assert {"type": "ended", "call_id": "c1"} == end[-1]
        assert "ringing" == ring[-1]["call"]["state"]
        assert ["101"] == talk[-1]["call"]["talking"]
        await ws.close()

    async def test_phone_states_follow_calls_and_dnd(self, client, app, users, pbx):
        """101 goes ringing then back to idle; DND on 102 is pushed as it changes."""
        ws, _ = await open_board(client, app, users["boss"])

        pbx.publish(inbound("c1", CALLER))
        pbx.publish(ringing("c1", "101"))
        ringing_101 = await frames_until(
            ws, lambda f: f["type"] == "extension" and f["extension"]["extension"] == "101"
        )
        pbx.publish(ended("c1"))
        idle_101 = await frames_until(
            ws, lambda f: f["type"] == "extension" and f["extension"]["extension"] == "101"
        )
        pbx.publish(DndChanged(extension="102", at=now(), enabled=True))
        dnd_102 = await frames_until(ws, lambda f: f["type"] == "extension" and f["extension"]["dnd"])

        assert "ringing" == ringing_101[-1]["extension"]["state"]
        assert "idle" == idle_101[-1]["extension"]["state"]
        assert "102" == dnd_102[-1]["extension"]["extension"]
        await ws.close()

    async def test_other_departments_get_no_frames_for_the_call(self, client, app, users, pbx):
        """Support's board sees 101's phone state but never the Sales call itself."""
        ws, _ = await open_board(client, app, users["kuznetsov"])

        pbx.publish(inbound("c1", CALLER))
        pbx.publish(ringing("c1", "101"))
        pbx.publish(DndChanged(extension="105", at=now(), enabled=True))
        frames = await frames_until(
            ws, lambda f: f["type"] == "extension" and f["extension"]["extension"] == "105"
        )

        assert [] == [f for f in frames if f["type"] in ("call", "ended")]
        await ws.close()


class TestAccess:
    async def test_agents_get_403_for_page_and_socket(self, client, app, users):
        """The board is for supervisors and admins."""
        browser = Browser(client, users["ivanov"])

        page = await browser.get("/supervisor")
        socket = await client.get(
            "/ws/board", headers={**cookie_header(app, users["ivanov"]), "Origin": origin_of(client)}
        )

        assert (403, 403) == (page.status, socket.status)

    async def test_supervisor_page_renders(self, client, users):
        """The page loads its script; the data comes over the socket."""
        response = await Browser(client, users["boss"]).get("/supervisor")

        assert 200 == response.status
        assert '<script src="/static/board.js" defer></script>' in await response.text()

    async def test_cross_origin_socket_refused(self, client, app, users):
        """Another site's page may not open the board with the supervisor's cookie."""
        response = await client.get(
            "/ws/board", headers={**cookie_header(app, users["boss"]), "Origin": "https://evil.example"}
        )

        assert 403 == response.status
