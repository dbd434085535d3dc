"""The header's navigation on the real app: each role sees the sections it may open, this one marked."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select

from crm_core.models import AccessGrant, AccessRole, User
from crm_core.rights import Action, Entity
from web import keys

from .browser import Browser
from .test_dialplan import add_admin

EVERY_SECTION = [
    "/agent",
    "/supervisor",
    "/crm/leads",
    "/crm/deals",
    "/supervisor/recordings",
    "/crm/import",
    "/admin/dialplan",
    "/admin/users",
    "/admin/crm",
    "/admin/audit",
]


def nav_links(html: str) -> list[str]:
    """The header's section links, in order."""
    [nav] = re.findall(r'<nav class="top-nav".*?</nav>', html, re.S)
    return re.findall(r'<a class="top-link" href="([^"]+)"', nav)


def current(html: str) -> list[str]:
    """The links marked as this page."""
    return re.findall(r'<a class="top-link" href="([^"]+)" aria-current="page"', html)


def brand(html: str) -> str:
    [href] = re.findall(r'<a class="brand" href="([^"]+)"', html)
    return href


async def page(client, user_id: int, path: str) -> str:
    response = await Browser(client, user_id).get(path)
    assert 200 == response.status, path
    return await response.text()


class TestLinksByRole:
    async def test_an_agent_has_calls_and_the_crm_but_no_board_and_no_admin_pages(self, client, template):
        """
        ivanov (agent, ext. 101): Calls, CRM, Sales, his calls' recordings and the import; no live
        board, no dialplan, users or audit log; the brand leads to his calls.
        """
        html = await page(client, template.users["ivanov"], "/agent")

        assert [
            "/agent",
            "/crm/leads",
            "/crm/deals",
            "/supervisor/recordings",
            "/crm/import",
        ] == nav_links(html)
        assert "/agent" == brand(html)

    async def test_a_supervisor_without_an_extension_has_the_board_but_no_calls(self, client, template):
        """
        boss (supervisor, no extension): the live board, not "Calls" (no phone to pop on); the
        brand leads to the board; still no admin pages.
        """
        html = await page(client, template.users["boss"], "/supervisor")

        links = nav_links(html)
        assert "/supervisor" in links
        assert "/agent" not in links
        assert not {"/admin/dialplan", "/admin/users", "/admin/audit"} & set(links)
        assert "/supervisor" == brand(html)

    async def test_an_admin_has_every_section(self, client):
        """An admin without an extension: every section but "Calls"; with one, every section."""
        admin_id = await add_admin(client.app)
        html = await page(client, admin_id, "/admin/users")

        assert [link for link in EVERY_SECTION if link != "/agent"] == nav_links(html)

    async def test_no_call_rights_no_recordings_link(self, client, template):
        """
        Without any call/read level (the agent role's grant removed) the recordings console would
        answer 403, so its link is not offered; nor the import without any add right.
        """
        async with client.app[keys.DB]() as session:
            agent = await session.scalar(select(AccessRole.id).where(AccessRole.name == "agent"))
            await session.execute(
                delete(AccessGrant).where(
                    AccessGrant.role_id == agent,
                    (AccessGrant.entity == Entity.CALL.value) | (AccessGrant.action == Action.ADD.value),
                )
            )
            await session.commit()
        browser = Browser(client, template.users["ivanov"])

        html = await (await browser.get("/crm/leads")).text()
        console = await browser.get("/supervisor/recordings")

        assert ["/agent", "/crm/leads", "/crm/deals"] == nav_links(html)
        assert 403 == console.status


class TestCurrentSection:
    @pytest.mark.parametrize(
        ("path", "marked"),
        [
            ("/agent", "/agent"),
            ("/supervisor", "/supervisor"),
            ("/supervisor/recordings", "/supervisor/recordings"),
            ("/crm/leads", "/crm/leads"),
            ("/crm/contacts", "/crm/leads"),
            ("/crm/deals", "/crm/deals"),
            ("/crm/funnel", "/crm/deals"),
            ("/crm/products", "/crm/deals"),
            ("/crm/import", "/crm/import"),
            ("/admin/users", "/admin/users"),
            ("/admin/crm", "/admin/crm"),
            ("/admin/audit", "/admin/audit"),
        ],
    )
    async def test_the_page_s_section_is_marked(self, client, path, marked):
        """Exactly one link is aria-current="page": the section the page belongs to."""
        admin_id = await add_admin(client.app)
        async with client.app[keys.DB]() as session:
            admin = await session.get(User, admin_id)
            admin.extension = "109"
            await session.commit()

        html = await page(client, admin_id, path)

        assert [marked] == current(html)

    async def test_the_login_page_has_no_navigation(self, client):
        """Nobody is logged in: the brand only."""
        html = await (await client.get("/login")).text()

        assert 'class="top-nav"' not in html
        assert '<span class="brand">CTI</span>' in html
