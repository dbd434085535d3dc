"""The activity form's "also on" search in a real headless Chromium (static/crm_cards.js).

The script searches the REST lists with the session cookie, a found card is added to the form, and
the saved activity is on both cards. The server side is the real app on a real socket.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.cards import LeadsResource
from crm_core.cards.schemas import LeadCreate
from crm_core.models import Activity, ActivityBinding
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import fake_pbx_factory


@pytest.fixture(name="card")
async def _card(aiohttp_server, settings, template, browser: DevTools):
    """Anna's card open in Chromium as Petrov, who also has a lead "Заявка с сайта"."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    async with app[keys.DB]() as session:
        principal = await load_principal(session, template.users["petrov"])
        lead = await LeadsResource().create(session, principal, LeadCreate(title="Заявка с сайта"))
        await session.commit()
    cookie, _data = app[keys.SESSIONS].issue(template.users["petrov"], hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/crm/contact/{template.contact_id}")
    await browser.until(
        "document.readyState === 'complete' && !!document.querySelector('form.activity-form')"
    )
    return app, browser, lead.id


class TestAlsoOnSearch:
    async def test_a_lead_found_by_name_is_bound_too(self, card, template):
        """
        The search shows (it is hidden without the script); "сайт" among leads finds the lead;
        choosing it adds it to the form, and the saved meeting is on Anna's card and on the lead.
        """
        app, browser, lead_id = card

        shown = await browser.js("!document.querySelector('.bind-picker').hidden")
        direction_hidden = await browser.js("document.querySelector('.activity-direction').hidden")
        await browser.js(
            """(() => {
              const form = document.querySelector('form.activity-form');
              form.querySelector('.bind-kind').value = 'lead';
              const query = form.querySelector('.bind-query');
              query.value = 'сайт';
              query.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
            })()"""
        )
        found = await browser.until(
            "(b => b && b.textContent)(document.querySelector('.bind-results .bind-found'))"
        )
        await browser.js("document.querySelector('.bind-results .bind-found').click()")
        chosen = await browser.js(
            "[...document.querySelectorAll('.bind-chosen input[name=bind]')].map(i => i.value)"
        )
        await browser.js(
            """(() => {
              const form = document.querySelector('form.activity-form');
              form.querySelector('[name=subject]').value = 'Встреча по заявке';
              form.querySelector('[name=start_date]').value = '2026-03-02';
              form.querySelector('[name=start_time]').value = '10:00';
              form.querySelector('button[type=submit]').click();
            })()"""
        )
        await browser.until(
            "document.readyState === 'complete' && location.hash === '#timeline'"
            " && !!document.querySelector('.timeline-item[data-source=activity]')"
        )
        async with app[keys.DB]() as session:
            activity_id = await session.scalar(
                select(Activity.id).where(Activity.subject == "Встреча по заявке")
            )
            bound = set(
                await session.execute(
                    select(ActivityBinding.owner_type, ActivityBinding.owner_id).where(
                        ActivityBinding.activity_id == activity_id
                    )
                )
            )

        assert (True, True) == (shown, direction_hidden)
        assert "Заявка с сайта" == found
        assert [f"lead:{lead_id}"] == chosen
        assert {("contact", template.contact_id), ("lead", lead_id)} == bound
