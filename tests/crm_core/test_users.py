"""Users: argon2 hashes, duplicate logins/extensions, login, and the first admin."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from crm_core.errors import Invalid, UserExists
from crm_core.models import User
from crm_core.users import authenticate, create_user, ensure_admin, hash_password, verify_password

from .factories import count


class TestPasswordHashing:
    def test_right_password_verifies(self):
        """
        A hash verifies the password it was made from, and is argon2id.
        """
        hashed = hash_password("s3cret")

        assert hashed.startswith("$argon2id$")
        assert verify_password(hashed, "s3cret")

    def test_wrong_password_and_garbage_hash_do_not_verify(self):
        """
        A wrong password or a malformed hash is a plain False, not an exception.
        """
        assert False is verify_password(hash_password("s3cret"), "guess")
        assert False is verify_password("not-a-hash", "s3cret")


class TestCreateUser:
    async def test_duplicate_login_names_the_login(self, session):
        """
        A second user with the same login is refused, and the message says which login.
        """
        await create_user(session, login="ivanov", name="Ivan", password="x", extension="101")

        with pytest.raises(UserExists, match="login 'ivanov'") as caught:
            await create_user(session, login="ivanov", name="Other", password="y")

        assert {"field": "login", "value": "ivanov"} == caught.value.details()

    async def test_duplicate_extension_names_the_extension(self, session):
        """
        Two users cannot share an extension; the message names it.
        """
        await create_user(session, login="ivanov", name="Ivan", password="x", extension="101")

        with pytest.raises(UserExists, match="extension '101'"):
            await create_user(session, login="petrov", name="Petr", password="y", extension="101")

    async def test_users_without_extension_do_not_clash(self, session):
        """
        Any number of users may have no extension (NULL is not a duplicate).
        """
        await create_user(session, login="a", name="A", password="x")
        await create_user(session, login="b", name="B", password="x", extension="")
        await session.commit()

        assert 2 == await count(session, User)

    async def test_unknown_role_is_refused(self, session):
        """
        Only admin, supervisor and agent are roles.
        """
        with pytest.raises(Invalid, match="role: 'boss'"):
            await create_user(session, login="a", name="A", password="x", role="boss")


class TestAuthenticate:
    async def test_right_password_returns_the_user(self, session):
        """
        The right login and password give the user back.
        """
        await create_user(session, login="ivanov", name="Ivan", password="s3cret")

        user = await authenticate(session, "ivanov", "s3cret")

        assert "ivanov" == user.login

    async def test_wrong_password_unknown_login_and_inactive_user_fail(self, session):
        """
        Wrong password, unknown login and a deactivated user all give None.
        """
        user = await create_user(session, login="ivanov", name="Ivan", password="s3cret")
        await create_user(session, login="gone", name="Gone", password="s3cret")
        (await session.scalar(select(User).where(User.login == "gone"))).is_active = False

        assert None is await authenticate(session, "ivanov", "wrong")
        assert None is await authenticate(session, "nobody", "s3cret")
        assert None is await authenticate(session, "gone", "s3cret")
        assert user.password_hash is not None

    async def test_outdated_hash_is_upgraded_on_login(self, session):
        """
        A hash made with weaker parameters is replaced by a current one at login.
        """
        user = await create_user(session, login="ivanov", name="Ivan", password=None)
        weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("s3cret")
        user.password_hash = weak

        assert user is await authenticate(session, "ivanov", "s3cret")
        assert weak != user.password_hash
        assert verify_password(user.password_hash, "s3cret")

    async def test_user_without_password_cannot_log_in(self, session):
        """
        A user created without a password (e.g. from a seed) cannot log in.
        """
        await create_user(session, login="ivanov", name="Ivan", password=None)

        assert None is await authenticate(session, "ivanov", "")


class TestEnsureAdmin:
    async def test_generates_a_password_once(self, session):
        """
        The first call creates admin with a generated password and returns it; the second does nothing.
        """
        generated = await ensure_admin(session, None)
        await session.commit()
        again = await ensure_admin(session, None)

        assert isinstance(generated, str)
        assert len(generated) >= 16
        assert None is again
        assert 1 == await count(session, User)
        admin = await authenticate(session, "admin", generated)
        assert "admin" == admin.role

    async def test_given_password_is_used_and_not_returned(self, session):
        """
        With a password given, admin gets it and nothing is returned to print.
        """
        assert None is await ensure_admin(session, "chosen-password")

        assert "admin" == (await authenticate(session, "admin", "chosen-password")).login
