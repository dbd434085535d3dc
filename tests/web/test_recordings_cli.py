"""``cti recordings retention|hold|release|rescan`` on a real migrated database and real files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import CallActivity, Recording
from crm_core.recordings import save_recording
from recordings import RecordingStore
from recordings.sidecar import sidecar_key, write_sidecar
from recordings.state import RecordingState, RecordingStatus
from tests.recordings.conftest import write_sine
from web import cli, cli_recordings

OLD = datetime.now(UTC) - timedelta(days=200)


@pytest.fixture(autouse=True)
def _no_cached_logging(monkeypatch):
    """The CLI configures logging for production (cached loggers); tests keep theirs."""
    monkeypatch.setattr(cli, "configure_logging", lambda **_kwargs: None)
    monkeypatch.setattr(cli_recordings, "configure_logging", lambda **_kwargs: None)


@pytest.fixture(name="config")
def _config(tmp_path) -> Path:
    """Settings with a 180-day inbound policy, a migrated database and one 200-day-old recorded call."""
    path = tmp_path / "cti.yaml"
    path.write_text(
        "pbx: {mode: none, id: main}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/var/cti.sqlite3'}}\n"
        f"recordings: {{directory: '{tmp_path}/rec', retention: [{{direction: inbound, days: 180}}]}}\n",
        encoding="utf-8",
    )
    assert 0 == cli.main(["db", "upgrade", "--config", str(path)])
    asyncio.run(_recorded_call(tmp_path))
    return path


async def _recorded_call(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec")
    stored = await store.ingest(write_sine(tmp_path / "c1.wav", 1), call_id="c1", started_at=OLD)
    state = RecordingState(
        pbx_id="main",
        call_id="c1",
        source=str(tmp_path / "c1.wav"),
        started_at=OLD,
        status=RecordingStatus.CONVERTED,
        storage_key=stored.key,
        peaks_key=stored.peaks_key,
        sha256=stored.sha256,
        format=stored.format,
    )
    write_sidecar(store.path_of(sidecar_key(stored.key)), state)
    await _with_session(tmp_path, lambda s: _add_call(s, state))


async def _add_call(session, state: RecordingState) -> None:
    session.add(CallActivity(pbx_id="main", call_id="c1", direction="inbound", started_at=OLD))
    await session.flush()
    await save_recording(session, state)
    await session.commit()


async def _with_session(tmp_path: Path, work):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/var/cti.sqlite3")
    try:
        async with make_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _count(tmp_path: Path) -> int:
    async def count(session) -> int:
        return await session.scalar(select(func.count()).select_from(Recording))

    return asyncio.run(_with_session(tmp_path, count))


class TestRetention:
    def test_dry_run_lists_without_deleting(self, config, tmp_path, capsys):
        """
        --dry-run names the expired recording and leaves it.
        """
        assert 0 == cli.main(["recordings", "retention", "--dry-run", "--config", str(config)])

        out = capsys.readouterr().out
        assert "would delete recording 1 (call c1, 200 days old, policy 180 days)" in out
        assert 1 == _count(tmp_path)

    def test_hold_spares_the_call_and_release_lets_it_go(self, config, tmp_path, capsys):
        """
        On hold the run keeps it; released, the next run deletes it.
        """
        assert 0 == cli.main(["recordings", "hold", "c1", "--config", str(config)])
        assert 0 == cli.main(["recordings", "retention", "--config", str(config)])
        assert "deleted 0 recording(s); 1 kept by a legal hold" in capsys.readouterr().out
        assert 1 == _count(tmp_path)

        assert 0 == cli.main(["recordings", "release", "c1", "--config", str(config)])
        assert 0 == cli.main(["recordings", "retention", "--config", str(config)])

        assert "deleted 1 recording(s)" in capsys.readouterr().out
        assert 0 == _count(tmp_path)

    def test_hold_of_an_unknown_call_is_exit_1(self, config, capsys):
        """
        A call id the call log does not have is named in the error.
        """
        assert 1 == cli.main(["recordings", "hold", "nope", "--config", str(config)])
        assert "no call 'nope' of PBX 'main'" in capsys.readouterr().err


class TestRescan:
    def test_rescan_rebuilds_the_lost_row(self, config, tmp_path, capsys):
        """
        With the row deleted, rescan brings it back from the sidecar and says so.
        """

        async def drop(session) -> None:
            await session.execute(delete(Recording))
            await session.commit()

        asyncio.run(_with_session(tmp_path, drop))

        assert 0 == cli.main(["recordings", "rescan", "--config", str(config)])

        out = capsys.readouterr().out
        assert f"rebuilt row for {OLD:%Y/%m/%d}/c1.mp3" in out
        assert 1 == _count(tmp_path)
