"""search_recordings on both databases: limited to the calls the principal may listen to, each filter,
paging, and what each hit offers (client, player, download); agent_choices for the agent filter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from crm_core.access import load_principal
from crm_core.models import (
    CallActivity,
    Company,
    Contact,
    Department,
    DepartmentMember,
    Lead,
    Recording,
    User,
)
from crm_core.recordings_search import RecordingSearch, agent_choices, search_recordings
from crm_core.rights import Forbidden, Principal

MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)


@pytest.fixture(name="world")
async def _world(session) -> dict[str, int]:
    """Sales (boss heads it, ivanov in it), Support (petrov); three recorded calls.

    - ``anna``: ivanov's inbound answered call from the contact Anna Smirnova, the 25th, converted;
    - ``out``: ivanov's outbound missed call to the company Romashka, the 26th, stored (not converted);
    - ``petrov``: petrov's inbound answered call about the lead "Website request", the 27th, pending.
    """
    users = {
        login: User(login=login, name=name, role=role)
        for login, name, role in (
            ("root", "Root", "admin"),
            ("boss", "Boris Boss", "supervisor"),
            ("ivanov", "Ivan Ivanov", "agent"),
            ("petrov", "Petr Petrov", "agent"),
            ("gone", "Anton Gone", "agent"),
        )
    }
    users["gone"].is_active = False
    session.add_all(users.values())
    await session.flush()
    sales = Department(name="Sales", head_id=users["boss"].id)
    support = Department(name="Support")
    contact = Contact(name="Anna Smirnova", responsible_id=users["ivanov"].id)
    company = Company(title="Romashka LLC", responsible_id=users["ivanov"].id)
    lead = Lead(title="Website request", responsible_id=users["petrov"].id)
    session.add_all([sales, support, contact, company, lead])
    await session.flush()
    session.add_all(
        [
            DepartmentMember(user_id=users["ivanov"].id, department_id=sales.id),
            DepartmentMember(user_id=users["petrov"].id, department_id=support.id),
        ]
    )
    ids = {login: user.id for login, user in users.items()}
    for key, started, direction, disposition, number, owner, card, status in (
        (
            "anna",
            MORNING,
            "inbound",
            "answered",
            "+79161234567",
            "ivanov",
            ("contact", contact.id),
            "converted",
        ),
        ("out", NOON, "outbound", "missed", "+74950001122", "ivanov", ("company", company.id), "stored"),
        ("petrov", EVENING, "inbound", "answered", "+79990001122", "petrov", ("lead", lead.id), "pending"),
    ):
        call = CallActivity(
            pbx_id="main",
            call_id=f"c-{key}",
            direction=direction,
            disposition=disposition,
            external_number=number,
            started_at=started,
            talk_seconds=42,
            responsible_id=ids[owner],
            **{f"{card[0]}_id": card[1]},
        )
        recording = Recording(
            call=call, pbx_id="main", call_id=f"c-{key}", path=f"/spool/c-{key}.wav", status=status
        )
        session.add_all([call, recording])
        await session.flush()
        ids[f"rec_{key}"] = recording.id
    await session.commit()
    return ids


async def found(session, world, login: str, search: RecordingSearch | None = None) -> list[int]:
    principal = await load_principal(session, world[login])
    _total, hits = await search_recordings(
        session, principal, search or RecordingSearch(), offset=0, limit=50
    )
    return [hit.id for hit in hits]


class TestWhoSeesWhat:
    async def test_an_admin_sees_every_recording_newest_first(self, session, world):
        """All three, the newest call first, and the total says so."""
        principal = await load_principal(session, world["root"])

        total, hits = await search_recordings(session, principal, RecordingSearch(), offset=0, limit=50)

        assert 3 == total
        assert [world["rec_petrov"], world["rec_out"], world["rec_anna"]] == [hit.id for hit in hits]

    async def test_the_supervisor_sees_the_departments_calls_only(self, session, world):
        """Boss heads Sales: ivanov's two calls, never petrov's (Support)."""
        assert [world["rec_out"], world["rec_anna"]] == await found(session, world, "boss")

    async def test_an_agent_sees_their_own_calls_only(self, session, world):
        """Petrov has one call; ivanov's stay hidden even when searched for by number."""
        assert [world["rec_petrov"]] == await found(session, world, "petrov")
        assert [] == await found(session, world, "petrov", RecordingSearch(number="74950001122"))

    async def test_without_the_call_read_right_it_is_forbidden(self, session, world):
        """A user with no right on calls at all is refused rather than shown an empty list."""
        nobody = Principal(user_id=world["ivanov"], login="ivanov")

        with pytest.raises(Forbidden):
            await search_recordings(session, nobody, RecordingSearch(), offset=0, limit=50)


class TestFilters:
    async def test_one_recording_by_id_and_only_if_visible(self, session, world):
        """The audit log links a recording's entries to it: admin finds it, another agent does not."""
        one = RecordingSearch(recording_id=world["rec_anna"])

        assert [world["rec_anna"]] == await found(session, world, "root", one)
        assert [] == await found(session, world, "petrov", one)

    @pytest.mark.parametrize(
        ("search", "expected"),
        [
            (RecordingSearch(start=date(2026, 11, 26)), ["petrov", "out"]),
            (RecordingSearch(end=date(2026, 11, 25)), ["anna"]),
            (RecordingSearch(start=date(2026, 11, 26), end=date(2026, 11, 26)), ["out"]),
            (RecordingSearch(number="49500011"), ["out"]),
            (RecordingSearch(direction="outbound"), ["out"]),
            (RecordingSearch(outcome="answered"), ["petrov", "anna"]),
            (RecordingSearch(client="SMIRNOVA"), ["anna"]),
            (RecordingSearch(client="romashka"), ["out"]),
            (RecordingSearch(client="website"), ["petrov"]),
            (RecordingSearch(direction="inbound", outcome="missed"), []),
            # 18:30 UTC on the 27th is 04:30 on the 28th in Vladivostok: the office's day, not UTC's.
            (RecordingSearch(start=date(2026, 11, 28)), []),
            (RecordingSearch(start=date(2026, 11, 28), zone=ZoneInfo("Asia/Vladivostok")), ["petrov"]),
            (RecordingSearch(end=date(2026, 11, 27), zone=ZoneInfo("Asia/Vladivostok")), ["out", "anna"]),
        ],
    )
    async def test_each_filter_narrows_and_they_combine(self, session, world, search, expected):
        """Days (UTC, both included), number digits anywhere, direction, outcome, client in any case."""
        assert [world[f"rec_{key}"] for key in expected] == await found(session, world, "root", search)

    async def test_by_agent(self, session, world):
        """The agent filter is the call's responsible."""
        search = RecordingSearch(agent_id=world["petrov"])

        assert [world["rec_petrov"]] == await found(session, world, "root", search)


class TestHits:
    async def test_paging_keeps_the_total(self, session, world):
        """A page of two, then the rest; the total counts every match each time."""
        principal = await load_principal(session, world["root"])

        first = await search_recordings(session, principal, RecordingSearch(), offset=0, limit=2)
        second = await search_recordings(session, principal, RecordingSearch(), offset=2, limit=2)

        assert (3, [world["rec_petrov"], world["rec_out"]]) == (first[0], [hit.id for hit in first[1]])
        assert (3, [world["rec_anna"]]) == (second[0], [hit.id for hit in second[1]])

    async def test_client_agent_and_playable(self, session, world):
        """The client names the call's card (contact, company or lead); a pending file is not playable."""
        principal = await load_principal(session, world["root"])

        _total, hits = await search_recordings(session, principal, RecordingSearch(), offset=0, limit=50)

        assert [
            ("Website request", "Petr Petrov", False, "+79990001122"),
            ("Romashka LLC", "Ivan Ivanov", True, "+74950001122"),
            ("Anna Smirnova", "Ivan Ivanov", True, "+79161234567"),
        ] == [(hit.client, hit.agent, hit.playable, hit.number) for hit in hits]
        assert ["lead", "company", "contact"] == [hit.client_card[0] for hit in hits if hit.client_card]

    async def test_download_only_with_the_export_right(self, session, world):
        """Boss (supervisor: export in the department) may download; ivanov (agent) may only listen."""
        boss = await load_principal(session, world["boss"])
        ivanov = await load_principal(session, world["ivanov"])

        _, boss_hits = await search_recordings(session, boss, RecordingSearch(), offset=0, limit=50)
        _, agent_hits = await search_recordings(session, ivanov, RecordingSearch(), offset=0, limit=50)

        assert [True, True] == [hit.can_download for hit in boss_hits]
        assert [False, False] == [hit.can_download for hit in agent_hits]


class TestAgentChoices:
    async def test_active_users_by_name(self, session, world):
        """Every active user, sorted by name; a disabled one is not offered."""
        assert [
            (world["boss"], "Boris Boss"),
            (world["ivanov"], "Ivan Ivanov"),
            (world["petrov"], "Petr Petrov"),
            (world["root"], "Root"),
        ] == await agent_choices(session)
