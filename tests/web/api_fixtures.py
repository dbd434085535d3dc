"""The API tests' world: the real app on a migrated SQLite or PostgreSQL, users, tokens, a department.

The ``test_api*.py`` modules import these fixtures by name, so every API test runs on both
databases, like the CRM's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient

from crm_core.models import Department, DepartmentMember
from crm_core.tokens import issue_token
from crm_core.users import create_user
from tests.crm_core import conftest as crm_fixtures
from web import keys
from web.app import create_app
from web.auth import CSRF_HEADER, SESSION_COOKIE

from .conftest import fake_pbx_factory

# The CRM's database fixtures (each test on SQLite and on PostgreSQL), reused as they are; a test
# module imports these three names to have ``blank_engine``, ``engine`` and ``sessionmaker``.
_blank_engine = crm_fixtures._blank_engine
_engine = crm_fixtures._engine
_sessionmaker = crm_fixtures._sessionmaker

USERS = {
    "root": "admin",
    "boss": "supervisor",
    "ivan": "agent",
    "olga": "agent",
    "petr": "agent",
}
"Login -> role. boss heads Sales; ivan and olga are in Sales; petr is in Support."


@dataclass
class Api:
    """The running app, its client, and who is who."""

    client: TestClient
    app: Any
    sessionmaker: Any
    ids: dict[str, int]
    tokens: dict[str, str]
    departments: dict[str, int] = field(default_factory=dict)

    def bearer(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[login]}"}

    def browser(self, login: str, *, csrf: bool = True) -> dict[str, str]:
        """Headers of a logged-in browser: the session cookie and (unless told) the CSRF header."""
        cookie, data = self.app[keys.SESSIONS].issue(self.ids[login], hours=1)
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        if csrf:
            headers[CSRF_HEADER] = self.app[keys.SESSIONS].csrf_token(data)
        return headers

    async def call(self, method: str, path: str, login: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        """One request with *login*'s bearer token; returns the status and the decoded JSON (or None)."""
        headers = {**(self.bearer(login) if login else {}), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def build_api(aiohttp_client, settings, sessionmaker) -> Api:
    """Seed the users, departments and tokens, start the real app on *sessionmaker*.

    A fixture calling this must request ``sessionmaker`` before ``aiohttp_client``: fixtures are torn
    down in reverse, so the app then stops before its database is dropped.
    """
    ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    async with sessionmaker() as session:
        for login, role in USERS.items():
            user = await create_user(session, login=login, name=login.title(), password=None, role=role)
            ids[login] = user.id
        sales = Department(name="Sales", head_id=ids["boss"])
        support = Department(name="Support")
        session.add_all([sales, support])
        await session.flush()
        session.add_all(
            [
                DepartmentMember(user_id=ids["ivan"], department_id=sales.id),
                DepartmentMember(user_id=ids["olga"], department_id=sales.id),
                DepartmentMember(user_id=ids["petr"], department_id=support.id),
            ]
        )
        for login in USERS:
            tokens[login] = (await issue_token(session, ids[login], "tests")).token
        await session.commit()
        departments = {"Sales": sales.id, "Support": support.id}
    app = create_app(settings, pbx_factory=fake_pbx_factory, sessionmaker=sessionmaker)
    client = await aiohttp_client(app)
    return Api(
        client=client, app=app, sessionmaker=sessionmaker, ids=ids, tokens=tokens, departments=departments
    )
