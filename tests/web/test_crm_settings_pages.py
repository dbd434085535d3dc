"""The admin's CRM settings page on both databases: stages added, moved and refused deletion, lead
statuses and sources, document statuses; admins only; the page in Russian."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.models import DocumentStatus, LeadSourceItem, LeadStatusItem, Stage
from crm_core.sales.deals import create_deal
from crm_core.sales.pipelines import default_pipeline, load_stages
from crm_core.sales.schemas import DealCreate
from web import i18n

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

PAGE = "/admin/crm"
OUR_CATALOGUE = Path(i18n.__file__).parent / "locales" / "ru.crm_settings.json"


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


async def page(api, path: str, login: str = "root", locale: str = "en") -> tuple[int, str]:
    headers = {**api.browser(login, csrf=False), "Accept-Language": locale}
    response = await api.client.get(path, headers=headers, allow_redirects=False)
    return response.status, await response.text()


async def post(api, path: str, data: dict, login: str = "root", locale: str = "en"):
    headers = {**api.browser(login), "Accept-Language": locale}
    return await api.client.post(path, data=data, headers=headers, allow_redirects=False)


async def stages(api) -> dict[str, Stage]:
    async with api.sessionmaker() as session:
        return {s.code: s for s in await load_stages(session, (await default_pipeline(session)).id)}


async def entry(api, model, code: str):
    async with api.sessionmaker() as session:
        return await session.scalar(select(model).where(model.code == code))


def refusal(html: str, form: str) -> str:
    """The error shown beside *form* (one only), as text."""
    [message] = re.findall(rf'<p class="error" role="alert" data-form="{form}">(.*?)</p>', html, re.S)
    return message


def board_order(html: str) -> list[str]:
    return re.findall(r'<section class="column \w+" data-stage="(\w+)"', html)


class TestStages:
    async def test_an_added_stage_moved_up_shows_in_that_place_on_the_deals_board(self, api):
        """
        A new in-progress stage goes last among the in-progress ones (before WON); moved up once
        it stands before FINAL_INVOICE, with its probability, on the settings page and the board.
        """
        pipeline = (await stages(api))["NEW"].pipeline_id
        added = await post(
            api,
            f"{PAGE}/pipelines/{pipeline}/stages",
            {"code": "call_back", "name": "Call back", "semantic": "process", "probability": "70"},
        )
        new = (await stages(api))["CALL_BACK"]
        moved = await post(api, f"{PAGE}/pipelines/{pipeline}/stages/{new.id}/move", {"direction": "up"})
        _, settings = await page(api, moved.headers["Location"])
        _, board = await page(api, "/crm/deals")

        assert (303, 303) == (added.status, moved.status)
        assert "Stage Call back moved." in settings
        assert (70, "process") == (new.probability, new.semantic)
        expected = ["NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "CALL_BACK", "FINAL_INVOICE"]
        assert [*expected, "WON", "LOSE"] == board_order(board)
        assert [*expected, "WON", "LOSE"] == re.findall(r'<tr data-stage="(\w+)"', settings)

    async def test_a_stage_is_renamed_and_its_probability_changed(self, api):
        """The stage's row form saves its name and probability; the code and meaning stay."""
        before = (await stages(api))["EXECUTING"]

        response = await post(
            api,
            f"{PAGE}/pipelines/{before.pipeline_id}/stages/{before.id}",
            {"name": "Contract signed", "probability": "65"},
        )
        after = (await stages(api))["EXECUTING"]

        assert 303 == response.status
        assert (before.id, "Contract signed", 65, "process") == (
            after.id,
            after.name,
            after.probability,
            after.semantic,
        )

    async def test_deleting_a_stage_with_deals_is_refused_with_the_reason(self, api):
        """
        NEW holds a deal: deleting it is refused (409), said beside its row, and NEW stays;
        an empty stage is deleted.
        """
        async with api.sessionmaker() as session:
            await create_deal(
                session, await load_principal(session, api.ids["root"]), DealCreate(title="Big one")
            )
            await session.commit()
        known = await stages(api)
        path = f"{PAGE}/pipelines/{known['NEW'].pipeline_id}/stages"

        refused = await post(api, f"{path}/{known['NEW'].id}/delete", {})
        html = await refused.text()
        deleted = await post(api, f"{path}/{known['PREPARATION'].id}/delete", {})

        assert 409 == refused.status
        assert "New cannot be deleted: deals have been in it" == refusal(html, f"stage-{known['NEW'].id}")
        assert {"NEW"} <= set(await stages(api))
        assert 303 == deleted.status
        assert "PREPARATION" not in await stages(api)

    async def test_a_move_out_of_the_funnel_order_is_refused_by_the_service(self, api):
        """WON moved above the last in-progress stage breaks the layout: the service's rule, in words."""
        won = (await stages(api))["WON"]

        response = await post(
            api, f"{PAGE}/pipelines/{won.pipeline_id}/stages/{won.id}/move", {"direction": "up"}
        )
        html = await response.text()

        assert 422 == response.status
        assert (
            "Meaning: the in-progress stages come first, then the success stage, then the failure stages"
            == refusal(html, f"stage-{won.id}")
        )

    async def test_a_bad_code_is_named_beside_the_add_form(self, api):
        """A code with a space never reaches the database: the field and the rule are named."""
        pipeline = (await stages(api))["NEW"].pipeline_id

        response = await post(
            api, f"{PAGE}/pipelines/{pipeline}/stages", {"code": "A B", "name": "x", "semantic": "process"}
        )
        html = await response.text()

        assert 422 == response.status
        assert refusal(html, "stage-new").startswith("Code: Latin capitals")
        assert 'value="A B"' in html


class TestPipelines:
    async def test_a_new_pipeline_becomes_the_default(self, api):
        """Added with the standard stages, then made the default: the old one loses the mark."""
        added = await post(api, f"{PAGE}/pipelines", {"name": "Wholesale"})
        pipeline = int(re.search(r"pipeline=(\d+)", added.headers["Location"]).group(1))
        made = await post(api, f"{PAGE}/pipelines/{pipeline}/default", {})
        _, html = await page(api, made.headers["Location"])

        async with api.sessionmaker() as session:
            default = await default_pipeline(session)
            new_stages = await load_stages(session, pipeline)
        assert (303, 303) == (added.status, made.status)
        assert (pipeline, "Wholesale") == (default.id, default.name)
        assert 7 == len(new_stages)
        assert "New deals now go to pipeline Wholesale." in html


class TestLeadDictionaries:
    async def test_adding_a_lead_status_with_the_failure_meaning(self, api):
        """SPAM is added as a failure status, code upper-cased, listed on the page."""
        response = await post(
            api,
            f"{PAGE}/lead-statuses",
            {"code": "spam", "name": "Spam", "sort": "60", "semantic": "failure"},
        )
        _, html = await page(api, response.headers["Location"])
        spam = await entry(api, LeadStatusItem, "SPAM")

        assert 303 == response.status
        assert ("Spam", 60, "failure") == (spam.name, spam.sort, spam.semantic)
        assert "Spam added." in html
        assert '<tr data-code="SPAM">' in html

    async def test_a_built_in_status_cannot_be_deleted(self, api):
        """NEW and CONVERTED are refused with the service's reasons; both stay."""
        new = await entry(api, LeadStatusItem, "NEW")
        converted = await entry(api, LeadStatusItem, "CONVERTED")

        first = await post(api, f"{PAGE}/lead-statuses/{new.id}/delete", {})
        second = await post(api, f"{PAGE}/lead-statuses/{converted.id}/delete", {})

        assert (409, 409) == (first.status, second.status)
        assert "New cannot be deleted: call logging files new leads in it" == refusal(
            await first.text(), f"lead-statuses-{new.id}"
        )
        assert "Converted cannot be deleted: conversion moves leads to it" == refusal(
            await second.text(), f"lead-statuses-{converted.id}"
        )
        assert await entry(api, LeadStatusItem, "NEW") is not None

    async def test_a_source_is_renamed_and_resorted_then_deleted(self, api):
        """An unused source takes a new name and place, and then goes."""
        await post(api, f"{PAGE}/lead-sources", {"code": "FAIR", "name": "Fair", "sort": "5"})
        fair = await entry(api, LeadSourceItem, "FAIR")

        saved = await post(api, f"{PAGE}/lead-sources/{fair.id}", {"name": "Trade fair", "sort": "900"})
        renamed = await entry(api, LeadSourceItem, "FAIR")
        deleted = await post(api, f"{PAGE}/lead-sources/{fair.id}/delete", {})

        assert (303, 303) == (saved.status, deleted.status)
        assert ("Trade fair", 900) == (renamed.name, renamed.sort)
        assert await entry(api, LeadSourceItem, "FAIR") is None

    async def test_a_taken_code_is_refused(self, api):
        """A second CALL source: the service's refusal, beside the add form, what was typed kept."""
        response = await post(api, f"{PAGE}/lead-sources", {"code": "CALL", "name": "Calls again"})
        html = await response.text()

        assert 422 == response.status
        assert "Code: this code is taken" == refusal(html, "lead-sources-new")
        assert 'value="Calls again"' in html


class TestDocumentStatuses:
    async def test_a_quote_status_is_added_and_the_invoice_list_is_untouched(self, api):
        """ON_HOLD joins the quote statuses only; a status of the other list is not found under this one."""
        response = await post(
            api, f"{PAGE}/quote-statuses", {"code": "ON_HOLD", "name": "On hold", "semantic": "process"}
        )
        async with api.sessionmaker() as session:
            rows = list(await session.scalars(select(DocumentStatus).where(DocumentStatus.code == "ON_HOLD")))
            invoice = await session.scalar(select(DocumentStatus).where(DocumentStatus.kind == "invoice"))
        wrong_list = await post(api, f"{PAGE}/quote-statuses/{invoice.id}/delete", {})

        assert 303 == response.status
        assert [("quote", "process")] == [(row.kind, row.semantic) for row in rows]
        assert 404 == wrong_list.status


class TestAccess:
    @pytest.mark.parametrize("login", ["boss", "ivan"])
    async def test_supervisors_and_agents_get_403_and_no_link(self, api, login):
        """The page and its forms answer 403; their header has no "CRM settings" link; the admin's has."""
        status, _ = await page(api, PAGE, login)
        _, leads = await page(api, "/crm/leads", login)
        _, admins = await page(api, "/crm/leads")
        posted = await post(api, f"{PAGE}/lead-sources", {"code": "X", "name": "X"}, login)

        assert (403, 403) == (status, posted.status)
        assert 'href="/admin/crm"' not in leads
        assert 'href="/admin/crm"' in admins
        assert await entry(api, LeadSourceItem, "X") is None

    async def test_the_link_is_marked_on_the_page(self, api):
        """The header marks "CRM settings" as the current section."""
        _, html = await page(api, PAGE)

        assert '<a class="top-link" href="/admin/crm" aria-current="page">CRM settings</a>' in html


class TestRussian:
    async def test_the_page_speaks_russian(self, api):
        """
        Headings, meanings and buttons in Russian; no message of ours left as an element's English text.
        """
        status, html = await page(api, PAGE, locale="ru")
        english = [m for m in json.loads(OUR_CATALOGUE.read_text(encoding="utf-8")) if "%" not in m]

        assert 200 == status
        for text in (
            "Настройки CRM",
            "Воронки",
            "Статусы лидов",
            "Статусы счетов",
            "Провал",
            "Добавить стадию",
        ):
            assert text in html
        shown = re.findall(r">\s*([^<>]*?)\s*<", html) + re.findall(r'aria-label="([^"]*)"', html)
        assert [] == [text for text in shown if text in english]

    async def test_a_refusal_in_russian(self, api):
        """The service's English reason is said in Russian; the status's name is data."""
        new = await entry(api, LeadStatusItem, "NEW")

        response = await post(api, f"{PAGE}/lead-statuses/{new.id}/delete", {}, locale="ru")

        assert "«New» нельзя удалить: в нём создаются лиды из звонков" == refusal(
            await response.text(), f"lead-statuses-{new.id}"
        )
