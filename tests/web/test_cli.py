"""The ``cti`` command: db upgrade, users, serve (in a real subprocess), bad settings."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import User
from crm_core.users import authenticate
from tests.conftest import ROOT
from web import cli


@pytest.fixture(autouse=True)
def _no_cached_logging(monkeypatch):
    """The CLI configures logging for production (cached loggers); tests keep theirs."""
    monkeypatch.setattr(cli, "configure_logging", lambda **_kwargs: None)


@pytest.fixture(name="config")
def _config(tmp_path) -> Path:
    path = tmp_path / "cti.yaml"
    path.write_text(
        "pbx: {mode: none}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/var/cti.sqlite3'}}\n"
        f"web: {{host: 127.0.0.1, port: {free_port()}, secret_key_file: '{tmp_path}/var/secret_key'}}\n"
        "logging: {level: info, json: true}\n",
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def user(config: Path, login: str) -> User | None:
    async def read() -> User | None:
        engine = make_engine(f"sqlite+aiosqlite:///{config.parent}/var/cti.sqlite3")
        try:
            async with make_sessionmaker(engine)() as session:
                return await session.scalar(select(User).where(User.login == login))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def can_log_in(config: Path, login: str, password: str) -> bool:
    async def check() -> bool:
        engine = make_engine(f"sqlite+aiosqlite:///{config.parent}/var/cti.sqlite3")
        try:
            async with make_sessionmaker(engine)() as session:
                return await authenticate(session, login, password) is not None
        finally:
            await engine.dispose()

    return asyncio.run(check())


class TestDatabase:
    def test_upgrade_says_where_without_the_password(self, config, capsys):
        assert cli.main(["db", "upgrade", "--config", str(config)]) == 0

        out = capsys.readouterr().out
        assert f"database at sqlite+aiosqlite:///{config.parent}/var/cti.sqlite3 is up to date\n" == out

    def test_bad_settings_exit_2_with_the_message(self, tmp_path, capsys):
        bad = tmp_path / "bad.yaml"
        bad.write_text("web:\n  port: many\n", encoding="utf-8")

        assert cli.main(["db", "upgrade", "--config", str(bad)]) == 2

        assert "bad.yaml:2:3: web.port" in capsys.readouterr().err

    def test_public_url_drops_the_password(self):
        assert (
            cli._public_url("postgresql+asyncpg://cti:s3cret@db:5432/cti")
            == "postgresql+asyncpg://cti@db:5432/cti"
        )


class TestUsers:
    def test_ensure_admin_prints_a_generated_password_once(self, config, capsys, monkeypatch):
        monkeypatch.delenv("CTI_ADMIN_PASSWORD", raising=False)
        cli.main(["db", "upgrade", "--config", str(config)])
        capsys.readouterr()

        assert cli.main(["users", "ensure-admin", "--config", str(config)]) == 0
        first = capsys.readouterr().out
        assert cli.main(["users", "ensure-admin", "--config", str(config)]) == 0
        second = capsys.readouterr().out

        assert first.startswith("Created user admin with password: ")
        password = first.splitlines()[0].rpartition(": ")[2]
        assert can_log_in(config, "admin", password)
        assert second == "admin exists\n"

    def test_ensure_admin_takes_the_password_from_the_environment(self, config, capsys, monkeypatch):
        monkeypatch.setenv("CTI_ADMIN_PASSWORD", "from-env-secret")
        cli.main(["db", "upgrade", "--config", str(config)])
        capsys.readouterr()

        assert cli.main(["users", "ensure-admin", "--config", str(config)]) == 0

        out = capsys.readouterr().out
        assert out == "created admin with the password from CTI_ADMIN_PASSWORD\n"
        assert "from-env-secret" not in out
        assert can_log_in(config, "admin", "from-env-secret")

    def test_add_with_the_password_from_a_variable(self, config, capsys, monkeypatch):
        monkeypatch.setenv("NEW_PW", "agent-secret")
        cli.main(["db", "upgrade", "--config", str(config)])

        code = cli.main(
            ["users", "add", "ivanov", "--name", "Ivan Ivanov", "--extension", "101", "--role", "agent",
             "--password-env", "NEW_PW", "--config", str(config)]
        )  # fmt: skip

        assert code == 0
        assert "created user ivanov (agent, extension 101)" in capsys.readouterr().out
        assert (user(config, "ivanov").extension, user(config, "ivanov").role) == ("101", "agent")
        assert can_log_in(config, "ivanov", "agent-secret")

    def test_add_prompts_twice_and_refuses_a_mismatch(self, config, capsys, monkeypatch):
        cli.main(["db", "upgrade", "--config", str(config)])
        answers = iter(["one", "two"])
        monkeypatch.setattr(cli.getpass, "getpass", lambda _prompt: next(answers))

        code = cli.main(["users", "add", "petrov", "--name", "Petr", "--config", str(config)])

        assert code == 2
        assert "the passwords differ" in capsys.readouterr().err
        assert user(config, "petrov") is None

    def test_add_a_taken_login_is_exit_1(self, config, capsys, monkeypatch):
        monkeypatch.setenv("NEW_PW", "agent-secret")
        cli.main(["db", "upgrade", "--config", str(config)])
        args = [
            "users",
            "add",
            "ivanov",
            "--name",
            "Ivan",
            "--password-env",
            "NEW_PW",
            "--config",
            str(config),
        ]
        cli.main(args)

        assert cli.main(args) == 1
        assert "already exists" in capsys.readouterr().err


class TestServe:
    def test_serves_until_sigterm(self, config):
        """
        ``cti serve`` starts (no PBX configured), answers /healthz, and stops cleanly on SIGTERM.
        """
        assert cli.main(["db", "upgrade", "--config", str(config)]) == 0
        port = int(config.read_text().split("port: ")[1].split(",")[0])
        server = subprocess.Popen(
            [sys.executable, "-c", "from web.cli import main; raise SystemExit(main())", "serve",
             "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            health = wait_for_health(port)
        finally:
            server.send_signal(signal.SIGTERM)
            _out, err = server.communicate(timeout=20)

        assert health == {"status": "ok", "database": "ok", "pbx": "none"}
        assert server.returncode == 0
        events = [json.loads(line)["event"] for line in err.decode().splitlines() if line.startswith("{")]
        assert "server_starting" in events
        assert "pbx_stopped" in events


def wait_for_health(port: int) -> dict:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
