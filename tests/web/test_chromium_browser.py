"""The shared Chromium's pages are isolated: each has its own browser context, gone after use."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import aiohttp

from .chromium import DevTools, isolated_page

SITE = "http://127.0.0.1:9/"
"Cookies are set for a URL; nothing needs to answer there."


async def cookie_names(page: DevTools) -> list[str]:
    return [cookie["name"] for cookie in (await page.send("Network.getCookies", urls=[SITE]))["cookies"]]


async def contexts(devtools_port: int) -> list[str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{devtools_port}/json/version") as response:
            url = (await response.json())["webSocketDebuggerUrl"]
        async with http.ws_connect(url) as ws:
            return (await DevTools(ws).send("Target.getBrowserContexts"))["browserContextIds"]


class TestIsolatedPages:
    async def test_a_cookie_stays_in_its_own_page(self, browser, devtools_port):
        """
        A cookie set on one page is that page's alone: another page of the same Chromium lacks it.
        """
        await browser.send("Network.enable")
        await browser.send("Network.setCookie", name="session", value="1", url=SITE)

        async with isolated_page(devtools_port) as other:
            await other.send("Network.enable")
            seen_elsewhere = await cookie_names(other)

        assert ["session"] == await cookie_names(browser)
        assert [] == seen_elsewhere

    async def test_a_page_s_context_is_disposed_of_on_exit(self, devtools_port):
        """
        Leaving a page disposes of its browser context, and with it the cookies set there.
        """
        before = await contexts(devtools_port)
        async with isolated_page(devtools_port) as page:
            await page.send("Network.setCookie", name="session", value="1", url=SITE)
            during = await contexts(devtools_port)

        after = await contexts(devtools_port)

        assert 1 == len(set(during) - set(before))
        assert sorted(before) == sorted(after)
