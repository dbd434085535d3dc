"""``cti dialplan``: apply, history, show, rollback, check, explain; the pid file and SIGHUP to the daemon."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from web import cli, cli_dialplan

from .test_cli import free_port, wait_for_health
from .test_dialplan import INVALID, plan


@pytest.fixture(autouse=True)
def _no_cached_logging(monkeypatch):
    """The CLI configures logging for production (cached loggers); tests keep theirs."""
    monkeypatch.setattr(cli, "configure_logging", lambda **_kwargs: None)
    monkeypatch.setattr(cli_dialplan, "configure_logging", lambda **_kwargs: None)


@pytest.fixture(name="config")
def _config(tmp_path) -> Path:
    path = tmp_path / "cti.yaml"
    path.write_text(
        "pbx: {mode: none}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/var/cti.sqlite3'}}\n"
        f"web: {{host: 127.0.0.1, port: {free_port()}, secret_key_file: '{tmp_path}/var/secret_key'}}\n"
        f"logging: {{level: info, json: true, file: '{tmp_path}/var/cti.log'}}\n"
        f"dialplan: '{tmp_path}/etc/dialplan.yaml'\n",
        encoding="utf-8",
    )
    assert 0 == cli.main(["db", "upgrade", "--config", str(path)])
    return path


@pytest.fixture(name="dialplan_path")
def _dialplan_path(config) -> Path:
    return config.parent / "etc" / "dialplan.yaml"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class TestApply:
    def test_apply_a_file_makes_it_the_dialplan(self, config, dialplan_path, tmp_path, capsys):
        """
        ``cti dialplan apply FILE``: validated, recorded as version 1, copied to the dialplan file.
        """
        candidate = write(tmp_path / "new.yaml", plan())
        capsys.readouterr()

        code, out, _err = run(
            capsys, "dialplan", "apply", str(candidate), "--comment", "first", "--config", str(config)
        )

        assert 0 == code
        assert out.startswith("applied version 1\n")
        assert "no daemon running" in out
        assert plan() == dialplan_path.read_text(encoding="utf-8")

    def test_apply_an_invalid_file_changes_nothing(self, config, dialplan_path, tmp_path, capsys):
        """
        Invalid FILE: each issue printed as FILE:LINE:COLUMN: message, exit 1, nothing written.
        """
        write(dialplan_path, plan())
        candidate = write(tmp_path / "bad.yaml", INVALID)
        capsys.readouterr()

        code, out, err = run(capsys, "dialplan", "apply", str(candidate), "--config", str(config))

        assert 1 == code
        assert "" == out
        assert f"{candidate}:3:" in err
        assert "nothing was applied" in err
        assert plan() == dialplan_path.read_text(encoding="utf-8")
        assert "no dialplan applied yet\n" == run(capsys, "dialplan", "history", "--config", str(config))[1]

    def test_apply_without_file_applies_the_dialplan_file(self, config, dialplan_path, capsys):
        """
        Without FILE the configured dialplan file is applied as it is; again: nothing new.
        """
        write(dialplan_path, plan())

        first = run(capsys, "dialplan", "apply", "--config", str(config))
        second = run(capsys, "dialplan", "apply", "--config", str(config))

        assert (0, 0) == (first[0], second[0])
        assert first[1].startswith("applied version 1\n")
        assert second[1].startswith("version 1 is already the latest: nothing new to record\n")

    def test_apply_a_missing_file(self, config, tmp_path, capsys):
        """
        A FILE that does not exist: exit 1 with the reason.
        """
        code, _out, err = run(
            capsys, "dialplan", "apply", str(tmp_path / "nope.yaml"), "--config", str(config)
        )

        assert 1 == code
        assert "nope.yaml" in err


class TestHistoryAndRollback:
    def test_history_show_and_rollback(self, config, dialplan_path, tmp_path, capsys):
        """
        Two applies, then rollback to 1: version 3 restores 1's text and says so in the history.
        """
        run(
            capsys,
            "dialplan",
            "apply",
            str(write(tmp_path / "a.yaml", plan("First"))),
            "--config",
            str(config),
        )
        run(
            capsys,
            "dialplan",
            "apply",
            str(write(tmp_path / "b.yaml", plan("Second"))),
            "--config",
            str(config),
        )

        code, out, _err = run(capsys, "dialplan", "rollback", "1", "--config", str(config))
        history = run(capsys, "dialplan", "history", "--config", str(config))[1].splitlines()
        shown = run(capsys, "dialplan", "show", "3", "--config", str(config))[1]

        assert 0 == code
        assert out.startswith("applied version 3\n")
        assert plan("First") == dialplan_path.read_text(encoding="utf-8") == shown
        assert [3, 2, 1] == [int(line.split()[0]) for line in history]
        assert "rollback" in history[0]
        assert history[0].endswith("rollback to version 1 (restores 1)")
        assert history[0].split()[4].startswith("cli:")

    def test_rollback_to_an_unknown_version(self, config, capsys):
        """
        No such version: exit 1, named.
        """
        code, _out, err = run(capsys, "dialplan", "rollback", "7", "--config", str(config))

        assert 1 == code
        assert "No dialplan version 7" in err


class TestCheckAndExplain:
    def test_check_a_good_file(self, tmp_path, capsys):
        """
        A clean file: "FILE: ok" (warnings, if the plan has any, are printed instead), exit 0.
        """
        path = write(tmp_path / "good.yaml", plan())

        code, out, err = run(capsys, "dialplan", "check", str(path))

        assert 0 == code
        assert f"{path}: ok\n" == out or ("warning" in err and "" == out)

    def test_check_a_bad_file(self, tmp_path, capsys):
        """
        Errors: one FILE:LINE:COLUMN line each, exit 1.
        """
        path = write(tmp_path / "bad.yaml", INVALID)

        code, out, err = run(capsys, "dialplan", "check", str(path))

        assert 1 == code
        assert "" == out
        assert all(line.startswith(f"{path}:3:") for line in err.splitlines())

    def test_explain_a_call(self, tmp_path, capsys):
        """
        Explain prints the routing engine's numbered lines; the trunk comes from the DID.
        """
        path = write(tmp_path / "plan.yaml", plan())

        code, out, _err = run(
            capsys,
            "dialplan",
            "explain",
            "--from",
            "+79161234567",
            "--to",
            "+74951234567",
            "--at",
            "2026-11-27T10:30",
            "--file",
            str(path),
        )

        assert 0 == code
        assert out.startswith("1. ")
        assert "main" in out

    def test_explain_rings_the_responsible_manager_first(self, capsys):
        """
        --responsible 103 on the shipped plan's sales line (responsible_first): 103 rings first.
        """
        from tests.conftest import ROOT

        code, out, _err = run(
            capsys,
            "dialplan",
            "explain",
            "--from",
            "+79161234567",
            "--to",
            "+74951234567",
            "--at",
            "2026-03-10T10:00",
            "--responsible",
            "103",
            "--file",
            str(ROOT / "config" / "dialplan.yaml"),
        )

        assert 0 == code
        assert "3. ring 103 (Maria Ivanova), the caller's responsible manager, for 15 s" in out.splitlines()

    def test_explain_with_a_bad_time(self, tmp_path, capsys):
        """
        --at that is not ISO: exit 2 with an example.
        """
        path = write(tmp_path / "plan.yaml", plan())

        code, _out, err = run(
            capsys, "dialplan", "explain", "--from", "101", "--to", "102", "--at", "noon", "--file", str(path)
        )

        assert 2 == code
        assert "2026-11-27T10:30" in err


class TestNotifyDaemon:
    def test_signals_the_process_in_the_pid_file(self, config, capsys):
        """
        A live ``... serve`` process named by the pid file gets SIGHUP.
        """
        settings = cli._settings(cli.build_parser().parse_args(["serve", "--config", str(config)]))
        with catcher("serve") as daemon:
            cli_dialplan.pid_file(settings).write_text(f"{daemon.pid}\n", encoding="ascii")

            message = cli_dialplan.notify_daemon(settings)

            assert f"told the daemon (pid {daemon.pid}) to reload" == message
            assert "hup\n" == daemon.stdout.readline()

    def test_a_stale_pid_file_signals_nobody(self, config):
        """
        A pid file naming a process that is not ``cti serve`` (reused pid): no signal sent.
        """
        settings = cli._settings(cli.build_parser().parse_args(["serve", "--config", str(config)]))
        with catcher() as other:
            cli_dialplan.pid_file(settings).write_text(f"{other.pid}\n", encoding="ascii")

            message = cli_dialplan.notify_daemon(settings)

            assert "stale" in message
            assert None is other.poll()

    def test_serve_writes_and_removes_its_pid_file(self, config, tmp_path):
        """
        The pid file exists while the daemon runs and is gone after a clean stop.
        """
        settings = cli._settings(cli.build_parser().parse_args(["serve", "--config", str(config)]))
        path = cli_dialplan.pid_file(settings)

        with cli_dialplan.daemon_pid_file(settings):
            inside = path.read_text(encoding="ascii")

        assert f"{os.getpid()}\n" == inside
        assert not path.exists()


class TestEndToEnd:
    def test_cli_apply_reaches_the_running_daemon(self, config, dialplan_path, tmp_path, capsys):
        """
        ``cti serve`` runs version 1; ``cti dialplan apply`` records version 2 and signals it; the
        daemon runs version 2 without recording it again. Real processes, real SIGHUP.
        """
        write(dialplan_path, plan("First"))
        port = int(config.read_text().split("port: ")[1].split(",")[0])
        log_file = tmp_path / "var" / "cti.log"
        server = subprocess.Popen(
            [sys.executable, "-c", "from web.cli import main; raise SystemExit(main())", "serve",
             "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for_health(port)
            candidate = write(tmp_path / "second.yaml", plan("Second"))

            code, out, _err = run(capsys, "dialplan", "apply", str(candidate), "--config", str(config))
            reloaded = wait_for_event(log_file, "dialplan_reloaded")
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=20)

        assert 0 == code
        assert out.startswith("applied version 2\n")
        assert f"told the daemon (pid {server.pid}) to reload" in out
        assert ("reloaded", 2, "sighup") == (reloaded["outcome"], reloaded["version"], reloaded["source"])
        assert 0 == server.returncode
        assert ["1", "2"] == sorted(
            line.split()[0]
            for line in run(capsys, "dialplan", "history", "--config", str(config))[1].splitlines()
        )


SIGHUP_CATCHER = """\
import signal, sys, time
def hup(*_):
    print("hup", flush=True)
signal.signal(signal.SIGHUP, hup)
print("ready", flush=True)
time.sleep(30)
"""


@contextlib.contextmanager
def catcher(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A process that prints "hup" on SIGHUP; *args* show in its command line (``serve``)."""
    with subprocess.Popen(
        [sys.executable, "-c", SIGHUP_CATCHER, *args], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert "ready\n" == process.stdout.readline()
            yield process
        finally:
            process.kill()


def wait_for_event(log_file: Path, event: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        if log_file.exists():
            for line in log_file.read_text(encoding="utf-8").splitlines():
                if line.startswith("{") and json.loads(line).get("event") == event:
                    return json.loads(line)
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event!r} in {log_file} within {timeout} s")
        time.sleep(0.05)
