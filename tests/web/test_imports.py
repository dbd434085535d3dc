"""The import and export pages: upload, mapping, dry run, import with progress, CSV download, rights.

Every test here runs on SQLite and on PostgreSQL: the import job writes (or, on one bad row, rolls
back) in a background session of its own, and what it leaves behind is the database's business.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re

import aiohttp
import openpyxl
import pytest
from sqlalchemy import func, select

from crm_core.audit import entries
from crm_core.db import make_sessionmaker
from crm_core.models import Contact, User
from crm_core.seed import apply_seed
from crm_core.transfer.mapping import FIELDS
from web import import_jobs, keys
from web.app import create_app
from web.auth import CSRF_HEADER
from web.views import imports

from .api_fixtures import _engine  # noqa: F401 (fixture: each test on SQLite and on PostgreSQL)
from .browser import Browser
from .conftest import SEED, fake_pbx_factory

CSV = "ФИО;Телефон;E-mail\nИванов Пётр;8 (903) 111-22-33;petr@example.com\nОльга;+7 903 111-22-44;\n"


def upload_form(kind: str, name: str, data: bytes, csrf: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf_token", csrf)
    form.add_field("kind", kind)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def upload(user: Browser, data: bytes, *, kind: str = "contacts", name: str = "clients.csv"):
    """Upload as the page's script does: the CSRF header, a JSON answer."""
    headers = {**user.cookie, CSRF_HEADER: user.csrf, "Accept": "application/json"}
    return await user.client.post("/crm/import", data=upload_form(kind, name, data), headers=headers)


async def submit(user: Browser, path: str, fields: dict[str, str | list[str]]):
    form = aiohttp.FormData()
    form.add_field("csrf_token", user.csrf)
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            form.add_field(name, item)
    return await user.client.post(path, data=form, headers=user.cookie, allow_redirects=False)


async def finished(user: Browser, job_url: str) -> dict:
    """Poll the job's JSON as the page does, until it is no longer running."""
    for _ in range(500):
        response = await user.get(f"{job_url}.json")
        assert 200 == response.status
        status = await response.json()
        if status["state"] != "running":
            return status
        await asyncio.sleep(0.01)
    raise AssertionError("the import job did not finish")


async def contacts(app) -> int:
    async with app[keys.DB]() as session:
        return await session.scalar(select(func.count()).select_from(Contact))


async def contact_names(app) -> set[str]:
    async with app[keys.DB]() as session:
        return set(await session.scalars(select(Contact.name)))


MAPPING = {"map-0": "name", "map-1": "phone", "map-2": "email", "dedupe": "skip", "match": ["phone", "email"]}


WITHOUT_PASSWORDS = {
    **SEED,
    "users": [{k: v for k, v in u.items() if k != "password"} for u in SEED["users"]],
}
"The web suite's seed; nobody logs in with a password here, so no slow hashing for every test."


@pytest.fixture(name="app")
async def _app(engine, settings):
    """The real app over the parametrised database (SQLite or PostgreSQL), seeded."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        await apply_seed(session, WITHOUT_PASSWORDS)
        await session.commit()
    return create_app(settings, pbx_factory=fake_pbx_factory, sessionmaker=sessions)


@pytest.fixture(name="client")
async def _client(app, aiohttp_client):
    """The app's client; asked for after ``app``, so the app stops before its database goes."""
    return await aiohttp_client(app)


@pytest.fixture(name="users")
async def _users(app) -> dict[str, int]:
    """User id by login."""
    async with app[keys.DB]() as session:
        return {login: user_id for login, user_id in await session.execute(select(User.login, User.id))}


@pytest.fixture(name="ivanov")
def _ivanov(client, users) -> Browser:
    return Browser(client, users["ivanov"])


async def add_admin(app) -> int:
    async with app[keys.DB]() as session:
        user = User(login="root", name="Root", role="admin")
        session.add(user)
        await session.commit()
        return user.id


class TestImportFlow:
    async def test_upload_map_dry_run_then_import(self, app, ivanov):
        """cp1251 upload -> guessed mapping -> clean dry run -> "Import now" -> the contacts exist."""
        response = await upload(ivanov, CSV.encode("cp1251"))
        assert 200 == response.status
        mapping_url = (await response.json())["url"]
        page = await (await ivanov.get(mapping_url)).text()
        assert '<option value="phone" selected>' in page
        assert "8 (903) 111-22-33" in page
        before = await contacts(app)

        response = await submit(ivanov, mapping_url, {**MAPPING, "mode": "dry_run"})
        assert 303 == response.status
        job_url = response.headers["Location"]
        status = await finished(ivanov, job_url)
        assert ("done", True, 2, []) == (
            status["state"],
            status["dry_run"],
            status["report"]["created"],
            status["report"]["errors"],
        )
        assert (2, 2) == (status["done"], status["total"])
        report_page = await (await ivanov.get(job_url)).text()
        assert "Import now" in report_page
        assert before == await contacts(app)

        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', report_page))
        assert {
            "map-0": "name",
            "map-1": "phone",
            "map-2": "email",
            "dedupe": "skip",
        }.items() <= hidden.items()
        response = await submit(ivanov, mapping_url, {**MAPPING, "mode": "import"})
        status = await finished(ivanov, response.headers["Location"])
        assert (True, 2) == (status["report"]["committed"], status["report"]["created"])
        assert before + 2 == await contacts(app)
        assert {"Иванов Пётр", "Ольга"} <= await contact_names(app)
        # The upload is used up: importing it twice is not possible.
        assert 404 == (await ivanov.get(mapping_url)).status

    async def test_one_bad_row_imports_nothing_and_the_page_names_it(self, app, ivanov):
        """Import mode with a bad phone: the job is done, nothing written, the report shows line 3."""
        response = await upload(ivanov, "ФИО;Телефон\nАнна;+79161112233\nБорис;12\n".encode())
        mapping_url = (await response.json())["url"]
        before = await contacts(app)
        response = await submit(ivanov, mapping_url, {"map-0": "name", "map-1": "phone", "mode": "import"})
        job_url = response.headers["Location"]
        status = await finished(ivanov, job_url)
        assert [{"line": 3, "column": "Телефон", "reason": "'12' is not a phone number"}] == status["report"][
            "errors"
        ]
        assert before == await contacts(app)
        page = await (await ivanov.get(job_url)).text()
        assert "Nothing was imported: 1 row is wrong." in page
        assert "<td>3</td><td>Телефон</td><td>&#39;12&#39; is not a phone number</td>" in page

    async def test_a_long_list_of_bad_rows_is_cut_but_counted(self, ivanov, monkeypatch):
        """Past the shown limit the page and the JSON list the first rows and count the rest."""
        monkeypatch.setattr(imports, "SHOWN_ISSUES", 1)
        monkeypatch.setattr(import_jobs, "SHOWN_ISSUES", 1)
        text = "ФИО;Телефон\nА;1\nБ;2\nВ;3\n"
        mapping_url = (await (await upload(ivanov, text.encode())).json())["url"]
        job_url = (await submit(ivanov, mapping_url, {"map-0": "name", "map-1": "phone"})).headers["Location"]
        status = await finished(ivanov, job_url)
        assert (3, [2]) == (status["report"]["error_count"], [e["line"] for e in status["report"]["errors"]])
        page = await (await ivanov.get(job_url)).text()
        assert "…and 2 more rows: check the file with cti crm import --dry-run to see them all." in page

    async def test_a_bad_mapping_shows_the_form_again_with_the_problem(self, ivanov):
        """No name column: 400 and the reason; the user's choices are kept."""
        mapping_url = (await (await upload(ivanov, CSV.encode())).json())["url"]
        response = await submit(ivanov, mapping_url, {"map-1": "phone", "mode": "dry_run"})
        assert 400 == response.status
        page = await response.text()
        assert "map a column to &#39;name&#39; or &#39;last_name&#39; or &#39;first_name&#39;" in page
        assert '<option value="phone" selected>' in page

    async def test_a_plain_form_upload_of_an_xlsx(self, client, ivanov):
        """Without the script: the csrf_token field, a redirect to the mapping form."""
        workbook = openpyxl.Workbook()
        workbook.active.append(["Название", "Телефон"])
        workbook.active.append(["Ромашка", "+74951112233"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        form = upload_form("companies", "companies.xlsx", buffer.getvalue(), csrf=ivanov.csrf)
        response = await client.post("/crm/import", data=form, headers=ivanov.cookie, allow_redirects=False)
        assert 303 == response.status
        page = await (await ivanov.get(response.headers["Location"])).text()
        assert "1 row of Companies in companies.xlsx." in page


class TestUploadRefusals:
    async def test_without_the_csrf_token(self, client, ivanov):
        """A logged-in POST without the token is refused before the file is read."""
        response = await client.post(
            "/crm/import", data=upload_form("contacts", "c.csv", CSV.encode()), headers=ivanov.cookie
        )
        assert 403 == response.status

    async def test_an_unreadable_file_is_named(self, ivanov):
        """An old .xls: 400 with what to do."""
        response = await upload(ivanov, b"\xd0\xcf\x11\xe0 old excel", name="old.xlsx")
        assert 400 == response.status
        assert (
            "old.xlsx: not an .xlsx workbook (an old .xls? save it as .xlsx or CSV)"
            == (await response.json())["message"]
        )

    async def test_too_large(self, ivanov, monkeypatch):
        """Past the limit: 413 naming the command line instead."""
        monkeypatch.setattr(imports, "MAX_UPLOAD", 10)
        response = await upload(ivanov, CSV.encode())
        assert 413 == response.status
        assert "cti crm import" in (await response.json())["message"]

    async def test_an_agent_may_not_import_products(self, ivanov):
        """The catalogue needs the 'all' add level: 403, and the kind is not offered."""
        response = await upload(ivanov, b"name\nCable\n", kind="products")
        assert 403 == response.status
        page = await (await ivanov.get("/crm/import")).text()
        assert 'value="products"' not in page
        assert 'value="contacts"' in page

    async def test_someone_elses_upload_and_job_are_not_found(self, client, ivanov, users):
        """petrov cannot open ivanov's mapping form nor poll his job."""
        mapping_url = (await (await upload(ivanov, CSV.encode())).json())["url"]
        job_url = (await submit(ivanov, mapping_url, {**MAPPING, "mode": "dry_run"})).headers["Location"]
        await finished(ivanov, job_url)
        petrov = Browser(client, users["petrov"])
        assert 404 == (await petrov.get(mapping_url)).status
        assert 404 == (await petrov.get(f"{job_url}.json")).status
        assert 404 == (await submit(petrov, mapping_url, {**MAPPING, "mode": "import"})).status

    async def test_logged_out(self, client):
        """The pages send a visitor to the login form."""
        response = await client.get("/crm/import", allow_redirects=False)
        assert (302, "/login?next=/crm/import") == (response.status, response.headers["Location"])


class TestExportDownload:
    async def test_an_admin_downloads_csv_for_excel(self, app, client):
        """UTF-8 with a BOM, an attachment, the seeded contact, an audit entry committed."""
        admin = Browser(client, await add_admin(app))
        response = await admin.get("/crm/export/contacts.csv?name__contains=Anna")
        assert 200 == response.status
        assert response.headers["Content-Disposition"].startswith('attachment; filename="contacts-')
        body = await response.read()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert [("Anna Smirnova", "8 (916) 123-45-67", "petrov")] == [
            (r["name"], r["phone"], r["responsible"]) for r in rows
        ]
        async with app[keys.DB]() as session:
            (entry,) = await entries(session, action_prefix="crm.export")
        assert ("root", {"rows": 1, "filters": {"name__contains": "Anna"}}) == (entry.actor, entry.details)

    async def test_an_agent_gets_403_and_no_links(self, ivanov):
        """Agents have no export right: a JSON 403 naming the right, no export links on the page."""
        response = await ivanov.get("/crm/export/contacts.csv")
        assert 403 == response.status
        assert {"entity": "contact", "action": "export"} == (await response.json())["details"]
        page = await (await ivanov.get("/crm/import")).text()
        assert "/crm/export/" not in page

    async def test_a_bad_filter_is_a_clear_error(self, app, client):
        """An unknown field: the message lists the filterable ones."""
        admin = Browser(client, await add_admin(app))
        response = await admin.get("/crm/export/contacts.csv?shoe_size=42")
        assert "cannot filter on 'shoe_size'" in (await response.json())["message"]


class TestLabels:
    def test_every_import_field_label_is_marked_for_translation(self):
        """The mapping form shows crm_core's field labels through the catalogue: none may be missed."""
        labels = {f.label for fields in FIELDS.values() for f in fields}
        assert set() == labels - set(imports.FIELD_LABELS)
