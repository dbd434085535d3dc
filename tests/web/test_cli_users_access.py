"""``cti users add|update --department --roles`` and ``cti users token LOGIN --revoke ID``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crm_core.access import Unauthenticated
from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Department
from crm_core.users import list_users

from .test_api_cli import _config, _run, _user_of  # noqa: F401 (the config fixture)


def _in_db(config: Path, work):
    async def run():
        engine = make_engine(f"sqlite+aiosqlite:///{config.parent}/var/cti.sqlite3")
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _access(config: Path, login: str) -> tuple[str | None, tuple[str, ...]]:
    """The user's department name and extra roles, as the database has them."""

    async def read(session):
        user = next(u for u in await list_users(session) if u.login == login)
        department = await session.get(Department, user.department_id) if user.department_id else None
        return (department.name if department else None), user.extra_roles

    return _in_db(config, read)


@pytest.fixture(name="sales")
def _sales(config) -> str:
    async def add(session):
        session.add(Department(name="Sales"))

    _in_db(config, add)
    return "Sales"


class TestAccess:
    def test_add_with_department_and_roles(self, config, capsys, sales):
        """
        A new user is put in the department and given the extra roles in the same step.
        """
        add = ["add", "olga", "--name", "Olga", "--password-env", "NEW_PW"]

        code, _, err = _run(config, capsys, *add, "--department", sales, "--roles", "supervisor")

        assert (0, "") == (code, err)
        assert ("Sales", ("supervisor",)) == _access(config, "olga")

    def test_update_moves_and_clears(self, config, capsys, sales):
        """
        ``update`` sets the department and roles; "" clears each.
        """
        code, out, _ = _run(config, capsys, "update", "ivan", "--department", sales, "--roles", "supervisor")
        assert (0, "updated ivan: department Sales; extra roles supervisor\n") == (code, out)
        assert ("Sales", ("supervisor",)) == _access(config, "ivan")

        code, out, _ = _run(config, capsys, "update", "ivan", "--department", "", "--roles", "")

        assert 0 == code
        assert (None, ()) == _access(config, "ivan")

    def test_unknown_names_change_nothing(self, config, capsys, sales):
        """
        An unknown department or role is named on stderr, exit 1, and nothing of the command is kept.
        """
        code, _, err = _run(config, capsys, "update", "ivan", "--department", sales, "--roles", "ghosts")
        assert (1, True) == (code, "no access role named 'ghosts'" in err)
        code, _, err = _run(config, capsys, "update", "ivan", "--department", "Nowhere")
        assert (1, True) == (code, "no department named 'Nowhere'" in err)

        assert (None, ()) == _access(config, "ivan")
        add = ["add", "olga", "--name", "Olga", "--password-env", "NEW_PW", "--roles", "ghosts"]
        assert 1 == _run(config, capsys, *add)[0]
        assert "olga" not in _run(config, capsys, "list")[1]


class TestRevokeOne:
    def test_revoke_one_token_keeps_the_others(self, config, capsys):
        """
        ``--revoke ID`` revokes that token only; plain ``--revoke`` still revokes them all.
        """
        first = _run(config, capsys, "token", "ivan", "--name", "a")[1].splitlines()[0]
        second = _run(config, capsys, "token", "ivan", "--name", "b")[1].splitlines()[0]
        first_id = _run(config, capsys, "token", "ivan", "--list")[1].splitlines()[-1].split()[0]

        code, out, _ = _run(config, capsys, "token", "ivan", "--revoke", first_id)

        assert 0 == code
        assert out.startswith(f"revoked API token {first_id} ")
        with pytest.raises(Unauthenticated):
            _user_of(config, first)
        assert 1 <= _user_of(config, second)

    def test_another_users_token_is_not_found(self, config, capsys):
        """
        A token id of another user is refused: revoking by id never reaches past LOGIN.
        """
        root_token = _run(config, capsys, "token", "root")[1].splitlines()[0]
        token_id = _run(config, capsys, "token", "root", "--list")[1].split()[0]

        code, _, err = _run(config, capsys, "token", "ivan", "--revoke", token_id)

        assert 1 == code
        assert "API token of ivan" in err
        assert 1 <= _user_of(config, root_token)
