"""Times on the pages are the office's wall clock; the office's days are its own, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from config.settings import WebSettings
from crm_core.models import Contact
from web import keys
from web.app import create_app
from web.timefmt import day_range, local

from .browser import Browser
from .conftest import fake_pbx_factory

MOSCOW = ZoneInfo("Europe/Moscow")
CREATED = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)


def test_a_naive_value_is_utc():
    assert datetime(2026, 11, 27, 10, 5, tzinfo=MOSCOW) == local(datetime(2026, 11, 27, 7, 5), MOSCOW)


def test_office_days_are_a_half_open_utc_range():
    since, until = day_range(date(2026, 11, 27), date(2026, 11, 28), MOSCOW)

    assert datetime(2026, 11, 26, 21, 0, tzinfo=UTC) == since
    assert datetime(2026, 11, 28, 21, 0, tzinfo=UTC) == until
    assert (None, None) == day_range(None, None, MOSCOW)


def test_an_unknown_zone_is_refused_by_name():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        WebSettings(timezone="Mars/Olympus")


async def _card_page(aiohttp_client, settings, template) -> str:
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    client = await aiohttp_client(app)
    async with app[keys.DB]() as session, session.begin():
        contact = update(Contact).where(Contact.id == template.contact_id)
        await session.execute(contact.values(created_at=CREATED))
    response = await Browser(client, template.users["petrov"]).get(f"/crm/contact/{template.contact_id}")
    assert 200 == response.status
    return await response.text()


async def test_the_card_shows_the_dialplan_zone_by_default(aiohttp_client, settings, template):
    """The sample dialplan's timezone is Europe/Moscow: 07:05 UTC is 10:05 in the office."""
    page = await _card_page(aiohttp_client, settings, template)

    assert "2026-11-27 10:05" in page
    assert 'data-timezone="Europe/Moscow"' in page


async def test_web_timezone_overrides_the_dialplan(aiohttp_client, settings, template):
    web = settings.web.model_copy(update={"timezone": "Asia/Vladivostok"})
    page = await _card_page(aiohttp_client, settings.model_copy(update={"web": web}), template)

    assert "2026-11-27 17:05" in page
    assert 'data-timezone="Asia/Vladivostok"' in page
