"""The CRM's own resources through the API, on both databases: rights as the issue states them.

Sales: ivan and olga (agents), boss heads it. Support: petr (agent). root is the admin.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.models import ApiToken
from crm_core.org import set_user_roles
from crm_core.tokens import revoke_token

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


async def _leads(api, *owners: str) -> dict[str, int]:
    """One lead per owner, created by that owner through the API; owner -> lead id."""
    ids = {}
    for login in owners:
        status, body = await api.call("POST", "/api/v1/leads", login, json={"title": f"Lead of {login}"})
        assert 201 == status, body
        assert api.ids[login] == body["responsible_id"]
        ids[login] = body["id"]
    return ids


async def _titles(api, login: str, path: str = "/api/v1/leads") -> list[str]:
    status, page = await api.call("GET", path, login, params={"sort": "title"})
    assert 200 == status, page
    return [item["title"] for item in page["items"]]


async def _set_agent_lead_read(api, level: str) -> None:
    """As the admin, through the API: the built-in agent role reads leads at *level*."""
    _, roles = await api.call("GET", "/api/v1/access-roles", "root", params={"name": "agent"})
    agent = roles["items"][0]
    grants = agent["grants"]
    grants["lead"]["read"] = level
    status, body = await api.call(
        "PATCH", f"/api/v1/access-roles/{agent['id']}", "root", json={"grants": grants}
    )
    assert 200 == status, body


class TestOwnRights:
    async def test_agent_with_own_rights_cannot_read_a_colleagues_lead(self, api):
        """
        With lead read at "own", an agent gets 403 for a colleague's lead and never sees it listed.
        """
        leads = await _leads(api, "ivan", "olga")
        await _set_agent_lead_read(api, "own")

        status, body = await api.call("GET", f"/api/v1/leads/{leads['olga']}", "ivan")

        assert (403, "forbidden") == (status, body["error_id"])
        assert {"entity": "lead", "action": "read"} == body["details"]
        assert ["Lead of ivan"] == await _titles(api, "ivan")
        assert 200 == (await api.call("GET", f"/api/v1/leads/{leads['ivan']}", "ivan"))[0]

    async def test_same_colleague_is_readable_at_department_level(self, api):
        """
        The built-in agent role reads the department: the same lead is readable before the change.
        """
        leads = await _leads(api, "ivan", "olga")

        status, body = await api.call("GET", f"/api/v1/leads/{leads['olga']}", "ivan")

        assert (200, "Lead of olga") == (status, body["title"])
        assert ["Lead of ivan", "Lead of olga"] == await _titles(api, "ivan")

    async def test_an_extra_role_restores_what_the_base_role_lacks(self, api):
        """
        Rights are the highest over the user's roles: an extra role with "all" reads every lead.
        """
        leads = await _leads(api, "ivan", "petr")
        await _set_agent_lead_read(api, "own")
        status, _ = await api.call(
            "POST",
            "/api/v1/access-roles",
            "root",
            json={"name": "lead-reader", "grants": {"lead": {"read": "all"}}},
        )
        assert 201 == status
        async with api.sessionmaker() as session:
            admin = await load_principal(session, api.ids["root"])
            await set_user_roles(session, admin, api.ids["ivan"], ["lead-reader"])
            await session.commit()

        assert 200 == (await api.call("GET", f"/api/v1/leads/{leads['petr']}", "ivan"))[0]
        assert ["Lead of ivan", "Lead of petr"] == await _titles(api, "ivan")


class TestDepartmentRights:
    async def test_agent_does_not_reach_another_department(self, api):
        """
        An agent of Sales gets 403 for a Support lead and does not see it listed.
        """
        leads = await _leads(api, "ivan", "petr")

        status, _ = await api.call("GET", f"/api/v1/leads/{leads['petr']}", "ivan")

        assert 403 == status
        assert ["Lead of ivan"] == await _titles(api, "ivan")

    async def test_head_sees_the_department_admin_sees_all(self, api):
        """
        The head of Sales sees Sales' leads; the admin sees every lead.
        """
        await _leads(api, "ivan", "olga", "petr")

        assert ["Lead of ivan", "Lead of olga"] == await _titles(api, "boss")
        assert ["Lead of ivan", "Lead of olga", "Lead of petr"] == await _titles(api, "root")

    async def test_agent_changes_only_own_and_deletes_nothing(self, api):
        """
        An agent updates their own lead, not a teammate's, and may not delete even their own.
        """
        leads = await _leads(api, "ivan", "olga")

        own = await api.call("PATCH", f"/api/v1/leads/{leads['ivan']}", "ivan", json={"title": "Renamed"})
        other = await api.call("PATCH", f"/api/v1/leads/{leads['olga']}", "ivan", json={"title": "Mine now"})
        delete = await api.call("DELETE", f"/api/v1/leads/{leads['ivan']}", "ivan")

        assert (200, "Renamed") == (own[0], own[1]["title"])
        assert 403 == other[0]
        assert 403 == delete[0]
        _, unchanged = await api.call("GET", f"/api/v1/leads/{leads['olga']}", "boss")
        assert "Lead of olga" == unchanged["title"]


class TestTokens:
    async def test_revoked_token_is_refused(self, api):
        """
        A bearer token works on the leads until it is revoked; then it is a 401.
        """
        leads = await _leads(api, "ivan")
        async with api.sessionmaker() as session:
            token_id = await session.scalar(select(ApiToken.id).where(ApiToken.user_id == api.ids["ivan"]))
            await revoke_token(session, token_id)
            await session.commit()

        status, body = await api.call("GET", f"/api/v1/leads/{leads['ivan']}", "ivan")

        assert (401, "unauthenticated") == (status, body["error_id"])


class TestOtherResources:
    async def test_contact_found_by_phone_filter(self, api):
        """
        A contact created through the API is found by its number written another way.
        """
        status, created = await api.call(
            "POST",
            "/api/v1/contacts",
            "ivan",
            json={"name": "Anna Smirnova", "phones": [{"value": "8 (916) 123-45-67"}]},
        )
        _, page = await api.call("GET", "/api/v1/contacts", "ivan", params={"phone": "+79161234567"})

        assert 201 == status
        assert [created["id"]] == [item["id"] for item in page["items"]]

    async def test_deal_of_another_department_is_forbidden(self, api):
        """
        Deals obey the same rules: petr's deal is a 403 for ivan and absent from ivan's list.
        """
        status, deal = await api.call("POST", "/api/v1/deals", "petr", json={"title": "Support contract"})
        assert 201 == status, deal

        assert 403 == (await api.call("GET", f"/api/v1/deals/{deal['id']}", "ivan"))[0]
        assert [] == await _titles(api, "ivan", "/api/v1/deals")
        assert ["Support contract"] == await _titles(api, "root", "/api/v1/deals")

    async def test_products_are_a_shared_catalogue(self, api):
        """
        Every agent reads the products; only those allowed may add them.
        """
        refused = await api.call(
            "POST", "/api/v1/products", "ivan", json={"name": "Headset", "price": "1500.00"}
        )
        listed = await api.call("GET", "/api/v1/products", "ivan")

        assert 403 == refused[0]
        assert 200 == listed[0]
