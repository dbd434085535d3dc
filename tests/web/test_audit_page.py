"""GET /admin/audit on both databases: who, what, when; filters by action family and user; paging;
admins only."""

from __future__ import annotations

import re

import pytest

from crm_core import audit
from web.views import audit as audit_view

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    api = await build_api(aiohttp_client, settings, sessionmaker)
    async with sessionmaker() as session:
        api.earlier = len(await audit.entries(session))  # the app's own start-up entries
        for action, actor, target in (
            ("recording.listen", "boss", "recording:1"),
            ("recording.download", "boss", "recording:1"),
            ("recording.denied", "petr", "recording:1"),
            ("recordingx.other", "root", "x:1"),
            ("dialplan.apply", "root", "dialplan:3"),
        ):
            await audit.record(
                session,
                action=action,
                actor=actor,
                user_id=api.ids[actor],
                target=target,
                details={"range": "bytes=0-", "note": "<b>"},
            )
        await session.commit()
    return api


async def page(api, query: str = "", login: str = "root") -> tuple[int, str]:
    response = await api.client.get(
        f"/admin/audit{query}", headers=api.browser(login, csrf=False), allow_redirects=False
    )
    return response.status, await response.text()


def actions(html: str) -> list[str]:
    return re.findall(r'<td class="action" data-action="([^"]+)">', html)


class TestAuditPage:
    async def test_newest_first_with_who_what_when(self, api):
        """Every entry, newest first (ours above the app's start-up ones), with actor and details, escaped."""
        status, html = await page(api)

        assert 200 == status
        assert [
            "dialplan.apply",
            "recordingx.other",
            "recording.denied",
            "recording.download",
            "recording.listen",
        ] == actions(html)[:5]
        assert 5 + api.earlier == len(actions(html))
        assert '<td class="actor">petr</td>' in html
        assert "<dt>note</dt><dd>&lt;b&gt;</dd>" in html
        assert f"{5 + api.earlier} entries" in html

    async def test_filter_by_action_family(self, api):
        """``recording`` finds recording.* but not recordingx.*; a whole action finds itself."""
        _, family = await page(api, "?action=recording")
        _, one = await page(api, "?action=recording.download")

        assert ["recording.denied", "recording.download", "recording.listen"] == actions(family)
        assert ["recording.download"] == actions(one)

    async def test_filter_by_user(self, api):
        """Only boss's entries; combined with an action."""
        _, html = await page(api, "?user=boss")
        _, both = await page(api, "?user=boss&action=recording.listen")

        assert ["recording.download", "recording.listen"] == actions(html)
        assert ["recording.listen"] == actions(both)

    async def test_paging(self, api, monkeypatch):
        """Pages of two: the first links to the next, the last to the previous only."""
        monkeypatch.setattr(audit_view, "PAGE_SIZE", 2)
        _, first = await page(api)
        _, second = await page(api, "?offset=2")
        _, third = await page(api, "?offset=4")

        assert ["dialplan.apply", "recordingx.other"] == actions(first)
        assert 'href="/admin/audit?offset=2"' in first
        assert ["recording.denied", "recording.download"] == actions(second)
        assert 'href="/admin/audit">' in second
        assert 'href="/admin/audit?offset=4"' in second
        assert "recording.listen" == actions(third)[0]
        assert 'href="/admin/audit?offset=2"' in third

    async def test_admins_only(self, api):
        """A supervisor gets 403; nobody logged in goes to the login page."""
        status, _ = await page(api, login="boss")
        anonymous = await api.client.get("/admin/audit", allow_redirects=False)

        assert 403 == status
        assert 302 == anonymous.status
