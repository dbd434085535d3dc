"""`cti ami replay`: recorded Asterisk traces through socket, panoramisk, tracker, bus and CRM rules.

Each acceptance trace is asserted field by field, on SQLite and on PostgreSQL, and replaying the
same trace into the same database a second time creates nothing new.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select, text

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import CallActivity, Lead, Recording, Task
from pbx_adapters.asterisk.trace import read_trace
from tests.conftest import POSTGRES_URL
from web.cli import main
from web.replay import replay_trace

MONITOR = "/var/spool/asterisk/monitor/"
SEED = {
    "own_numbers": ["+74951234567"],
    "users": [
        {"login": "ivanov", "name": "Ivan Petrov", "extension": "101"},
        {"login": "maria", "name": "Maria Ivanova", "extension": "102"},
    ],
    "companies": [{"title": "Romashka LLC", "phones": ["+7 495 111-22-33"]}],
    "contacts": [{"name": "Anna Smirnova", "phones": ["8 (916) 123-45-67"], "company": "Romashka LLC"}],
    "leads": [{"title": "Website request", "phones": ["+79035550011"], "status": "NEW"}],
}


@pytest.fixture(name="database_url", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def _database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/replay.sqlite3"
        return
    name = f"cti_replay_{secrets.token_hex(5)}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def replay(traces, name, database_url, seed=None):
    result = await replay_trace(read_trace(traces / f"{name}.jsonl"), database_url=database_url, seed=seed)
    return result.as_json()["calls"]


async def count(database_url, model, *where):
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        await engine.dispose()


class TestAcceptanceTraces:
    async def test_01_internal_call(self, traces, database_url):
        """
        101 -> 102 answered: internal, recorded, nothing in the CRM.
        """
        [call] = await replay(traces, "01_internal_call", database_url)

        assert {
            "call_id": "1795751281.0",
            "direction": "internal",
            "external_number": None,
            "did": None,
            "extensions": ["101", "102"],
            "answered_by": "102",
            "disposition": "answered",
            "talk_seconds": 2,
            "pickups": [],
            "transfers": [],
            "conference": None,
            "recordings": [MONITOR + "20261127-034801-internal-101-102-1795751281.0.wav"],
            "crm": {"entity": "none", "id": None, "created": False},
        } == {
            key: call[key]
            for key in (
                "call_id",
                "direction",
                "external_number",
                "did",
                "extensions",
                "answered_by",
                "disposition",
                "talk_seconds",
                "pickups",
                "transfers",
                "conference",
                "recordings",
                "crm",
            )
        }
        assert call["started_at"].startswith("2026-11-27T03:48:0")
        assert 0 == await count(database_url, Lead)

    async def test_02_inbound_answered_unknown_caller_becomes_a_lead(self, traces, database_url):
        """
        An unknown caller answered by 101: a new lead, responsible 101's user, recording attached.
        """
        [call] = await replay(traces, "02_inbound_answered", database_url, seed={"users": SEED["users"]})

        assert ("inbound", "+79161234567", "+74951234567") == (
            call["direction"],
            call["external_number"],
            call["did"],
        )
        assert (["101"], "101", "answered", 3) == (
            call["extensions"],
            call["answered_by"],
            call["disposition"],
            call["talk_seconds"],
        )
        assert [MONITOR + "20261127-034809-in-+79161234567-101-1795751289.3.wav"] == call["recordings"]
        assert "lead" == call["crm"]["entity"]
        assert call["crm"]["created"] is True
        engine = make_engine(database_url)
        async with make_sessionmaker(engine)() as session:
            lead = await session.get(Lead, call["crm"]["id"])
            activity = await session.scalar(
                select(CallActivity).where(CallActivity.call_id == call["call_id"])
            )
            files = list(await session.scalars(select(Recording.path)))
        await engine.dispose()
        assert "Incoming call +79161234567" == lead.title
        assert "CALL" == lead.source
        assert lead.responsible_id is not None
        assert lead.id == activity.lead_id
        assert call["recordings"] == files

    async def test_02_known_caller_lands_on_the_contact_card(self, traces, database_url):
        """
        The caller is Anna Smirnova (saved as 8 (916) 123-45-67): her card, no lead.
        """
        [call] = await replay(traces, "02_inbound_answered", database_url, seed=SEED)

        assert {"entity": "contact", "id": 1, "created": False} == call["crm"]
        assert 1 == await count(database_url, Lead)  # only the seeded one

    async def test_03_missed_call_creates_a_lead_and_a_call_back_task(self, traces, database_url):
        """
        101 never answers: missed, no recording (the file is a bare header), a lead and a task.
        """
        [call] = await replay(traces, "03_inbound_missed", database_url, seed={"users": SEED["users"]})

        assert ("missed", None, ["101"], 0) == (
            call["disposition"],
            call["answered_by"],
            call["extensions"],
            call["talk_seconds"],
        )
        assert [] == call["recordings"]
        assert ("lead", True) == (call["crm"]["entity"], call["crm"]["created"])
        assert 1 == await count(database_url, Task)
        assert 0 == await count(database_url, Recording)

    async def test_09_outbound_answered_to_an_unknown_number(self, traces, database_url):
        """
        101 dials +74957654321: outbound, answered, a new lead for the unknown number.
        """
        [call] = await replay(traces, "09_outbound_answered", database_url, seed={"users": SEED["users"]})

        assert ("outbound", "+74957654321", None, "101", "answered", 3) == (
            call["direction"],
            call["external_number"],
            call["did"],
            call["answered_by"],
            call["disposition"],
            call["talk_seconds"],
        )
        assert 1 == len(call["recordings"])
        assert ("lead", True) == (call["crm"]["entity"], call["crm"]["created"])

    async def test_10_busy(self, traces, database_url):
        """
        102 is busy: an internal busy call, no recording, nothing in the CRM.
        """
        [call] = await replay(traces, "10_busy", database_url)

        assert ("internal", "busy", None, []) == (
            call["direction"],
            call["disposition"],
            call["answered_by"],
            call["recordings"],
        )
        assert "none" == call["crm"]["entity"]


class TestReplayTwice:
    @pytest.mark.parametrize("name", ["02_inbound_answered", "03_inbound_missed", "09_outbound_answered"])
    async def test_the_second_replay_creates_nothing(self, traces, database_url, name):
        """
        Same trace, same database: the same entity comes back, and no row is added anywhere.
        """
        [first] = await replay(traces, name, database_url)
        counts = [await count(database_url, model) for model in (Lead, CallActivity, Recording, Task)]

        [second] = await replay(traces, name, database_url)

        assert first["crm"]["id"] == second["crm"]["id"]
        assert second["crm"]["created"] is False
        assert counts == [await count(database_url, model) for model in (Lead, CallActivity, Recording, Task)]


class TestCommandLine:
    def test_json_output(self, traces, capsys):
        """
        `cti ami replay FILE --json` prints the call records.
        """
        import json

        code = main(["ami", "replay", str(traces / "02_inbound_answered.jsonl"), "--json"])

        calls = json.loads(capsys.readouterr().out)["calls"]
        assert 0 == code
        assert ["1795751289.3"] == [call["call_id"] for call in calls]

    def test_text_output_with_a_seed(self, traces, tmp_path, capsys):
        """
        The readable summary names the card the call landed on.
        """
        seed = tmp_path / "seed.yaml"
        seed.write_text('contacts: [{name: Anna Smirnova, phones: ["8 (916) 123-45-67"]}]\n')

        code = main(["ami", "replay", str(traces / "04_pickup_star11.jsonl"), "--seed", str(seed)])

        out = capsys.readouterr().out
        assert 0 == code
        assert "picked up by 103 from 102 with *11" in out
        assert "CRM: existing contact #1" in out

    def test_a_bad_seed_is_refused_with_the_place_named(self, traces, tmp_path, capsys):
        """
        A seed naming an unknown company fails before anything runs, and says where.
        """
        seed = tmp_path / "seed.yaml"
        seed.write_text('contacts: [{name: A, phones: ["+79161234567"], company: Nope}]\n')

        code = main(["ami", "replay", str(traces / "02_inbound_answered.jsonl"), "--seed", str(seed)])

        assert 1 == code
        assert "contacts[0].company" in capsys.readouterr().err
