"""API tokens: random, stored hashed, refused once revoked or once their user is disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_core.access import Unauthenticated
from crm_core.errors import NotFound
from crm_core.models import ApiToken
from crm_core.tokens import (
    TOKEN_PREFIX,
    authenticate_token,
    hash_token,
    issue_token,
    list_tokens,
    revoke_token,
    revoke_user_tokens,
)
from crm_core.users import create_user, set_active


@pytest.fixture(name="ivan")
async def _ivan(session):
    return await create_user(session, login="ivan", name="Ivan", password=None)


class TestIssue:
    async def test_token_is_random_and_only_its_hash_is_stored(self, session, ivan):
        """
        Two tokens differ; the database holds their SHA-256 and a short prefix, never the token.
        """
        first = await issue_token(session, ivan.id, "crm sync")
        second = await issue_token(session, ivan.id)

        rows = list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))

        assert first.token != second.token
        assert first.token.startswith(TOKEN_PREFIX)
        assert len(first.token) > 40
        assert [hash_token(first.token), hash_token(second.token)] == [r.token_hash for r in rows]
        assert first.token[:12] == rows[0].prefix
        assert all(first.token not in (r.token_hash, r.prefix, r.name) for r in rows)

    async def test_unknown_user(self, session):
        """
        A token for a user that does not exist is refused, naming the id.
        """
        with pytest.raises(NotFound, match="No user 99"):
            await issue_token(session, 99)

    async def test_disabled_user_gets_no_token(self, session, ivan):
        """
        A disabled user cannot be given a token.
        """
        ivan.is_active = False

        with pytest.raises(Unauthenticated, match="'ivan' is disabled"):
            await issue_token(session, ivan.id)


class TestAuthenticate:
    async def test_valid_token_names_its_user_and_records_the_use(self, session, ivan):
        """
        A valid token gives its user's id back and sets the time of last use.
        """
        issued = await issue_token(session, ivan.id)

        assert ivan.id == await authenticate_token(session, issued.token)
        assert None is not (await list_tokens(session, ivan.id))[0].last_used_at

    async def test_last_use_is_written_at_most_once_a_minute(self, session, ivan):
        """
        A second use right after the first leaves the time alone; one a minute later moves it.
        """
        issued = await issue_token(session, ivan.id)
        await authenticate_token(session, issued.token)
        row = await session.get(ApiToken, issued.id)
        first = row.last_used_at

        await authenticate_token(session, issued.token)
        assert first == row.last_used_at

        row.last_used_at = first - timedelta(minutes=2)
        await authenticate_token(session, issued.token)
        assert first <= row.last_used_at

    async def test_unknown_token(self, session, ivan):
        """
        A token we never issued is refused.
        """
        await issue_token(session, ivan.id)

        with pytest.raises(Unauthenticated, match="unknown or revoked"):
            await authenticate_token(session, TOKEN_PREFIX + "guess")

    async def test_revoked_token(self, session, ivan):
        """
        A revoked token is refused; revoking again keeps the first revocation time.
        """
        issued = await issue_token(session, ivan.id)
        first = await revoke_token(session, issued.id)
        again = await revoke_token(session, issued.id)

        with pytest.raises(Unauthenticated, match="unknown or revoked"):
            await authenticate_token(session, issued.token)
        assert first.revoked_at == again.revoked_at
        assert False is again.active

    async def test_token_of_a_disabled_user(self, session, ivan):
        """
        A token stops working the moment its user is disabled.
        """
        issued = await issue_token(session, ivan.id)
        ivan.is_active = False
        await session.flush()

        with pytest.raises(Unauthenticated, match="user is disabled"):
            await authenticate_token(session, issued.token)

    async def test_revoke_unknown_token(self, session):
        """
        Revoking a token id that does not exist says so.
        """
        with pytest.raises(NotFound, match="No API token 7"):
            await revoke_token(session, 7)


class TestRevokeAll:
    async def test_revokes_only_active_tokens_of_that_user(self, session, ivan):
        """
        Every active token of the user is revoked and counted; other users' tokens keep working.
        """
        olga = await create_user(session, login="olga", name="Olga", password=None)
        kept = await issue_token(session, olga.id)
        first = await issue_token(session, ivan.id)
        await issue_token(session, ivan.id)
        await revoke_token(session, first.id)

        assert 1 == await revoke_user_tokens(session, ivan.id)
        assert [False, False] == [t.active for t in await list_tokens(session, ivan.id)]
        assert olga.id == await authenticate_token(session, kept.token)

    async def test_disabling_a_user_revokes_their_tokens_for_good(self, session, ivan):
        """
        Disable revokes the tokens; enabling the user again does not revive them.
        """
        issued = await issue_token(session, ivan.id)

        _, revoked = await set_active(session, "ivan", False)
        await set_active(session, "ivan", True)

        assert 1 == revoked
        with pytest.raises(Unauthenticated):
            await authenticate_token(session, issued.token)
