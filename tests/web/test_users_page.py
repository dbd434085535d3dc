"""The admin's users page, on both databases: list, add, department and roles, disable; admins only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm_core.models import AccessRole, DepartmentMember, User
from crm_core.org import user_role_names

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    api = await build_api(aiohttp_client, settings, sessionmaker)
    async with sessionmaker() as session:
        session.add(AccessRole(name="exporter", description="exports leads"))
        await session.commit()
    return api


class Browser:
    """An admin's browser: the session cookie, and the CSRF token read from the page like a form would."""

    def __init__(self, api, login: str = "root") -> None:
        self.api = api
        self.cookie = api.browser(login, csrf=False)["Cookie"]

    async def page(self, path: str = "/admin/users") -> tuple[int, str]:
        response = await self.api.client.get(path, headers={"Cookie": self.cookie}, allow_redirects=False)
        return response.status, await response.text()

    async def post(self, path: str, data: dict | list, *, csrf: bool = True):
        _, html = await self.page()
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            fields.append(("csrf_token", CSRF_INPUT.search(html).group(1)))
        return await self.api.client.post(
            path, data=fields, headers={"Cookie": self.cookie}, allow_redirects=False
        )


async def _user(api, login: str) -> User:
    async with api.sessionmaker() as session:
        return await session.scalar(select(User).where(User.login == login))


class TestAccess:
    async def test_admin_sees_every_user(self, api):
        """
        The page lists every user with their department and the role choices.
        """
        status, html = await Browser(api).page()

        assert 200 == status
        for login in ("boss", "ivan", "olga", "petr", "root"):
            assert f'data-login="{login}"' in html
        assert '<option value="{}" selected>Sales</option>'.format(api.departments["Sales"]) in html
        assert 'value="exporter"' in html

    async def test_notice_escapes_what_the_address_says(self, api):
        """
        The login named in the notice comes from the address bar: it is shown as text, never markup.
        """
        _, html = await Browser(api).page("/admin/users?done=added&login=<script>x</script>")

        assert "User &lt;script&gt;x&lt;/script&gt; added." in html
        assert "<script>x" not in html

    async def test_non_admins_get_403_and_anonymous_the_login(self, api):
        """
        A supervisor may not open the page; someone logged out is sent to log in.
        """
        status, _ = await Browser(api, "boss").page()
        anonymous = await api.client.get("/admin/users", allow_redirects=False)

        assert 403 == status
        assert 302 == anonymous.status
        assert anonymous.headers["Location"].startswith("/login?next=")

    async def test_non_admin_post_changes_nothing(self, api):
        """
        A supervisor's POST is refused before anything changes.
        """
        response = await Browser(api, "boss").post(
            f"/admin/users/{api.ids['ivan']}/active", {"active": "0"}, csrf=False
        )

        assert 403 == response.status
        assert True is (await _user(api, "ivan")).is_active


class TestChanges:
    async def test_add_a_user(self, api):
        """
        Adding a user redirects back with a notice; the user exists with the role and extension given.
        """
        browser = Browser(api)
        response = await browser.post(
            "/admin/users",
            {
                "login": "Anna",
                "name": "Anna Smirnova",
                "role": "supervisor",
                "extension": "105",
                "password": "pw",
            },
        )
        _, html = await browser.page(response.headers["Location"])
        anna = await _user(api, "anna")

        assert 303 == response.status
        assert "User anna added." in html
        assert ("supervisor", "105", True) == (anna.role, anna.extension, anna.password_hash is not None)

    async def test_taken_login_is_shown_with_the_form_kept(self, api):
        """
        A login that exists is refused on the page (409), naming it, with what was typed kept.
        """
        response = await Browser(api).post(
            "/admin/users", {"login": "ivan", "name": "Another Ivan", "role": "agent"}
        )
        html = await response.text()

        assert 409 == response.status
        assert "already exists" in html
        assert 'value="Another Ivan"' in html

    async def test_bad_login_is_refused(self, api):
        """
        A login with spaces or other characters is refused with what a login may be.
        """
        response = await Browser(api).post("/admin/users", {"login": "a b", "name": "X"})

        assert 422 == response.status
        assert "A login is 1 to 64 of a-z" in await response.text()

    async def test_set_department_and_extra_roles(self, api):
        """
        One form sets the user's department and exactly the roles ticked.
        """
        response = await Browser(api).post(
            f"/admin/users/{api.ids['ivan']}/access",
            [("department_id", str(api.departments["Support"])), ("roles", "exporter")],
        )
        async with api.sessionmaker() as session:
            member = await session.get(DepartmentMember, api.ids["ivan"])
            roles = await user_role_names(session, [api.ids["ivan"]])

        assert 303 == response.status
        assert api.departments["Support"] == member.department_id
        assert {api.ids["ivan"]: ["exporter"]} == roles

    async def test_no_department_and_no_roles(self, api):
        """
        Choosing no department and ticking nothing takes the user out of both.
        """
        await Browser(api).post(f"/admin/users/{api.ids['ivan']}/access", {"department_id": ""})
        async with api.sessionmaker() as session:
            assert None is await session.get(DepartmentMember, api.ids["ivan"])
            assert {api.ids["ivan"]: []} == await user_role_names(session, [api.ids["ivan"]])

    async def test_disable_ends_sessions_and_tokens(self, api):
        """
        Disabling a user stops their session and API token at once; enabling lets them log in again.
        """
        browser = Browser(api)
        ivan_cookie = api.browser("ivan", csrf=False)["Cookie"]

        response = await browser.post(f"/admin/users/{api.ids['ivan']}/active", {"active": "0"})
        _, html = await browser.page(response.headers["Location"])
        token = await api.call("GET", "/api/v1/departments", "ivan")
        session = await api.client.get("/api/v1/departments", headers={"Cookie": ivan_cookie})

        assert "ivan is disabled" in html
        assert 401 == token[0]
        assert 401 == session.status
        await browser.post(f"/admin/users/{api.ids['ivan']}/active", {"active": "1"})
        assert True is (await _user(api, "ivan")).is_active

    async def test_last_admin_is_kept(self, api):
        """
        The page refuses to disable the last admin and says why.
        """
        response = await Browser(api).post(f"/admin/users/{api.ids['root']}/active", {"active": "0"})

        assert 409 == response.status
        assert "last active admin" in await response.text()

    async def test_without_csrf_nothing_changes(self, api):
        """
        A form post without the session's CSRF token is refused (403) and changes nothing.
        """
        response = await Browser(api).post(
            f"/admin/users/{api.ids['ivan']}/active", {"active": "0"}, csrf=False
        )

        assert 403 == response.status
        assert True is (await _user(api, "ivan")).is_active
