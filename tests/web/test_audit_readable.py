"""The audit log in words: actions translated, targets linked to their pages, details as a list."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import pytest

from crm_core import audit

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)
from .test_audit_page import page


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    api = await build_api(aiohttp_client, settings, sessionmaker)
    async with sessionmaker() as session:
        for action, target, details in (
            ("recording.listen", "recording:12", {"call_id": "c-1"}),
            ("lead.convert", "lead:5", {"deal_id": 9, "created": ["contact"]}),
            ("crm.import", "contacts", {"rows": 3, "skipped": 0}),
            ("dialplan.apply", "dialplan_version:4", {"source": "web"}),
            ("something.new", "thing:1", {}),
        ):
            await audit.record(
                session, action=action, actor="root", user_id=api.ids["root"], target=target, details=details
            )
        await session.commit()
    return api


def row(html: str, action: str) -> str:
    """The table row of root's entry with *action*."""
    rows = html.split("<tr data-entry=")[1:]
    [found] = [r for r in rows if f'data-action="{action}"' in r and '<td class="actor">root</td>' in r]
    return found


class TestReadableAuditLog:
    async def test_actions_in_words_targets_linked_details_listed(self, api):
        """
        Known actions read as sentences, each target links to its page (a lead to its card, a
        dialplan version to its history page), details are a term/value list.
        """
        _, html = await page(api)

        listen, convert, imported, applied = (
            row(html, a) for a in ("recording.listen", "lead.convert", "crm.import", "dialplan.apply")
        )
        assert ">Listened to a recording</td>" in listen
        assert '<a href="/supervisor/recordings?recording=12">Recording 12</a>' in listen
        assert "<dt>call</dt><dd>c-1</dd>" in listen
        assert '<a href="/crm/lead/5">Lead 5</a>' in convert
        assert "<dt>deal id</dt><dd>9</dd>" in convert
        assert '<a href="/crm/contacts">Contacts</a>' in imported
        assert "<dt>rows</dt><dd>3</dd>" in imported
        assert '<a href="/admin/dialplan/history/4">Dialplan version 4</a>' in applied

    async def test_an_unknown_action_and_target_show_as_written(self, api):
        """An action this page has no words for yet is shown as stored, its target too."""
        _, html = await page(api)

        unknown = row(html, "something.new")

        assert ">something.new</td>" in unknown
        assert ">thing:1</td>" in unknown

    async def test_russian(self, api):
        """In Russian the action reads in Russian."""
        _, html = await page(api, "?action=recording.listen")
        headers = api.browser("root", csrf=False)
        russian = await api.client.get(
            "/admin/audit?action=recording.listen", headers={**headers, "Accept-Language": "ru"}
        )

        assert "Listened to a recording" in html
        assert "Прослушал запись" in await russian.text()
