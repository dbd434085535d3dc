"""``cti users list|disable|enable|token``: the command line that issues and revokes API credentials."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crm_core.access import Unauthenticated
from crm_core.db import make_engine, make_sessionmaker
from crm_core.tokens import authenticate_token
from web import cli, cli_users

from .test_cli import free_port


@pytest.fixture(name="config")
def _config(tmp_path, monkeypatch) -> Path:
    """A migrated SQLite with users ivan (agent) and root (admin)."""
    monkeypatch.setattr(cli, "configure_logging", lambda **_kwargs: None)
    monkeypatch.setattr(cli_users, "configure_logging", lambda **_kwargs: None)
    monkeypatch.setenv("NEW_PW", "agent-secret")
    path = tmp_path / "cti.yaml"
    path.write_text(
        "pbx: {mode: none}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/var/cti.sqlite3'}}\n"
        f"web: {{host: 127.0.0.1, port: {free_port()}, secret_key_file: '{tmp_path}/var/secret_key'}}\n",
        encoding="utf-8",
    )
    assert 0 == cli.main(["db", "upgrade", "--config", str(path)])
    for login, role in (("ivan", "agent"), ("root", "admin")):
        add = ["users", "add", login, "--name", login.title(), "--role", role, "--password-env", "NEW_PW"]
        assert 0 == cli.main([*add, "--config", str(path)])
    return path


def _user_of(config: Path, token: str) -> int:
    async def check() -> int:
        engine = make_engine(f"sqlite+aiosqlite:///{config.parent}/var/cti.sqlite3")
        try:
            async with make_sessionmaker(engine)() as session:
                return await authenticate_token(session, token)
        finally:
            await engine.dispose()

    return asyncio.run(check())


def _run(config: Path, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["users", *args, "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestToken:
    def test_issue_prints_the_token_once_and_it_works(self, config, capsys):
        """
        ``cti users token LOGIN`` prints a new token that authenticates as that user.
        """
        code, out, _ = _run(config, capsys, "token", "ivan", "--name", "sync")

        token = out.splitlines()[0]
        assert 0 == code
        assert token.startswith("cti_")
        assert "shown only this once" in out
        assert 1 <= _user_of(config, token)

    def test_list_shows_prefixes_never_secrets(self, config, capsys):
        """
        ``--list`` shows each token's prefix and name, not the token.
        """
        token = _run(config, capsys, "token", "ivan", "--name", "sync")[1].splitlines()[0]

        code, out, _ = _run(config, capsys, "token", "ivan", "--list")

        assert 0 == code
        assert token[:12] in out
        assert "'sync'" in out
        assert token not in out
        assert "never used" in out

    def test_revoke_makes_tokens_fail(self, config, capsys):
        """
        ``--revoke`` revokes every active token of the user, and says how many.
        """
        token = _run(config, capsys, "token", "ivan")[1].splitlines()[0]

        code, out, _ = _run(config, capsys, "token", "ivan", "--revoke")

        assert (0, "revoked 1 API token of ivan\n") == (code, out)
        with pytest.raises(Unauthenticated):
            _user_of(config, token)

    def test_unknown_login_is_exit_1(self, config, capsys):
        """
        A login that does not exist is named on stderr with exit status 1.
        """
        code, _, err = _run(config, capsys, "token", "ghost")

        assert 1 == code
        assert "No user 'ghost'" in err


class TestListAndDisable:
    def test_list_is_a_table_of_users(self, config, capsys):
        """
        ``cti users list`` prints a header and one line per user by login.
        """
        code, out, _ = _run(config, capsys, "list")

        lines = out.splitlines()
        assert 0 == code
        assert lines[0].split() == ["LOGIN", "NAME", "ROLE", "EXT", "ACTIVE", "DEPARTMENT", "EXTRA", "ROLES"]
        assert ["ivan", "Ivan", "agent", "-", "yes", "-", "-"] == lines[1].split()
        assert "root" == lines[2].split()[0]

    def test_disable_revokes_tokens_and_hides_from_active_list(self, config, capsys):
        """
        ``disable`` stops the user and their tokens; ``list --active`` leaves them out; ``enable`` undoes.
        """
        token = _run(config, capsys, "token", "ivan")[1].splitlines()[0]

        code, out, _ = _run(config, capsys, "disable", "ivan")
        active = _run(config, capsys, "list", "--active")[1]

        assert (0, "disabled ivan (1 API token revoked)\n") == (code, out)
        assert "ivan" not in active
        with pytest.raises(Unauthenticated):
            _user_of(config, token)
        assert (0, "enabled ivan\n", "") == _run(config, capsys, "enable", "ivan")

    def test_last_admin_cannot_be_disabled(self, config, capsys):
        """
        Disabling the only admin is refused with the reason, exit status 1.
        """
        code, _, err = _run(config, capsys, "disable", "root")

        assert 1 == code
        assert "'root' is the last active admin" in err
