"""GET /recordings/{id}: rights on every request, audit, HTTP Range, peaks; the real app and a real MP3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from config.settings import RecordingSettings
from crm_core import audit
from crm_core.models import AuditEntry, CallActivity, Department, DepartmentMember, Recording, User
from recordings import RecordingStore
from tests.recordings.conftest import write_sine
from web import keys
from web.views.recordings import LISTEN_WINDOW

from .conftest import cookie_header

STARTED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture(name="settings")
def _settings(settings, tmp_path):
    """The web suite's settings with the recordings directory in the test's temp dir."""
    return settings.model_copy(update={"recordings": RecordingSettings(directory=tmp_path / "recordings")})


@pytest.fixture(name="org")
async def _org(client, app):
    """Sales (headed by boss, ivanov in it) and Support (petrov in it); user ids by login."""
    async with app[keys.DB]() as session:
        users = {login: uid for login, uid in await session.execute(select(User.login, User.id))}
        sales = Department(name="Sales", head_id=users["boss"])
        support = Department(name="Support")
        session.add_all([sales, support])
        await session.flush()
        session.add_all(
            [
                DepartmentMember(user_id=users["ivanov"], department_id=sales.id),
                DepartmentMember(user_id=users["petrov"], department_id=support.id),
            ]
        )
        await session.commit()
    return users


@pytest.fixture(name="recording")
async def _recording(app, org, settings, tmp_path) -> Recording:
    """Ivanov's call with a real 3-second recording, converted to MP3 by ffmpeg."""
    store = RecordingStore(settings.recordings.directory)
    spool = tmp_path / "spool"
    spool.mkdir()
    stored = await store.ingest(write_sine(spool / "c1.wav", 3), call_id="c1", started_at=STARTED)
    async with app[keys.DB]() as session:
        call = CallActivity(
            pbx_id="main",
            call_id="c1",
            direction="inbound",
            started_at=STARTED,
            responsible_id=org["ivanov"],
        )
        row = Recording(
            call=call,
            pbx_id="main",
            call_id="c1",
            path=str(spool / "c1.wav"),
            status="converted",
            storage_key=stored.key,
            peaks_key=stored.peaks_key,
            sha256=stored.sha256,
            format="mp3",
        )
        session.add_all([call, row])
        await session.commit()
    return row


def _bytes(settings, recording) -> bytes:
    return (Path(settings.recordings.directory) / recording.storage_key).read_bytes()


async def _audit(app, action: str) -> list:
    async with app[keys.DB]() as session:
        return [e for e in await audit.entries(session, action_prefix="recording.") if e.action == action]


class TestAccess:
    async def test_agent_plays_their_own_calls_recording(self, client, app, org, recording, settings):
        """
        The call's owner gets the whole MP3 as audio/mpeg, never cached, and the listen is audited.
        """
        response = await client.get(f"/recordings/{recording.id}", headers=cookie_header(app, org["ivanov"]))

        assert 200 == response.status
        assert "audio/mpeg" == response.headers["Content-Type"]
        assert "private, no-store" == response.headers["Cache-Control"]
        assert _bytes(settings, recording) == await response.read()
        [entry] = await _audit(app, "recording.listen")
        assert (org["ivanov"], "ivanov", f"recording:{recording.id}") == (
            entry.user_id,
            entry.actor,
            entry.target,
        )
        assert "c1" == entry.details["call_id"]

    async def test_colleague_in_another_department_gets_403(self, client, app, org, recording):
        """
        Petrov (Support) may not listen to Ivanov's (Sales) call; the refusal is audited.
        """
        response = await client.get(f"/recordings/{recording.id}", headers=cookie_header(app, org["petrov"]))

        assert 403 == response.status
        assert "forbidden" == (await response.json())["error_id"]
        [entry] = await _audit(app, "recording.denied")
        assert (org["petrov"], "read") == (entry.user_id, entry.details["wanted"])
        assert [] == await _audit(app, "recording.listen")

    async def test_supervisor_of_the_department_can_listen(self, client, app, org, recording):
        """
        The head of Sales hears the calls of Sales.
        """
        response = await client.get(f"/recordings/{recording.id}", headers=cookie_header(app, org["boss"]))
        assert 200 == response.status

    async def test_download_without_export_right_is_403(self, client, app, org, recording):
        """
        An agent may listen to their call but not download it (agents have no export right).
        """
        response = await client.get(
            f"/recordings/{recording.id}?download=1", headers=cookie_header(app, org["ivanov"])
        )
        assert 403 == response.status
        [entry] = await _audit(app, "recording.denied")
        assert "export" == entry.details["wanted"]

    async def test_supervisor_downloads_as_an_attachment(self, client, app, org, recording):
        """
        With the export right, ?download=1 is an attachment named after the stored file, audited.
        """
        response = await client.get(
            f"/recordings/{recording.id}?download=1", headers=cookie_header(app, org["boss"])
        )

        assert 200 == response.status
        assert 'attachment; filename="c1.mp3"' == response.headers["Content-Disposition"]
        assert 1 == len(await _audit(app, "recording.download"))

    async def test_not_logged_in_is_sent_to_login(self, client, recording):
        """
        Without a session the page redirects to the login form.
        """
        response = await client.get(f"/recordings/{recording.id}", allow_redirects=False)
        assert 302 == response.status

    async def test_unknown_recording_is_404(self, client, app, org, recording):
        """
        An id with no row is 404, with a message naming it.
        """
        response = await client.get(
            f"/recordings/{recording.id + 1}", headers=cookie_header(app, org["boss"])
        )
        assert 404 == response.status
        assert f"No recording {recording.id + 1}" == (await response.json())["message"]


class TestRange:
    async def test_first_hundred_bytes(self, client, app, org, recording, settings):
        """
        Range: bytes=0-99 is 206 with exactly those bytes and their Content-Range.
        """
        data = _bytes(settings, recording)
        response = await client.get(
            f"/recordings/{recording.id}",
            headers={**cookie_header(app, org["ivanov"]), "Range": "bytes=0-99"},
        )

        assert 206 == response.status
        assert f"bytes 0-99/{len(data)}" == response.headers["Content-Range"]
        assert data[:100] == await response.read()
        [entry] = await _audit(app, "recording.listen")
        assert "bytes=0-99" == entry.details["range"]

    async def test_suffix_range(self, client, app, org, recording, settings):
        """
        Range: bytes=-500 is the last 500 bytes.
        """
        data = _bytes(settings, recording)
        response = await client.get(
            f"/recordings/{recording.id}",
            headers={**cookie_header(app, org["ivanov"]), "Range": "bytes=-500"},
        )

        assert 206 == response.status
        assert f"bytes {len(data) - 500}-{len(data) - 1}/{len(data)}" == response.headers["Content-Range"]
        assert data[-500:] == await response.read()

    async def test_open_ended_range(self, client, app, org, recording, settings):
        """
        Range: bytes=1000- is everything from byte 1000 (how a player seeks).
        """
        data = _bytes(settings, recording)
        response = await client.get(
            f"/recordings/{recording.id}",
            headers={**cookie_header(app, org["ivanov"]), "Range": "bytes=1000-"},
        )

        assert 206 == response.status
        assert data[1000:] == await response.read()

    async def test_unsatisfiable_range_is_416(self, client, app, org, recording, settings):
        """
        A range past the end is 416 with the size in Content-Range.
        """
        size = len(_bytes(settings, recording))
        response = await client.get(
            f"/recordings/{recording.id}",
            headers={**cookie_header(app, org["ivanov"]), "Range": f"bytes={size + 10}-"},
        )

        assert 416 == response.status
        assert f"bytes */{size}" == response.headers["Content-Range"]

    async def test_range_requests_are_checked_too(self, client, app, org, recording):
        """
        A seek (a Range request) by someone without the right is refused like any other request.
        """
        response = await client.get(
            f"/recordings/{recording.id}",
            headers={**cookie_header(app, org["petrov"]), "Range": "bytes=0-99"},
        )
        assert 403 == response.status


class TestListenAudit:
    """One listening is one ``recording.listen``, whatever the player's Range requests."""

    async def _get(self, client, app, org, recording, range_: str | None, who: str = "ivanov"):
        headers = {**cookie_header(app, org[who]), **({"Range": range_} if range_ else {})}
        response = await client.get(f"/recordings/{recording.id}", headers=headers)
        assert response.status in {200, 206}
        await response.read()

    async def test_seeks_within_a_listening_are_not_audited_again(self, client, app, org, recording):
        """
        Play from the start, then two seeks (one to the end, as a player reads the duration): one entry.
        """
        for range_ in ("bytes=0-", "bytes=1000-", "bytes=-500"):
            await self._get(client, app, org, recording, range_)

        assert ["bytes=0-"] == [e.details["range"] for e in await _audit(app, "recording.listen")]

    async def test_a_listening_that_begins_with_a_seek_is_audited(self, client, app, org, recording):
        """
        The first request is already a seek: it is the listen on the trail; the next seek is not.
        """
        await self._get(client, app, org, recording, "bytes=1000-")
        await self._get(client, app, org, recording, "bytes=2000-")

        assert ["bytes=1000-"] == [e.details["range"] for e in await _audit(app, "recording.listen")]

    async def test_every_play_from_the_start_is_a_listen(self, client, app, org, recording):
        """
        Playing it again from the beginning (no Range, or from byte 0) is another listening.
        """
        await self._get(client, app, org, recording, None)
        await self._get(client, app, org, recording, "bytes=0-99")

        assert 2 == len(await _audit(app, "recording.listen"))

    async def test_a_seek_long_after_the_last_listen_is_audited(self, client, app, org, recording):
        """
        A seek when this user's last listen of it is older than the window counts as a new listen.
        """
        await self._get(client, app, org, recording, "bytes=0-")
        async with app[keys.DB]() as session:
            await session.execute(
                update(AuditEntry)
                .where(AuditEntry.action == "recording.listen")
                .values(at=datetime.now(UTC) - LISTEN_WINDOW - timedelta(minutes=1))
            )
            await session.commit()

        await self._get(client, app, org, recording, "bytes=1000-")

        assert 2 == len(await _audit(app, "recording.listen"))

    async def test_another_users_listen_does_not_cover_mine(self, client, app, org, recording):
        """
        boss listened; ivanov's first request, a seek, is still ivanov's listen.
        """
        await self._get(client, app, org, recording, "bytes=0-", who="boss")
        await self._get(client, app, org, recording, "bytes=1000-")

        assert ["boss", "ivanov"] == sorted(e.actor for e in await _audit(app, "recording.listen"))

    async def test_every_download_is_audited(self, client, app, org, recording):
        """
        Downloads are not listens: each one is on the trail.
        """
        for _ in range(2):
            response = await client.get(
                f"/recordings/{recording.id}?download=1", headers=cookie_header(app, org["boss"])
            )
            assert 200 == response.status
            await response.read()

        assert 2 == len(await _audit(app, "recording.download"))


class TestPeaks:
    async def test_peaks_for_who_may_listen(self, client, app, org, recording):
        """
        The waveform is JSON for the owner, 403 for a colleague of another department.
        """
        url = f"/recordings/{recording.id}/peaks"
        mine = await client.get(url, headers=cookie_header(app, org["ivanov"]))
        theirs = await client.get(url, headers=cookie_header(app, org["petrov"]))

        assert (200, 403) == (mine.status, theirs.status)
        assert 800 == (await mine.json())["length"]


class TestNotPlayable:
    async def test_failed_recording_is_409(self, client, app, org, recording):
        """
        A recording marked failed (a corrupt file kept aside) is not served as audio.
        """
        async with app[keys.DB]() as session:
            row = await session.get(Recording, recording.id)
            row.status = "failed"
            await session.commit()

        response = await client.get(f"/recordings/{recording.id}", headers=cookie_header(app, org["ivanov"]))

        assert 409 == response.status
        assert "recording-not-ready" == (await response.json())["error_id"]
