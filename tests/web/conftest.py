"""Web fixtures: a migrated, seeded SQLite per test, the real create_app with a FakePbx, Chromium, helpers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from config.settings import CrmSettings, DatabaseSettings, Settings, WebSettings
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import upgrade
from crm_core.models import Contact, User
from crm_core.seed import apply_seed
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from . import chromium
from .fakes import OWN_DID, FakePbx

PASSWORD = "correct horse battery staple"
KNOWN_CALLER = "+79161234567"
"Anna Smirnova's mobile, written in the seed as 8 (916) 123-45-67."
UNKNOWN_CALLER = "+79990001122"

SEED: dict[str, Any] = {
    "own_numbers": [OWN_DID],
    "users": [
        {"login": "ivanov", "name": "Ivan Ivanov", "extension": "101", "password": PASSWORD},
        {"login": "petrov", "name": "Petr Petrov", "extension": "102", "password": PASSWORD},
        {"login": "sidorov", "name": "Sidor Sidorov", "extension": "103", "password": PASSWORD},
        {"login": "boss", "name": "Big Boss", "role": "supervisor", "password": PASSWORD},
    ],
    "companies": [{"title": "Romashka LLC", "responsible": "petrov"}],
    "contacts": [
        {
            "name": "Anna Smirnova",
            "phones": ["8 (916) 123-45-67"],
            "company": "Romashka LLC",
            "responsible": "petrov",
        }
    ],
}


@dataclass(frozen=True)
class Template:
    path: Path
    users: dict[str, int]
    "User id by login; sidorov is deactivated."
    contact_id: int


async def _build_template(path: Path) -> Template:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            await apply_seed(session, SEED)
            await session.execute(update(User).where(User.login == "sidorov").values(is_active=False))
            await session.commit()
            users = {login: user_id for login, user_id in await session.execute(select(User.login, User.id))}
            contact_id = await session.scalar(select(Contact.id).where(Contact.name == "Anna Smirnova"))
    finally:
        await engine.dispose()
    return Template(path=path, users=users, contact_id=contact_id)


@pytest.fixture(scope="session", name="template")
def _template(tmp_path_factory) -> Template:
    """Migrate and seed once (argon2 hashing is slow on purpose); each test gets a copy."""
    return asyncio.run(_build_template(tmp_path_factory.mktemp("web-db") / "template.sqlite3"))


@pytest.fixture(name="settings")
def _settings(tmp_path, template) -> Settings:
    database = tmp_path / "cti.sqlite3"
    shutil.copyfile(template.path, database)
    return Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{database}"),
        web=WebSettings(secret_key_file=tmp_path / "var" / "secret_key"),
        crm=CrmSettings(own_numbers=(OWN_DID,)),
    )


def fake_pbx_factory(settings: Settings, publish) -> FakePbx:
    return FakePbx(publish=publish)


@pytest.fixture(name="app")
def _app(settings):
    return create_app(settings, pbx_factory=fake_pbx_factory)


@pytest.fixture(name="client")
async def _client(aiohttp_client, app):
    return await aiohttp_client(app)


@pytest.fixture(name="pbx")
def _pbx(client, app) -> FakePbx:
    """The FakePbx the running app built; ``pbx.publish(event)`` feeds its bus."""
    return app[keys.PBX]


@pytest.fixture(scope="session", name="devtools_port")
def _devtools_port(tmp_path_factory) -> Iterator[int]:
    """One headless Chromium for the whole session, started by the first test that asks; its DevTools port."""
    with chromium.launch(tmp_path_factory.mktemp("chromium")) as port:
        yield port


@pytest.fixture(name="browser")
async def _browser(devtools_port) -> AsyncIterator[chromium.DevTools]:
    """A blank page of this test's own, in a fresh browser context (cookies, storage, cache)."""
    async with chromium.isolated_page(devtools_port) as page:
        yield page


def session_cookie(app, user_id: int, **issue: Any) -> str:
    """A valid signed session cookie value for *user_id* (the app must be running)."""
    value, _data = app[keys.SESSIONS].issue(user_id, hours=issue.pop("hours", 1), **issue)
    return value


def cookie_header(app, user_id: int, **issue: Any) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_cookie(app, user_id, **issue)}"}


def origin_of(client) -> str:
    return f"http://{client.host}:{client.port}"


async def login(client, login_name: str, password: str = PASSWORD, **extra: str):
    """POST the login form as a browser would (redirects not followed)."""
    data = {"login": login_name, "password": password, **extra}
    return await client.post("/login", data=data, allow_redirects=False)
