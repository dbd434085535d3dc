"""Deals by stage in a real headless Chromium: dragging a card onto another stage's column.

The drag is HTML5 drag and drop, synthesised in the page: ``dragstart`` on the card, then
``dragover`` and ``drop`` on the target column with one ``DataTransfer``, as Chromium fires them
for a mouse drag. The page posts the move to the real app on a real socket, so the stage, the loss
reason and the stage history are read back from the database.
"""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import json

import pytest

from crm_core.access import load_principal
from crm_core.models import Deal
from crm_core.sales.deals import create_deal
from crm_core.sales.pipelines import default_pipeline, load_stages
from crm_core.sales.schemas import DealCreate
from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE

from .chromium import DevTools
from .conftest import fake_pbx_factory

DRAG = """((dealId, code) => {
  const card = document.querySelector(`.card[data-deal="${dealId}"]`);
  const target = document.querySelector(`.column[data-stage="${code}"] .cards`);
  const data = new DataTransfer();
  const fire = (element, type) =>
    element.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data}));
  fire(card, "dragstart");
  const accepted = !fire(target, "dragover");  // the page calls preventDefault() on a drop target
  const dropped = !fire(target, "drop");
  fire(card, "dragend");
  return {accepted, dropped, carried: data.getData("text/plain")};
})(%s, %s)"""


DIALOG = "document.querySelector('.loss-dialog')"


def moved_to(deal_id: int, stage_id: int) -> str:
    """JS: has the page taken the server's yes for moving the deal to *stage_id*?"""
    return f"document.querySelector('.card[data-deal=\"{deal_id}\"]').dataset.moved === '{stage_id}'"


def card_column(deal_id: int) -> str:
    """JS: the stage code of the column the deal's card sits in now."""
    return f"document.querySelector('.card[data-deal=\"{deal_id}\"]').closest('.column').dataset.stage"


@pytest.fixture(name="board")
async def _board(aiohttp_server, settings, template, browser: DevTools):
    """Ivanov's deal "Fit-out" in NEW; the board open in Chromium as Ivanov; the stage posts noted."""
    app = create_app(settings, pbx_factory=fake_pbx_factory)
    posts: list[tuple[str, int]] = []

    async def note(request, response) -> None:
        if request.method == "POST":
            posts.append((request.path, response.status))

    app.on_response_prepare.append(note)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    async with app[keys.DB]() as session:
        ivanov = await load_principal(session, template.users["ivanov"])
        deal = await create_deal(session, ivanov, DealCreate(title="Fit-out"))
        stages = {s.code: s.id for s in await load_stages(session, (await default_pipeline(session)).id)}
        await session.commit()
    cookie, _data = app[keys.SESSIONS].issue(template.users["ivanov"], hours=1)
    await browser.send("Network.enable")
    await browser.send("Network.setCookie", name=SESSION_COOKIE, value=cookie, url=base, httpOnly=True)
    await browser.send("Page.navigate", url=f"{base}/crm/deals")
    await browser.until(
        f"document.readyState === 'complete' && !!document.querySelector('.card[data-deal=\"{deal.id}\"]')"
    )
    return app, browser, deal.id, stages, posts


async def stored(app, deal_id: int) -> Deal:
    async with app[keys.DB]() as session:
        return await session.get(Deal, deal_id)


async def drag(page: DevTools, deal_id: int, code: str) -> dict:
    return await page.js(DRAG % (json.dumps(deal_id), json.dumps(code)))


class TestDragAndDrop:
    async def test_dropping_on_the_next_stage_moves_the_deal(self, board):
        """
        The card dropped on PREPARATION: the deal is there in the database, the card sits in that
        column, and both columns' counts are the server's again.
        """
        app, page, deal_id, stages, posts = board

        events = await drag(page, deal_id, "PREPARATION")
        await page.until(moved_to(deal_id, stages["PREPARATION"]))
        await page.until(
            "document.querySelector('.column[data-stage=\"PREPARATION\"]').dataset.count === '1'"
        )

        assert {"accepted": True, "dropped": True, "carried": str(deal_id)} == events
        assert stages["PREPARATION"] == (await stored(app, deal_id)).stage_id
        assert "PREPARATION" == await page.js(card_column(deal_id))
        assert "0" == await page.js("document.querySelector('.column[data-stage=\"NEW\"]').dataset.count")
        assert [(f"/crm/deals/{deal_id}/stage", 200)] == posts

    async def test_a_failure_stage_asks_for_the_reason_and_keeps_it(self, board):
        """
        Dropped on LOSE: the dialog asks why; with a reason the deal is lost and closed, and the
        reason stored.
        """
        app, page, deal_id, stages, _posts = board

        await drag(page, deal_id, "LOSE")
        question = await page.until(
            f"(d => d.open && d.querySelector('.loss-question').textContent)({DIALOG})"
        )
        await page.js(
            """(d => { d.querySelector('textarea').value = 'Chose a cheaper supplier';
                      d.querySelector('button[value="ok"]').click(); })"""
            + f"({DIALOG})"
        )
        await page.until(moved_to(deal_id, stages["LOSE"]))

        assert "Moving Fit-out to Deal lost needs the reason the deal was lost." == question
        lost = await stored(app, deal_id)
        assert (stages["LOSE"], "Chose a cheaper supplier", True) == (
            lost.stage_id,
            lost.loss_reason,
            lost.closed,
        )
        assert "LOSE" == await page.js(card_column(deal_id))

    async def test_cancelling_the_reason_puts_the_card_back(self, board):
        """
        Dropped on LOSE, then Cancel: the card is back in NEW, nothing was posted, the deal is unchanged.
        """
        app, page, deal_id, stages, posts = board

        await drag(page, deal_id, "LOSE")
        await page.until("document.querySelector('.loss-dialog').open")
        assert "LOSE" == await page.js(card_column(deal_id))  # shown where it was dropped while asking
        await page.js("document.querySelector('.loss-dialog button[value=\"cancel\"]').click()")
        await page.until(f"!document.querySelector('.loss-dialog').open && {card_column(deal_id)} === 'NEW'")

        kept = await stored(app, deal_id)
        assert (stages["NEW"], None, False) == (kept.stage_id, kept.loss_reason, kept.closed)
        assert [] == posts
        assert "1" == await page.js("document.querySelector('.column[data-stage=\"NEW\"]').dataset.count")
