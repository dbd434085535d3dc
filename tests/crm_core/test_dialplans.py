"""Dialplan history, the audit trail, and the one apply path, on SQLite and PostgreSQL.

The apply path (``web.dialplan.DialplanService``) is tested here against both databases with the
real migrations: what it promises is about the database and the file moving together.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import files as atomic_file
from config.settings import Settings
from crm_core import audit, dialplans
from crm_core.errors import Invalid, NotFound
from crm_core.migrate import alembic_config, upgrade
from crm_core.models import AuditEntry, DialplanVersion, User
from cti.plan import EMPTY_PLAN, RunningPlan, text_sha256
from tests.dialplans import INVALID, plan
from web.dialplan import DialplanInvalid, DialplanService, PlanChanged


@pytest.fixture(name="dialplan_path")
def _dialplan_path(tmp_path) -> Path:
    return tmp_path / "config" / "dialplan.yaml"


@pytest.fixture(name="cti_settings")
def _cti_settings(dialplan_path) -> Settings:
    return Settings(dialplan=dialplan_path)


@pytest.fixture(name="running")
def _running() -> RunningPlan:
    return RunningPlan()


@pytest.fixture(name="service")
def _service(sessionmaker, running, cti_settings) -> DialplanService:
    return DialplanService(sessionmaker, running, cti_settings)


async def versions(sessionmaker) -> list[DialplanVersion]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(DialplanVersion).order_by(DialplanVersion.id)))


async def audit_entries(sessionmaker) -> list[AuditEntry]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def add_admin(sessionmaker) -> int:
    async with sessionmaker() as session:
        user = User(login="root", name="Root Admin", role="admin")
        session.add(user)
        await session.commit()
        return user.id


class TestMigration:
    async def test_tables_exist_at_head(self, engine):
        """
        Revision 0002 creates the history and the audit tables.
        """
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("dialplan_version")}
            )

        assert {"dialplan_version", "audit_entry"} <= names
        assert {
            "id",
            "text",
            "sha256",
            "applied_by_id",
            "applied_by_name",
            "applied_at",
            "comment",
            "source",
            "rolled_back_from",
        } == columns

    async def test_downgrade_to_0001_and_up_again(self, blank_engine):
        """
        0002 downgrades cleanly (both tables gone) and upgrades again.
        """
        engine = blank_engine
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
        async with engine.connect() as conn:
            after_down = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        await upgrade(engine)
        async with engine.connect() as conn:
            after_up = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

        assert not {"dialplan_version", "audit_entry"} & after_down
        assert {"dialplan_version", "audit_entry"} <= after_up

    async def test_source_is_checked_by_the_database(self, session):
        """
        A source outside the known set is refused by the CHECK constraint, not only by Python.
        """
        session.add(DialplanVersion(text="", sha256="x", applied_by_name="t", source="ftp", comment=""))

        with pytest.raises(IntegrityError, match=r"(?i)check"):
            await session.flush()


class TestHistory:
    async def test_versions_are_numbered_and_listed_newest_first(self, session):
        """
        Each added version gets the next id; listings come newest first and without texts.
        """
        first = await dialplans.add_version(session, text="a: 1\n", source="cli", applied_by_name="cli:root")
        second = await dialplans.add_version(session, text="a: 2\n", source="web", applied_by_name="admin")
        await session.commit()

        listed = await dialplans.list_versions(session)
        latest = await dialplans.latest_version(session)

        assert [second.id, first.id] == [v.id for v in listed]
        assert first.id < second.id
        assert ["", ""] == [v.text for v in listed]
        assert "a: 2\n" == latest.text
        assert text_sha256("a: 2\n") == latest.sha256

    async def test_unknown_version_and_unknown_source(self, session):
        """
        A missing id is NotFound; a source outside the enum is Invalid before any SQL.
        """
        with pytest.raises(NotFound):
            await dialplans.get_version(session, 99)
        with pytest.raises(Invalid):
            await dialplans.add_version(session, text="", source="ftp", applied_by_name="x")
        assert None is await dialplans.latest_version(session)

    async def test_history_survives_the_user(self, sessionmaker):
        """
        Deleting the user who applied a version keeps the version and their name on it.
        """
        admin_id = await add_admin(sessionmaker)
        async with sessionmaker() as session:
            await dialplans.add_version(
                session, text="x: 1\n", source="web", applied_by_name="root", applied_by_id=admin_id
            )
            await audit.record(session, action="dialplan.apply", actor="root", user_id=admin_id)
            await session.commit()
        async with sessionmaker() as session:
            await session.delete(await session.get(User, admin_id))
            await session.commit()

        [version] = await versions(sessionmaker)
        [entry] = await audit_entries(sessionmaker)
        assert (None, "root") == (version.applied_by_id, version.applied_by_name)
        assert (None, "root") == (entry.user_id, entry.actor)

    async def test_audit_entries_filter_by_action_prefix(self, session):
        """
        The audit trail is generic: entries of any area, filtered by their action's prefix.
        """
        await audit.record(session, action="dialplan.apply", actor="root", target="dialplan_version:1")
        await audit.record(session, action="users.add", actor="root", details={"login": "x"})
        await session.commit()

        dialplan = await audit.entries(session, action_prefix="dialplan.")
        every = await audit.entries(session)

        assert ["dialplan.apply"] == [e.action for e in dialplan]
        assert ["users.add", "dialplan.apply"] == [e.action for e in every]
        assert {"login": "x"} == every[0].details


class TestApply:
    async def test_apply_records_writes_and_runs(self, service, running, sessionmaker, dialplan_path):
        """
        A new text becomes version 1, the file, and the running plan; the audit names who and what.
        """
        admin_id = await add_admin(sessionmaker)
        text = plan()

        result = await service.apply(text, actor="root", user_id=admin_id, source="web", comment="first")

        [version] = await versions(sessionmaker)
        [entry] = await audit_entries(sessionmaker)
        assert ("applied", version.id) == (result.outcome, result.version)
        assert "applied version 1" == result.message
        assert text == dialplan_path.read_text(encoding="utf-8")
        assert (text, version.id) == (running.text, running.version)
        assert "Ivan Ivanov" == running.spec.extensions["101"].name
        assert (text, "web", "root", admin_id, "first") == (
            version.text,
            version.source,
            version.applied_by_name,
            version.applied_by_id,
            version.comment,
        )
        assert ("dialplan.apply", "root", admin_id, f"dialplan_version:{version.id}") == (
            entry.action,
            entry.actor,
            entry.user_id,
            entry.target,
        )
        assert "web" == entry.details["source"]

    async def test_invalid_text_changes_nothing(self, service, running, sessionmaker, dialplan_path):
        """
        Errors come back with their lines; the file's bytes, the running plan and the history stay.
        """
        await service.apply(plan(), actor="root", source="cli")
        before = dialplan_path.read_bytes()
        snapshot = running.current

        with pytest.raises(DialplanInvalid) as caught:
            await service.apply(INVALID, actor="root", source="web")

        assert [3] == sorted({issue.line for issue in caught.value.issues})
        assert all(str(issue).startswith(f"{dialplan_path}:3:") for issue in caught.value.issues)
        assert before == dialplan_path.read_bytes()
        assert snapshot is running.current
        assert 1 == len(await versions(sessionmaker))
        assert 1 == len(await audit_entries(sessionmaker))

    async def test_identical_text_makes_no_new_version(self, service, sessionmaker):
        """
        Applying the running text again says so and records nothing.
        """
        first = await service.apply(plan(), actor="root", source="cli")

        again = await service.apply(plan(), actor="root", source="web")

        assert ("unchanged", first.version) == (again.outcome, again.version)
        assert f"already running (version {first.version})" == again.message
        assert 1 == len(await versions(sessionmaker))

    async def test_concurrent_applies_are_serialised(self, service, running, sessionmaker, dialplan_path):
        """
        Ten applies at once: ten versions, swapped in version order, and file, plan and history agree.
        """
        swaps: list[tuple[int | None, int | None]] = []
        running.subscribe(lambda old, new: swaps.append((old.version, new.version)))
        texts = [plan(f"Agent {n}") for n in range(10)]

        results = await asyncio.gather(*(service.apply(t, actor="root", source="web") for t in texts))

        stored = await versions(sessionmaker)
        ids = [v.id for v in stored]
        assert 10 == len(stored)
        assert sorted(texts) == sorted(v.text for v in stored)
        assert sorted(ids) == sorted(r.version for r in results)
        assert {"applied"} == {r.outcome for r in results}
        # No interleaving: each swap starts from the version before it, in id order.
        assert list(zip([None, *ids[:-1]], ids, strict=True)) == swaps
        assert stored[-1].text == running.text == dialplan_path.read_text(encoding="utf-8")
        assert stored[-1].id == running.version
        assert [f"dialplan_version:{i}" for i in ids] == [e.target for e in await audit_entries(sessionmaker)]

    async def test_two_processes_take_turns(self, sessionmaker, cti_settings, dialplan_path):
        """
        Two services on one file and database (the daemon and `cti dialplan apply`): the file lock
        serialises them, so the file always ends as the latest version's text.
        """
        daemon = DialplanService(sessionmaker, RunningPlan(), cti_settings)
        cli = DialplanService(sessionmaker, RunningPlan(), cti_settings)
        texts = [plan(f"Agent {n}") for n in range(6)]

        await asyncio.gather(
            *(
                (daemon if n % 2 else cli).apply(text, actor="root", source="web" if n % 2 else "cli")
                for n, text in enumerate(texts)
            )
        )

        stored = await versions(sessionmaker)
        assert 6 == len(stored)
        assert stored[-1].text == dialplan_path.read_text(encoding="utf-8")

    async def test_failed_commit_restores_the_file(
        self, sessionmaker, engine, running, cti_settings, dialplan_path
    ):
        """
        The commit fails after the file was replaced: the old file is put back, the plan stays.
        """
        good = DialplanService(sessionmaker, running, cti_settings)
        await good.apply(plan(), actor="root", source="cli")
        before, snapshot = dialplan_path.read_bytes(), running.current
        poisoned = DialplanService(
            async_sessionmaker(engine, expire_on_commit=False, class_=FailingCommit), running, cti_settings
        )

        with pytest.raises(OperationalError):
            await poisoned.apply(plan("Someone Else"), actor="root", source="web")

        assert before == dialplan_path.read_bytes()
        assert snapshot is running.current
        assert 1 == len(await versions(sessionmaker))
        assert 1 == len(await audit_entries(sessionmaker))
        assert [] == [p.name for p in dialplan_path.parent.iterdir() if p.name.endswith(".tmp")]

    async def test_failed_commit_of_the_first_plan_leaves_no_file(
        self, engine, running, cti_settings, dialplan_path
    ):
        """
        With no file before, a failed first apply leaves no file (not a half-recorded one).
        """
        poisoned = DialplanService(
            async_sessionmaker(engine, expire_on_commit=False, class_=FailingCommit), running, cti_settings
        )

        with pytest.raises(OperationalError):
            await poisoned.apply(plan(), actor="root", source="cli")

        assert not dialplan_path.exists()
        assert EMPTY_PLAN is running.current

    async def test_unwritable_database_leaves_the_file_alone(
        self, blank_engine, running, cti_settings, dialplan_path
    ):
        """
        A database that refuses the insert (here: never migrated) fails before the file is touched.
        """
        dialplan_path.parent.mkdir(parents=True)
        dialplan_path.write_text("# hand-written\n", encoding="utf-8")
        service = DialplanService(async_sessionmaker(blank_engine), running, cti_settings)

        with pytest.raises(DBAPIError, match="dialplan_version"):
            await service.apply(plan(), actor="root", source="cli")

        assert "# hand-written\n" == dialplan_path.read_text(encoding="utf-8")
        assert EMPTY_PLAN is running.current

    async def test_failed_file_write_rolls_the_history_back(
        self, service, running, sessionmaker, monkeypatch
    ):
        """
        The disk refuses the file (full, read-only): no version is recorded and the plan stays.
        """
        await service.apply(plan(), actor="root", source="cli")
        snapshot = running.current

        def disk_full(_target, _data):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(atomic_file, "write_atomically", disk_full)

        with pytest.raises(OSError, match="No space"):
            await service.apply(plan("Someone Else"), actor="root", source="web")

        assert snapshot is running.current
        assert 1 == len(await versions(sessionmaker))

    async def test_a_cancelled_apply_still_finishes_whole(
        self, service, running, sessionmaker, dialplan_path
    ):
        """
        The caller goes away mid-apply (a closed tab): the apply completes, nothing is half done.
        """
        task = asyncio.create_task(service.apply(plan(), actor="root", source="web"))
        await asyncio.sleep(0)  # the apply starts and waits on its first I/O: cancel it there
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        await service.close()

        [version] = await versions(sessionmaker)
        assert version.text == running.text == dialplan_path.read_text(encoding="utf-8")
        assert version.id == running.version

    async def test_stale_editor_is_refused(self, service, running, sessionmaker):
        """
        An editor that started from another plan than the running one gets PlanChanged, no change.
        """
        started_from = running.sha256
        await service.apply(plan(), actor="other", source="web")

        with pytest.raises(PlanChanged, match="someone applied version 1 meanwhile"):
            await service.apply(plan("Mine"), actor="root", source="web", expected_sha=started_from)

        assert 1 == len(await versions(sessionmaker))

    async def test_an_editor_does_not_overwrite_a_cli_apply_this_daemon_has_not_loaded(
        self, service, running, sessionmaker, cti_settings
    ):
        """
        `cti dialplan apply` (another process) recorded version 1; this daemon still runs the
        empty plan the editor started from: the editor's apply is refused, not silently on top.
        """
        started_from = running.sha256
        cli = DialplanService(sessionmaker, RunningPlan(), cti_settings)
        await cli.apply(plan(), actor="cli:root", source="cli")

        with pytest.raises(PlanChanged, match="someone applied version 1 meanwhile"):
            await service.apply(plan("Mine"), actor="root", source="web", expected_sha=started_from)

        assert 1 == len(await versions(sessionmaker))

    async def test_a_failing_subscriber_does_not_undo_the_apply(self, service, running):
        """
        A PBX adapter that raises on the swap is logged; the new plan runs regardless.
        """

        def broken(_old, _new):
            raise RuntimeError("adapter bug")

        seen = []
        running.subscribe(broken)
        running.subscribe(lambda _old, new: seen.append(new.version))

        result = await service.apply(plan(), actor="root", source="cli")

        assert [result.version] == seen
        assert result.version == running.version


class TestRollback:
    async def test_rollback_restores_an_old_text_as_a_new_version(
        self, service, running, sessionmaker, dialplan_path
    ):
        """
        Rolling back to version 1 after 2 adds version 3 with 1's text, and audits a rollback.
        """
        first = await service.apply(plan("First"), actor="root", source="cli")
        await service.apply(plan("Second"), actor="root", source="cli")

        result = await service.rollback(first.version, actor="root", user_id=None)

        stored = await versions(sessionmaker)
        entries = await audit_entries(sessionmaker)
        assert 3 == len(stored)
        assert (plan("First"), "rollback", first.version) == (
            stored[-1].text,
            stored[-1].source,
            stored[-1].rolled_back_from,
        )
        assert f"rollback to version {first.version}" == stored[-1].comment
        assert (result.version, plan("First")) == (running.version, running.text)
        assert plan("First") == dialplan_path.read_text(encoding="utf-8")
        assert "dialplan.rollback" == entries[-1].action
        assert first.version == entries[-1].details["rolled_back_from"]

    async def test_rollback_to_the_running_text_changes_nothing(self, service, sessionmaker):
        """
        Rolling back to the version that runs is "already running".
        """
        first = await service.apply(plan(), actor="root", source="cli")

        result = await service.rollback(first.version, actor="root")

        assert "unchanged" == result.outcome
        assert 1 == len(await versions(sessionmaker))

    async def test_rollback_to_an_unknown_version(self, service):
        """
        No such version: NotFound (404 on the web, exit 1 on the command line).
        """
        with pytest.raises(NotFound):
            await service.rollback(42, actor="root")


class TestReload:
    async def test_version_applied_by_another_process_runs_without_a_new_row(
        self, sessionmaker, cti_settings, dialplan_path
    ):
        """
        `cti dialplan apply` recorded and wrote version N; the daemon's SIGHUP runs it as version N.
        """
        daemon_plan = RunningPlan()
        daemon = DialplanService(sessionmaker, daemon_plan, cti_settings)
        await daemon.apply(plan("Old"), actor="root", source="web")
        cli = DialplanService(sessionmaker, RunningPlan(), cti_settings)
        applied = await cli.apply(plan("New"), actor="cli:root", source="cli")

        result = await daemon.apply_file(actor="sighup", source="sighup")

        assert ("reloaded", applied.version) == (result.outcome, result.version)
        assert (applied.version, plan("New")) == (daemon_plan.version, daemon_plan.text)
        assert 2 == len(await versions(sessionmaker))

    async def test_reload_of_an_invalid_file_keeps_the_plan_and_logs(self, service, running, dialplan_path):
        """
        SIGHUP with a broken file: the errors are logged, the running plan stays.
        """
        await service.apply(plan(), actor="root", source="cli")
        snapshot = running.current
        dialplan_path.write_text(INVALID, encoding="utf-8")

        ok = await service.reload_file()

        assert not ok
        assert snapshot is running.current

    async def test_reload_of_a_hand_edited_file_records_it(
        self, service, running, sessionmaker, dialplan_path
    ):
        """
        SIGHUP after the admin edited the file: a new version from source sighup.
        """
        await service.apply(plan(), actor="root", source="cli")
        dialplan_path.write_text(plan("Edited By Hand"), encoding="utf-8")

        assert await service.reload_file()

        stored = await versions(sessionmaker)
        assert ("sighup", "sighup") == (stored[-1].source, stored[-1].applied_by_name)
        assert plan("Edited By Hand") == running.text


class TestStartup:
    async def test_valid_file_is_recorded_once(self, sessionmaker, cti_settings, dialplan_path):
        """
        A first start records the file as a startup version; the next start reuses it.
        """
        dialplan_path.parent.mkdir(parents=True)
        dialplan_path.write_text(plan(), encoding="utf-8")

        first = await DialplanService(sessionmaker, RunningPlan(), cti_settings).load_at_startup()
        second = await DialplanService(sessionmaker, RunningPlan(), cti_settings).load_at_startup()

        [version] = await versions(sessionmaker)
        assert (version.id, version.id) == (first.version, second.version)
        assert ("startup", plan()) == (version.source, first.text)

    async def test_invalid_file_runs_the_last_applied_version(
        self, service, sessionmaker, cti_settings, dialplan_path
    ):
        """
        The file was broken while the daemon was down: it starts with the last version, file untouched.
        """
        applied = await service.apply(plan(), actor="root", source="cli")
        dialplan_path.write_text(INVALID, encoding="utf-8")
        restarted = RunningPlan()

        snapshot = await DialplanService(sessionmaker, restarted, cti_settings).load_at_startup()

        assert (applied.version, plan()) == (snapshot.version, snapshot.text)
        assert snapshot is restarted.current
        assert INVALID == dialplan_path.read_text(encoding="utf-8")

    async def test_invalid_file_and_no_history_runs_the_empty_plan(self, service, running, dialplan_path):
        """
        Nothing valid anywhere: the daemon still starts, with the empty plan.
        """
        dialplan_path.parent.mkdir(parents=True)
        dialplan_path.write_text(INVALID, encoding="utf-8")

        snapshot = await service.load_at_startup()

        assert EMPTY_PLAN is snapshot is running.current

    async def test_missing_file_runs_the_empty_plan(self, service, running):
        """
        No file and no history: the empty plan, and a warning.
        """
        assert EMPTY_PLAN is await service.load_at_startup()

    async def test_missing_file_with_history_runs_the_last_version(
        self, service, sessionmaker, cti_settings, dialplan_path
    ):
        """
        The file was deleted: the last applied version runs (the file is not recreated at start-up).
        """
        applied = await service.apply(plan(), actor="root", source="cli")
        dialplan_path.unlink()

        snapshot = await DialplanService(sessionmaker, RunningPlan(), cti_settings).load_at_startup()

        assert applied.version == snapshot.version
        assert not dialplan_path.exists()

    async def test_unreachable_database_still_runs_the_file(self, blank_engine, cti_settings, dialplan_path):
        """
        The history cannot be written (not migrated, down): the file runs, without a version.
        """
        dialplan_path.parent.mkdir(parents=True)
        dialplan_path.write_text(plan(), encoding="utf-8")

        snapshot = await DialplanService(
            async_sessionmaker(blank_engine), RunningPlan(), cti_settings
        ).load_at_startup()

        assert (None, plan()) == (snapshot.version, snapshot.text)


class TestDiff:
    async def test_diff_against_the_running_plan(self, service):
        """
        The diff names the running version and shows the changed line; no change gives "".
        """
        await service.apply(plan(), actor="root", source="cli")

        diff = service.diff(plan("Changed"))

        assert "(running, version 1)" in diff.splitlines()[0]
        assert '-  "101": {name: Ivan Ivanov, user: ivanov}' in diff.splitlines()
        assert '+  "101": {name: Changed, user: ivanov}' in diff.splitlines()
        assert "" == service.diff(plan())


class FailingCommit(AsyncSession):
    """A session whose commit fails, as when the database goes away between flush and commit."""

    async def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("database is locked"))
