"""A Russian user's agent page in a real headless Chromium: the live texts come from static/i18n.js.

The server renders only the page's frame; everything the screen-pop writes later (the link state,
the caller's card, the call's state) is produced in the browser by agent.js through ``t()``, from the
catalogue base.html embeds. Chromium is driven over the DevTools protocol (tests/web/chromium.py).
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .conftest import KNOWN_CALLER, UNKNOWN_CALLER, fake_pbx_factory
from .fakes import OWN_DID, answered, inbound, ringing
from .test_i18n import set_user_locale, stored_locale


async def after_navigation(page, expression: str, timeout: float = 10.0) -> None:
    """Wait until *expression* holds on the next document (evaluating fails while none is there)."""
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(AssertionError):  # between two documents: no context to evaluate in
                if await page.js(expression):
                    return
            await asyncio.sleep(0.05)


LINK_STATE = "document.getElementById('link-state').textContent"


async def open_agent_page(aiohttp_server, settings, template, browser, locale: str | None):
    """ivanov (extension 101) with *locale* chosen, on /agent in Chromium, the socket connected."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    server = await aiohttp_server(app)
    await set_user_locale(app, template.users["ivanov"], locale)
    base = f"http://127.0.0.1:{server.port}"
    cookie, _data = app[keys.SESSIONS].issue(template.users["ivanov"], hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/agent")
    await browser.until("document.getElementById('link-state')?.dataset.state === 'connected'")
    return app, browser


@pytest.fixture(name="agent_page")
async def _agent_page(aiohttp_server, settings, template, browser):
    """ivanov, who chose Russian, on his agent page."""
    return await open_agent_page(aiohttp_server, settings, template, browser, "ru")


class TestRussianAgentPage:
    async def test_the_link_state_is_written_in_russian_by_the_script(self, agent_page):
        """
        The server renders "Подключение…"; once the socket says hello, agent.js writes the Russian
        "connected" line itself, in a page marked lang="ru".
        """
        _app, page = agent_page

        assert "ru" == await page.js("document.documentElement.lang")
        assert "Подключено: звонки на 101 появятся здесь." == await page.js(LINK_STATE)
        assert "Добавочный 101" == await page.js("document.querySelector('h1').textContent")

    async def test_a_known_caller_pops_in_russian(self, agent_page):
        """
        A ringing call from Anna: direction, card facts and state are Russian; names stay as stored.
        """
        app, page = agent_page
        app[keys.PBX].publish(inbound("c1", KNOWN_CALLER, name="ANNA"))
        app[keys.PBX].publish(ringing("c1", "101"))

        await page.until("document.querySelector('#calls .call .call-status')?.textContent === 'Звонит'")
        card = await page.js(
            "(li => ({meta: li.querySelector('.call-meta').textContent,"
            " title: li.querySelector('.card-title').textContent,"
            " facts: li.querySelector('.card-facts').textContent}))(document.querySelector('#calls .call'))"
        )

        assert {
            "meta": f"Входящий звонок на {OWN_DID}",
            "title": "Anna Smirnova",
            "facts": " контакт · Romashka LLC · ответственный: Petr Petrov",
        } == card

    async def test_an_unknown_caller_and_the_answer_in_russian(self, agent_page):
        """
        An unknown caller is a "Новый клиент"; answering at 101 turns the state to "Вы ответили".
        """
        app, page = agent_page
        app[keys.PBX].publish(inbound("c2", UNKNOWN_CALLER))
        app[keys.PBX].publish(ringing("c2", "101"))
        await page.until("document.querySelector('#calls .call .new-caller')?.textContent === 'Новый клиент'")

        app[keys.PBX].publish(answered("c2", "101"))

        status = await page.until(
            "(s => s !== 'Звонит' && s)(document.querySelector('#calls .call .call-status').textContent)"
        )
        assert "Вы ответили" == status

    async def test_the_scripts_plural_forms_match_the_servers(self, agent_page):
        """
        i18n.js picks the same Russian plural forms as the server: 1, 2, 5, 11, 21.
        """
        _app, page = agent_page

        forms = await page.js("[1, 2, 5, 11, 21].map(n => I18N.nt('%(num)s call', '%(num)s calls', n))")

        assert ["1 звонок", "2 звонка", "5 звонков", "11 звонков", "21 звонок"] == forms

    async def test_the_scripts_fill_placeholders_and_percent_signs(self, agent_page):
        """
        ``t()`` fills ``%(name)s`` and turns ``%%`` into ``%``, as the server does.
        """
        _app, page = agent_page

        texts = await page.js(
            "[I18N.t('Answered by %(who)s', {who: '102'}), I18N.t('100%% sure'), I18N.t('%(x)s')]"
        )

        assert ["Ответил 102", "100% sure", "%(x)s"] == texts


class TestSwitchInTheBrowser:
    async def test_the_header_switch_turns_the_page_russian(
        self, aiohttp_server, settings, template, browser
    ):
        """
        Chromium (asking for English) clicks "Русский": the form posts with its CSRF token, the choice
        is stored, and the same page comes back in Russian.
        """
        app, page = await open_agent_page(aiohttp_server, settings, template, browser, None)
        assert "Extension 101" == await page.js("document.querySelector('h1').textContent")

        await page.js("document.querySelector('.locale-switch button[value=ru]').click()")

        await after_navigation(
            page, "document.documentElement?.lang === 'ru' && document.readyState === 'complete'"
        )
        assert "Добавочный 101" == await page.js("document.querySelector('h1').textContent")
        assert "/agent" == await page.js("location.pathname")
        assert "ru" == await stored_locale(app, template.users["ivanov"])
