"""GET /supervisor/recordings: search by day, agent, number, direction, outcome and client, limited to
the calls the user may listen to; a player per playable recording; the download link only with the
export right. The real app on a seeded SQLite copy, and a real MP3 made by ffmpeg."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import RecordingSettings
from crm_core.models import CallActivity, Contact, Department, DepartmentMember, Recording, User
from recordings import RecordingStore
from tests.recordings.conftest import write_sine
from web import keys
from web.views import recordings_console

from .conftest import KNOWN_CALLER, cookie_header

MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)


@pytest.fixture(name="settings")
def _settings(settings, tmp_path):
    """The web suite's settings with the recordings directory in the test's temp dir."""
    return settings.model_copy(update={"recordings": RecordingSettings(directory=tmp_path / "recordings")})


async def build_calls(app, settings, spool: Path, seconds: float = 3) -> dict[str, int]:
    """Sales (boss heads it, ivanov in it), Support (petrov); three calls, files spooled in *spool*.

    - ivanov's inbound answered call from Anna Smirnova (a contact) on the 25th: a real MP3;
    - ivanov's outbound missed call to +74950001122 on the 26th: a real MP3;
    - petrov's inbound call on the 27th, its recording still pending (no file).

    Returns user ids by login and the recording ids as ``rec_anna``, ``rec_out``, ``rec_petrov``.
    """
    store = RecordingStore(settings.recordings.directory)
    async with app[keys.DB]() as session:
        ids = {login: uid for login, uid in await session.execute(select(User.login, User.id))}
        sales = Department(name="Sales", head_id=ids["boss"])
        support = Department(name="Support")
        session.add_all([sales, support])
        await session.flush()
        session.add_all(
            [
                DepartmentMember(user_id=ids["ivanov"], department_id=sales.id),
                DepartmentMember(user_id=ids["petrov"], department_id=support.id),
            ]
        )
        contact_id = await session.scalar(select(Contact.id).where(Contact.name == "Anna Smirnova"))
        made: dict[str, int] = {}
        for key, call_id, started, direction, disposition, number, owner, playable in (
            ("rec_anna", "c-anna", MORNING, "inbound", "answered", KNOWN_CALLER, "ivanov", True),
            ("rec_out", "c-out", NOON, "outbound", "missed", "+74950001122", "ivanov", True),
            ("rec_petrov", "c-petrov", EVENING, "inbound", "answered", "+79990001122", "petrov", False),
        ):
            call = CallActivity(
                pbx_id="main",
                call_id=call_id,
                direction=direction,
                disposition=disposition,
                external_number=number,
                started_at=started,
                responsible_id=ids[owner],
                contact_id=contact_id if key == "rec_anna" else None,
            )
            row = Recording(call=call, pbx_id="main", call_id=call_id, path=str(spool / f"{call_id}.wav"))
            if playable:
                wav = write_sine(spool / f"{call_id}.wav", seconds)
                stored = await store.ingest(wav, call_id=call_id, started_at=started)
                row.status, row.storage_key, row.format = "converted", stored.key, "mp3"
                row.peaks_key, row.sha256 = stored.peaks_key, stored.sha256
            session.add_all([call, row])
            await session.flush()
            made[key] = row.id
        await session.commit()
    return {**ids, **made}


@pytest.fixture(name="world")
async def _world(client, app, settings, tmp_path) -> dict[str, int]:
    spool = tmp_path / "spool"
    spool.mkdir()
    return await build_calls(app, settings, spool)


async def console(client, app, user_id: int, query: str = "") -> tuple[int, str]:
    response = await client.get(
        f"/supervisor/recordings{query}", headers=cookie_header(app, user_id), allow_redirects=False
    )
    return response.status, await response.text()


def listed(html: str) -> list[int]:
    """The recording ids the results table lists, in order."""
    return [int(found) for found in re.findall(r'<tr data-recording="(\d+)">', html)]


class TestWhoSeesWhat:
    async def test_an_admin_sees_every_recording_newest_first(self, client, app, world):
        """All three, the newest call first."""
        admin = await _admin(app)
        status, html = await console(client, app, admin)

        assert 200 == status
        assert [world["rec_petrov"], world["rec_out"], world["rec_anna"]] == listed(html)
        assert "3 recordings found" in html

    async def test_the_supervisor_sees_the_departments_calls_only(self, client, app, world):
        """Boss heads Sales: ivanov's two calls, never petrov's (Support)."""
        _, html = await console(client, app, world["boss"])

        assert [world["rec_out"], world["rec_anna"]] == listed(html)

    async def test_an_agent_sees_their_own_calls_only(self, client, app, world):
        """Petrov has one call; ivanov's do not appear even when searched for by number."""
        _, html = await console(client, app, world["petrov"], "?number=74950001122")

        assert [] == listed(html)
        assert "No recordings match." in html
        _, own = await console(client, app, world["petrov"])
        assert [world["rec_petrov"]] == listed(own)

    async def test_anonymous_goes_to_the_login(self, client, world):
        """No session, no console."""
        response = await client.get("/supervisor/recordings", allow_redirects=False)

        assert 302 == response.status


class TestSearch:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("?start=2026-11-26", ["rec_petrov", "rec_out"]),
            ("?end=2026-11-25", ["rec_anna"]),
            ("?start=2026-11-26&end=2026-11-26", ["rec_out"]),
            ("?number=(495) 000-11", ["rec_out"]),
            ("?direction=outbound", ["rec_out"]),
            ("?outcome=answered", ["rec_petrov", "rec_anna"]),
            ("?client=smirnova", ["rec_anna"]),
            ("?direction=inbound&outcome=missed", []),
        ],
    )
    async def test_filters(self, client, app, world, query, expected):
        """Each filter narrows the admin's list; they combine."""
        _, html = await console(client, app, await _admin(app), query)

        assert [world[key] for key in expected] == listed(html)

    async def test_by_agent(self, client, app, world):
        """The agent filter is the call's responsible."""
        _, html = await console(client, app, await _admin(app), f"?agent={world['petrov']}")

        assert [world["rec_petrov"]] == listed(html)

    async def test_a_bad_date_is_named_and_ignored(self, client, app, world):
        """The page says which value it could not use and searches without it."""
        _, html = await console(client, app, await _admin(app), "?start=tomorrow")

        assert "Not a date (YYYY-MM-DD): tomorrow" in html
        assert 3 == len(listed(html))

    async def test_one_recording_as_the_audit_log_links_it(self, client, app, world):
        """?recording=ID lists that recording alone, says so, and offers the whole list again."""
        _, html = await console(client, app, await _admin(app), f"?recording={world['rec_out']}")

        assert [world["rec_out"]] == listed(html)
        assert f"Only recording {world['rec_out']}." in html
        assert '<a href="/supervisor/recordings">Show all</a>' in html

    async def test_the_client_column_names_the_card(self, client, app, world):
        """Anna's call shows her name, linked to her card."""
        _, html = await console(client, app, await _admin(app), "?client=anna")

        assert re.search(r'<a href="/crm/contact/\d+">Anna Smirnova</a>', html)


class TestPlayerAndDownload:
    async def test_playable_recordings_get_a_player_pending_ones_do_not(self, client, app, world):
        """An <audio> on /recordings/{id} for a converted file; "Not ready yet" for a pending one."""
        _, html = await console(client, app, await _admin(app))

        assert f'src="/recordings/{world["rec_anna"]}"' in html
        assert f'src="/recordings/{world["rec_petrov"]}"' not in html
        assert "Not ready yet" in html

    async def test_download_link_only_with_the_export_right(self, client, app, world):
        """Boss (supervisor: export in the department) gets the link; ivanov (agent) does not."""
        _, boss = await console(client, app, world["boss"])
        _, agent = await console(client, app, world["ivanov"])

        assert f'href="/recordings/{world["rec_anna"]}?download=1"' in boss
        assert f'src="/recordings/{world["rec_anna"]}"' in agent
        assert "download=1" not in agent

    async def test_the_player_source_serves_ranges(self, client, app, world):
        """The player's URL answers a Range request with 206, as the browser's seek needs."""
        response = await client.get(
            f"/recordings/{world['rec_anna']}",
            headers={**cookie_header(app, world["boss"]), "Range": "bytes=100-199"},
        )

        assert 206 == response.status
        assert 100 == len(await response.read())


class TestPaging:
    async def test_pages_link_to_each_other(self, client, app, world, monkeypatch):
        """With a page of two, the first page links to the next and the next back."""
        monkeypatch.setattr(recordings_console, "PAGE_SIZE", 2)
        admin = await _admin(app)
        _, first = await console(client, app, admin, "?direction=")
        assert [world["rec_petrov"], world["rec_out"]] == listed(first)
        assert 'href="/supervisor/recordings?offset=2"' in first

        _, second = await console(client, app, admin, "?offset=2")
        assert [world["rec_anna"]] == listed(second)
        assert 'href="/supervisor/recordings">' in second


async def _admin(app) -> int:
    """The admin user "root" (the seed has none), made on first use."""
    async with app[keys.DB]() as session:
        found = await session.scalar(select(User.id).where(User.login == "root"))
        if found is not None:
            return found
        admin = User(login="root", name="Root", role="admin")
        session.add(admin)
        await session.commit()
        return admin.id
