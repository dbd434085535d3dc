"""The activity form under the timelines (cards and deals) and the Done button, on both databases.

The real app over SQLite and PostgreSQL (migrated by the real Alembic revisions), the office on
Moscow time: what is typed is the office's clock, the database keeps UTC, the pages show the office's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from crm_core.access import load_principal
from crm_core.cards import ActivitiesResource
from crm_core.cards.schemas import ActivityCreate, Binding
from crm_core.models import AccessGrant, AccessRole, Activity, ActivityBinding, Company, Contact, User
from crm_core.sales.deals import create_deal
from crm_core.sales.schemas import DealCreate
from tests.crm_core.conftest import _blank_engine, _engine  # noqa: F401 (fixtures: sqlite and postgres)
from web import keys

from .crm_seed import seeded_client
from .test_crm_pages import Page


@pytest.fixture(name="db_client")
async def _db_client(aiohttp_client, engine, settings):
    """The real app over the parametrised database, seeded, the office in Moscow."""
    web = settings.web.model_copy(update={"timezone": "Europe/Moscow"})
    return await seeded_client(aiohttp_client, engine, settings.model_copy(update={"web": web}))


@pytest.fixture(name="ids")
async def _ids(db_client) -> dict[str, int]:
    async with db_client.app[keys.DB]() as session:
        users = {login: id for login, id in await session.execute(select(User.login, User.id))}
        return {
            **users,
            "anna": await session.scalar(select(Contact.id)),
            "romashka": await session.scalar(select(Company.id)),
        }


@pytest.fixture(name="olga")
def _olga(db_client, ids) -> Page:
    return Page(db_client, ids["olga"])


def meeting(subject: str, **fields: str) -> dict[str, str]:
    return {
        "kind": "meeting",
        "subject": subject,
        "start_date": "2026-03-02",
        "start_time": "10:00",
        **fields,
    }


async def activities(client) -> list[Activity]:
    async with client.app[keys.DB]() as session:
        return list(await session.scalars(select(Activity).order_by(Activity.id)))


def timeline_item(page: str, activity_id: int) -> str:
    """The HTML of one activity's entry on a timeline."""
    found = re.search(
        rf'<li class="timeline-item" data-source="activity"[^>]*data-id="{activity_id}">(.*?)</li>',
        page,
        re.S,
    )
    assert found is not None, f"activity {activity_id} is not on the timeline"
    return found[1]


class TestAddingActivities:
    async def test_a_meeting_on_a_contact_and_its_company_shows_on_both(self, db_client, olga, ids):
        """
        A meeting made on Anna's card, ticked "also on" her company: both timelines show it, each
        linking to the other card; its kind, time and responsible are shown.
        """
        anna, romashka = ids["anna"], ids["romashka"]
        _s, card = await olga.get(f"/crm/contact/{anna}")
        posted = await olga.post(
            f"/crm/contact/{anna}/activities",
            [*meeting("Презентация в офисе").items(), ("bind", f"company:{romashka}")],
        )
        [made] = await activities(db_client)
        _s, on_contact = await olga.get(f"/crm/contact/{anna}")
        _s, on_company = await olga.get(f"/crm/company/{romashka}")

        assert f'value="company:{romashka}"' in card  # the linked company is offered as a tick
        assert (303, f"/crm/contact/{anna}#timeline") == (posted.status, posted.headers["Location"])
        contact_entry, company_entry = timeline_item(on_contact, made.id), timeline_item(on_company, made.id)
        assert "Презентация в офисе" in contact_entry
        assert "Презентация в офисе" in company_entry
        assert f'href="/crm/company/{romashka}"' in contact_entry
        assert f'href="/crm/contact/{anna}"' in company_entry
        assert "Meeting" in contact_entry
        assert "Ольга Петрова" in contact_entry
        async with db_client.app[keys.DB]() as session:
            bound = set(
                await session.execute(
                    select(ActivityBinding.owner_type, ActivityBinding.owner_id).where(
                        ActivityBinding.activity_id == made.id
                    )
                )
            )
        assert {("contact", anna), ("company", romashka)} == bound
        assert ("meeting", ids["olga"], False) == (made.kind, made.responsible_id, made.completed)

    async def test_the_office_clock_in_utc_out(self, db_client, olga, ids):
        """
        10:00 typed in a Moscow office is stored as 07:00 UTC and shown as 10:00 again.
        """
        await olga.post(
            f"/crm/contact/{ids['anna']}/activities", meeting("Встреча", end_date="", end_time="11:30")
        )
        [made] = await activities(db_client)
        _s, page = await olga.get(f"/crm/contact/{ids['anna']}")

        assert datetime(2026, 3, 2, 7, 0, tzinfo=UTC) == made.start_at
        assert datetime(2026, 3, 2, 8, 30, tzinfo=UTC) == made.end_at
        entry = timeline_item(page, made.id)
        assert "2026-03-02 10:00</time>" in entry
        assert "2026-03-02 11:30" in entry

    async def test_a_bad_date_is_refused_by_name_and_nothing_is_saved(self, db_client, olga, ids):
        """
        30 February: 422, the problem next to "When" and the typed subject kept; no activity.
        """
        response = await olga.post(
            f"/crm/contact/{ids['anna']}/activities", meeting("Созвон", start_date="2026-02-30")
        )
        page = await response.text()

        assert 422 == response.status
        problem = re.search(r'id="activity-start_at-error">([^<]*)<', page)
        assert problem is not None
        assert problem[1].startswith("When: ")
        assert "YYYY-MM-DD" in problem[1]
        assert 'value="Созвон"' in page
        assert [] == await activities(db_client)

    async def test_an_end_before_the_start_and_an_empty_subject_are_refused(self, db_client, olga, ids):
        """
        Each problem is shown next to its own field, in one answer.
        """
        response = await olga.post(
            f"/crm/contact/{ids['anna']}/activities", meeting("", end_date="2026-03-01", end_time="09:00")
        )
        page = await response.text()

        assert 422 == response.status
        assert re.search(r'id="activity-end_at-error">Ends or is due: ', page)
        assert re.search(r'id="activity-subject-error">Subject: ', page)
        assert [] == await activities(db_client)

    async def test_a_call_on_a_deal_shows_on_the_deal_and_its_contact(self, db_client, olga, ids):
        """
        The deal page has the form too: an outgoing call logged there is on the deal and on the
        contact ticked; a call in the past is logged as done (no Done button).
        """
        async with db_client.app[keys.DB]() as session:
            principal = await load_principal(session, ids["olga"])
            deal = await create_deal(
                session,
                principal,
                DealCreate(title="Поставка", company_id=ids["romashka"], contact_ids=[ids["anna"]]),
            )
            await session.commit()
        _s, deal_page = await olga.get(f"/crm/deals/{deal.id}")
        posted = await olga.post(
            f"/crm/deals/{deal.id}/activities",
            [
                ("kind", "call"),
                ("direction", "outbound"),
                ("subject", "Уточнили сроки"),
                ("start_date", "2026-01-15"),
                ("start_time", "15:20"),
                ("bind", f"contact:{ids['anna']}"),
            ],
        )
        [made] = await activities(db_client)
        _s, on_deal = await olga.get(f"/crm/deals/{deal.id}")
        _s, on_contact = await olga.get(f"/crm/contact/{ids['anna']}")

        assert 'class="activity-form' in deal_page
        assert (303, f"/crm/deals/{deal.id}#timeline") == (posted.status, posted.headers["Location"])
        assert ("call", "outbound", True) == (made.kind, made.direction, made.completed)
        assert f'href="/crm/contact/{ids["anna"]}"' in timeline_item(on_deal, made.id)
        assert f'href="/crm/deals/{deal.id}"' in timeline_item(on_contact, made.id)
        assert "/done" not in timeline_item(on_deal, made.id)

    async def test_a_bad_date_on_the_deal_page_is_refused_there(self, db_client, olga, ids):
        """
        The deal page comes back (422) with the problem next to "When"; nothing saved.
        """
        async with db_client.app[keys.DB]() as session:
            principal = await load_principal(session, ids["olga"])
            deal = await create_deal(session, principal, DealCreate(title="Поставка"))
            await session.commit()

        response = await olga.post(f"/crm/deals/{deal.id}/activities", meeting("Встреча", start_time="25:61"))
        page = await response.text()

        assert 422 == response.status
        assert re.search(r'id="activity-start_at-error">When: [^<]*HH:MM', page)
        assert [] == await activities(db_client)


class TestDone:
    async def test_a_tasks_done_button_marks_it_done(self, db_client, olga, ids):
        """
        An open task has a Done button; pressing it completes the task, shown as done, no button.
        """
        anna = ids["anna"]
        await olga.post(f"/crm/contact/{anna}/activities", meeting("Отправить КП", kind="task"))
        [task] = await activities(db_client)
        _s, before = await olga.get(f"/crm/contact/{anna}")
        done = await olga.post(f"/crm/contact/{anna}/activities/{task.id}/done")
        _s, after = await olga.get(f"/crm/contact/{anna}")

        assert f'action="/crm/contact/{anna}/activities/{task.id}/done"' in timeline_item(before, task.id)
        assert (303, f"/crm/contact/{anna}#timeline") == (done.status, done.headers["Location"])
        assert [True] == [a.completed for a in await activities(db_client)]
        assert 'data-state="done"' in timeline_item(after, task.id)
        assert "/done" not in timeline_item(after, task.id)

    async def test_no_done_for_an_activity_the_user_may_not_change(self, db_client, olga, ids):
        """
        The admin's own task on Anna's card: Olga (an agent changes only her own) sees no Done
        button, and posting it anyway is a 403 that leaves the task open.
        """
        anna = ids["anna"]
        async with db_client.app[keys.DB]() as session:
            root = await load_principal(session, ids["root"])
            task = await ActivitiesResource().create(
                session,
                root,
                ActivityCreate(
                    kind="task",
                    subject="Проверить договор",
                    start_at=datetime(2026, 3, 2, 7, tzinfo=UTC),
                    bindings=[Binding(owner_type="contact", owner_id=anna)],
                ),
            )
            await session.commit()

        _s, page = await olga.get(f"/crm/contact/{anna}")
        refused = await olga.post(f"/crm/contact/{anna}/activities/{task.id}/done")

        assert "/done" not in timeline_item(page, task.id)
        assert 'data-state="open"' in timeline_item(page, task.id)
        assert 403 == refused.status
        assert [False] == [a.completed for a in await activities(db_client)]

    async def test_done_only_through_a_card_the_activity_is_on(self, db_client, olga, ids):
        """
        A task on Anna's card cannot be completed through her company's URL: 404, still open.
        """
        await olga.post(f"/crm/contact/{ids['anna']}/activities", meeting("Позвонить", kind="task"))
        [task] = await activities(db_client)

        response = await olga.post(f"/crm/company/{ids['romashka']}/activities/{task.id}/done")

        assert 404 == response.status
        assert [False] == [a.completed for a in await activities(db_client)]


class TestRights:
    async def test_without_the_right_to_add_activities_no_form_and_403(self, db_client, olga, ids):
        """
        Agents lose the activity add right: Olga's card page has no activity form, and a post
        gets 403 with nothing saved.
        """
        async with db_client.app[keys.DB]() as session:
            agent = select(AccessRole.id).where(AccessRole.name == "agent").scalar_subquery()
            await session.execute(
                delete(AccessGrant).where(
                    AccessGrant.role_id == agent,
                    AccessGrant.entity == "activity",
                    AccessGrant.action == "add",
                )
            )
            await session.commit()

        status, page = await olga.get(f"/crm/contact/{ids['anna']}")
        refused = await olga.post(f"/crm/contact/{ids['anna']}/activities", meeting("Встреча"))

        assert 200 == status
        assert "activity-form" not in page
        assert 403 == refused.status
        async with db_client.app[keys.DB]() as session:
            assert 0 == await session.scalar(select(func.count()).select_from(Activity))

    async def test_the_responsible_offered_are_those_the_user_may_assign(self, db_client, olga, ids):
        """
        An agent adds activities for herself only: the select offers her alone, and choosing the
        admin anyway is refused next to the field.
        """
        _s, page = await olga.get(f"/crm/contact/{ids['anna']}")
        response = await olga.post(
            f"/crm/contact/{ids['anna']}/activities", meeting("Встреча", responsible_id=str(ids["root"]))
        )
        refused = await response.text()

        select_html = re.search(r'<select name="responsible_id".*?</select>', page, re.S)[0]
        assert [str(ids["olga"])] == re.findall(r'<option value="(\d+)"', select_html)
        assert 422 == response.status
        assert re.search(r'id="activity-responsible_id-error">Responsible: ', refused)
        assert [] == await activities(db_client)
