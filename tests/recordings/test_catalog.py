"""The database side of recordings: retention, legal hold, rescan, serving look-ups, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from config.settings import RetentionPolicy
from crm_core import audit
from crm_core.errors import NotFound
from crm_core.models import CallActivity, Recording
from crm_core.recording_rescan import rescan
from crm_core.recording_retention import apply_retention, policy_days, set_legal_hold
from crm_core.recordings import load_access
from crm_core.users import create_user
from cti.model import Direction
from recordings.state import RecordingStatus

from .conftest import write_sine
from .helpers import PBX, call_with, log_call, recordings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DID = "+74951234567"
POLICIES = (
    RetentionPolicy(direction="inbound", days=180),
    RetentionPolicy(did=DID, days=365),
    RetentionPolicy(days=90),
)


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _stored_call(tmp_path, sessionmaker, pipelines, call_id: str, age_days: int, **changes):
    """A logged call *age_days* old with its recording stored, converted and linked."""
    started = NOW - timedelta(days=age_days)
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    source = write_sine(spool / f"{call_id}.wav", 1)
    await log_call(sessionmaker, call_with(source, call_id, started_at=started, **changes))
    await pipelines(tmp_path / "store", sessionmaker).submit(call_id, str(source), started)


class TestPolicyMatching:
    def test_first_matching_policy_wins(self):
        """
        Inbound matches the first policy even on the DID of the second; outbound on the DID gets the second.
        """
        assert 180 == policy_days(POLICIES, "inbound", DID)
        assert 365 == policy_days(POLICIES, "outbound", DID)
        assert 90 == policy_days(POLICIES, "internal", None)

    def test_no_match_keeps_forever(self):
        """
        Without a catch-all policy, a call no policy names is kept (None).
        """
        assert None is policy_days(POLICIES[:1], "outbound", None)


class TestRetention:
    async def test_expired_recording_goes_with_its_files_and_an_audit_entry(
        self, tmp_path, sessionmaker, pipelines
    ):
        """
        A 200-day-old inbound call (policy 180 days) loses files and row, audited. A young one stays.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "old.1", 200)
        await _stored_call(tmp_path, sessionmaker, pipelines, "young.1", 10)
        store = pipelines(tmp_path / "store", sessionmaker).store

        async with sessionmaker() as session:
            report = await apply_retention(session, store, POLICIES, now=NOW, actor="cli:test")

        assert ["old.1"] == [e.call_id for e in report.expired]
        assert ["young.1"] == [r.call_id for r in await recordings(sessionmaker)]
        assert not any("old.1" in f for f in _files(tmp_path / "store"))
        assert any("young.1" in f for f in _files(tmp_path / "store"))
        async with sessionmaker() as session:
            [entry] = await audit.entries(session, action_prefix="recording.delete")
        assert ("cli:test", 180, "retention") == (
            entry.actor,
            entry.details["policy_days"],
            entry.details["reason"],
        )
        assert 3 == len(entry.details["files"])  # audio, peaks, sidecar

    async def test_legal_hold_exempts_the_call(self, tmp_path, sessionmaker, pipelines):
        """
        A call on legal hold keeps its expired recording; the report counts it as held.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "held.1", 400)
        async with sessionmaker() as session:
            assert await set_legal_hold(session, pbx_id=PBX, call_id="held.1", hold=True, actor="cli:test")
            await session.commit()
        store = pipelines(tmp_path / "store", sessionmaker).store

        async with sessionmaker() as session:
            report = await apply_retention(session, store, POLICIES, now=NOW, actor="retention")

        assert ([], 1) == (report.expired, report.held)
        assert 1 == len(await recordings(sessionmaker))
        async with sessionmaker() as session:
            [entry] = await audit.entries(session, action_prefix="recording.hold")
        assert "held.1" == entry.details["call_id"]

    async def test_dry_run_lists_and_deletes_nothing(self, tmp_path, sessionmaker, pipelines):
        """
        --dry-run names what would go and leaves files and rows alone.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "old.2", 200, direction=Direction.OUTBOUND)
        store = pipelines(tmp_path / "store", sessionmaker).store
        before = _files(tmp_path / "store")

        async with sessionmaker() as session:
            report = await apply_retention(session, store, POLICIES, now=NOW, actor="x", dry_run=True)

        assert [("old.2", 90)] == [(e.call_id, e.policy_days) for e in report.expired]  # the catch-all
        assert before == _files(tmp_path / "store")
        assert 1 == len(await recordings(sessionmaker))

    async def test_hold_of_an_unknown_call_says_so(self, sessionmaker):
        """
        Holding a call the call log does not have raises NotFound naming it.
        """
        async with sessionmaker() as session:
            with pytest.raises(NotFound, match="main/nope"):
                await set_legal_hold(session, pbx_id=PBX, call_id="nope", hold=True, actor="x")

    async def test_release_is_audited_and_unchanged_twice(self, tmp_path, sessionmaker, pipelines):
        """
        Release after hold flips the flag back (audited); releasing again changes nothing.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "c.3", 1)
        async with sessionmaker() as session:
            await set_legal_hold(session, pbx_id=PBX, call_id="c.3", hold=True, actor="a")
            assert await set_legal_hold(session, pbx_id=PBX, call_id="c.3", hold=False, actor="a")
            assert not await set_legal_hold(session, pbx_id=PBX, call_id="c.3", hold=False, actor="a")
            await session.commit()
            held = await session.scalar(select(CallActivity.legal_hold).where(CallActivity.call_id == "c.3"))
            releases = await audit.entries(session, action_prefix="recording.release")
        assert (False, 1) == (held, len(releases))


class TestRescan:
    async def test_deleted_row_is_rebuilt_from_the_sidecar_and_relinked(
        self, tmp_path, sessionmaker, pipelines
    ):
        """
        After the row is lost, rescan rebuilds it from the sidecar with the same key and checksum, linked.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "lost.1", 1)
        [before] = await recordings(sessionmaker)
        async with sessionmaker() as session:
            await session.execute(delete(Recording))
            await session.commit()
        store = pipelines(tmp_path / "store", sessionmaker).store

        async with sessionmaker() as session:
            report = await rescan(session, store, pbx_id=PBX)

        [after] = await recordings(sessionmaker)
        assert [before.storage_key] == report.rebuilt
        assert (before.storage_key, before.sha256, before.call_pk, before.path) == (
            after.storage_key,
            after.sha256,
            after.call_pk,
            after.path,
        )
        assert "converted" == after.status
        assert ([], []) == (report.orphan_files, report.missing_files)

    async def test_orphans_are_reported_and_nothing_is_deleted(self, tmp_path, sessionmaker, pipelines):
        """
        A file whose call is not logged and a row whose file is gone are both reported; no file is removed.
        """
        pipeline = pipelines(tmp_path / "store", sessionmaker)
        stray = write_sine(tmp_path / "stray.wav", 1)
        await pipeline.submit("stray.1", str(stray), NOW)  # no call logged for it
        await _stored_call(tmp_path, sessionmaker, pipelines, "gone.1", 1)
        gone = next(r for r in await recordings(sessionmaker) if r.call_id == "gone.1")
        (tmp_path / "store" / gone.storage_key).unlink()
        before = _files(tmp_path / "store")

        async with sessionmaker() as session:
            report = await rescan(session, pipeline.store, pbx_id=PBX)

        assert ["2026/11/27/stray.1.mp3"] == report.orphan_files
        assert [(gone.id, gone.storage_key)] == report.missing_files
        assert before == _files(tmp_path / "store")

    async def test_file_without_sidecar_is_read_from_the_layout(self, tmp_path, sessionmaker, pipelines):
        """
        With the sidecar gone too, the row comes back from YYYY/MM/DD/<call_id>.mp3 and links to its call.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "bare.1", 1)
        [before] = await recordings(sessionmaker)
        async with sessionmaker() as session:
            await session.execute(delete(Recording))
            await session.commit()
        (tmp_path / "store" / before.storage_key).with_suffix(".meta.json").unlink()
        store = pipelines(tmp_path / "store", sessionmaker).store

        async with sessionmaker() as session:
            report = await rescan(session, store, pbx_id=PBX)

        [after] = await recordings(sessionmaker)
        assert [before.storage_key] == report.rebuilt
        assert (before.call_pk, before.sha256, "converted") == (after.call_pk, after.sha256, after.status)


class TestLoadAccess:
    async def test_serving_sees_the_calls_owner_and_nothing_for_an_unknown_id(
        self, tmp_path, sessionmaker, pipelines
    ):
        """
        What GET /recordings/{id} checks: the recording's key and status with its call's responsible user.
        """
        await _stored_call(tmp_path, sessionmaker, pipelines, "own.1", 1)
        [row] = await recordings(sessionmaker)
        async with sessionmaker() as session:
            owner = await create_user(session, login="ivanov", name="Ivan", password=None)
            await session.execute(
                update(CallActivity).where(CallActivity.id == row.call_pk).values(responsible_id=owner.id)
            )
            access = await load_access(session, row.id)
            missing = await load_access(session, row.id + 1)

        assert (row.storage_key, RecordingStatus.CONVERTED, "own.1", owner.id) == (
            access.storage_key,
            access.status,
            access.call_id,
            access.responsible_id,
        )
        assert None is missing
