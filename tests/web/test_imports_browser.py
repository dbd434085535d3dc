"""The import page in a real headless Chromium: the script's upload, the polled progress, the report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from crm_core.models import Contact
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import fake_pbx_factory

CSV = "ФИО;Телефон\nИванов Пётр;8 (903) 111-22-33\nОльга;+7 903 111-22-44\n"


@pytest.fixture(name="page")
async def _page(aiohttp_server, settings, template, browser: DevTools):
    """The import page open in Chromium, logged in as the agent ivanov."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    cookie, _data = app[keys.SESSIONS].issue(template.users["ivanov"], hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/crm/import")
    await browser.until("document.readyState === 'complete' && !!document.getElementById('upload-form')")
    return app, browser


async def contacts(app) -> int:
    async with app[keys.DB]() as session:
        return await session.scalar(select(func.count()).select_from(Contact))


class TestImportInChromium:
    async def test_upload_check_and_import(self, page):
        """The script uploads with the CSRF header, the job page polls to the report, then imports."""
        app, browser = page
        before = await contacts(app)
        await browser.js(
            f"""const input = document.querySelector('input[type=file]');
            const files = new DataTransfer();
            files.items.add(new File([{json.dumps(CSV)}], 'clients.csv', {{type: 'text/csv'}}));
            input.files = files.files;
            document.querySelector('#upload-form button[type=submit]').click();"""
        )
        await browser.until(
            "location.pathname.startsWith('/crm/import/') && !!document.getElementById('map-0')"
        )
        assert "name" == await browser.js("document.getElementById('map-0').value")
        assert "phone" == await browser.js("document.getElementById('map-1').value")

        await browser.js("document.querySelector('button[value=dry_run]').click()")
        notice = await browser.until(
            "document.readyState === 'complete'"
            " && document.getElementById('import-job')?.dataset.state === 'done'"
            " && document.querySelector('.notice')?.textContent"
        )
        assert "The check found no errors: 2 to create, 0 to merge, 0 to skip." == notice
        assert before == await contacts(app)

        await browser.js("document.querySelector('button[value=import]').click()")
        notice = await browser.until(
            "(t => t && t.startsWith('Imported') ? t : '')(document.querySelector('.notice')?.textContent)"
        )
        assert "Imported: 2 created, 0 merged, 0 skipped." == notice
        assert before + 2 == await contacts(app)

    async def test_an_unreadable_file_is_shown_on_the_page(self, page):
        """A failed upload shows the server's message in place; the page stays."""
        _app, browser = page
        await browser.js(
            """const input = document.querySelector('input[type=file]');
            const files = new DataTransfer();
            files.items.add(new File(['not a workbook'], 'old.xlsx'));
            input.files = files.files;
            document.querySelector('#upload-form button[type=submit]').click();"""
        )
        message = await browser.until(
            "(e => !e.hidden && e.textContent)(document.getElementById('import-error'))"
        )
        assert "old.xlsx: not an .xlsx workbook (an old .xls? save it as .xlsx or CSV)" == message
