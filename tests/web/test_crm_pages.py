"""The CRM card pages through the real app and a real (seeded SQLite) database: lists with search,
filters and paging; the card with its timeline, click-to-call links and add-note form; the edit
forms with their validation messages; delete; lead conversion; duplicates and merge.

Seed (tests/web/conftest.py): petrov owns the company Romashka LLC and its contact Anna Smirnova
(8 (916) 123-45-67); ivanov and petrov are agents in no department, so each sees only their own
cards; ``root`` (added here) is an admin.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import pytest
from sqlalchemy import func, select

from crm_core import audit
from crm_core.access import load_principal
from crm_core.cards import CompaniesResource, ContactsResource, LeadsResource
from crm_core.cards.schemas import CompanyCreate, ContactCreate, ContactUpdate, LeadCreate, PhoneIn
from crm_core.models import Activity, CallActivity, Company, Contact, Lead, Phone, Recording, User
from web import keys
from web.auth import CSRF_FIELD, SESSION_COOKIE

from .conftest import KNOWN_CALLER
from .test_dialplan import add_admin
from .test_i18n import _JS_CALL, WEB, untranslated_text

STARTED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Page:
    """One user's requests, as their browser sends them (session cookie, CSRF field on forms)."""

    def __init__(self, client, user_id: int) -> None:
        self.client = client
        cookie, data = client.app[keys.SESSIONS].issue(user_id, hours=1)
        self.headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        self.csrf = client.app[keys.SESSIONS].csrf_token(data)

    async def get(self, path: str) -> tuple[int, str]:
        response = await self.client.get(path, headers=self.headers, allow_redirects=False)
        return response.status, await response.text()

    async def post(self, path: str, data: Any = (), *, csrf: bool = True):
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            fields.append((CSRF_FIELD, self.csrf))
        return await self.client.post(path, data=fields, headers=self.headers, allow_redirects=False)


@pytest.fixture(name="users")
async def _users(client, template) -> dict[str, int]:
    return {**template.users, "root": await add_admin(client.app)}


@pytest.fixture(name="petrov")
def _petrov(client, users) -> Page:
    return Page(client, users["petrov"])


@pytest.fixture(name="ivanov")
def _ivanov(client, users) -> Page:
    return Page(client, users["ivanov"])


@pytest.fixture(name="admin")
def _admin(client, users) -> Page:
    return Page(client, users["root"])


async def principal_of(app, user_id: int):
    async with app[keys.DB]() as session:
        return await load_principal(session, user_id)


async def add_leads(app, user_id: int, titles: list[str], **fields: Any) -> list[int]:
    """Leads owned by *user_id*, created through the service."""
    async with app[keys.DB]() as session:
        principal = await load_principal(session, user_id)
        ids = [
            (await LeadsResource().create(session, principal, LeadCreate(title=title, **fields))).id
            for title in titles
        ]
        await session.commit()
    return ids


async def add_contact(app, user_id: int, name: str, phones: list[str] = ()) -> int:
    async with app[keys.DB]() as session:
        principal = await load_principal(session, user_id)
        data = ContactCreate(name=name, phones=[PhoneIn(value=p) for p in phones])
        contact = await ContactsResource().create(session, principal, data)
        await session.commit()
    return contact.id


async def add_company(app, user_id: int, title: str) -> int:
    async with app[keys.DB]() as session:
        principal = await load_principal(session, user_id)
        company = await CompaniesResource().create(session, principal, CompanyCreate(title=title))
        await session.commit()
    return company.id


async def company_id_of(app, title: str) -> int:
    async with app[keys.DB]() as session:
        return await session.scalar(select(Company.id).where(Company.title == title))


async def link(app, user_id: int, contact_id: int, company_ids: list[int]) -> None:
    """Make *company_ids* the contact's companies (the first the main one), as *user_id*."""
    async with app[keys.DB]() as session:
        principal = await load_principal(session, user_id)
        await ContactsResource().update(
            session, principal, contact_id, ContactUpdate(company_ids=company_ids)
        )
        await session.commit()


async def contact_of(app, user_id: int, contact_id: int):
    async with app[keys.DB]() as session:
        return await ContactsResource().get(session, await load_principal(session, user_id), contact_id)


def ids_listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


class TestLists:
    async def test_search_by_name_phone_and_email(self, petrov, template):
        """
        The one search box finds by name, by a number in any spelling, and nothing for a stranger.
        """
        by_name = await petrov.get("/crm/contacts?q=smirn")
        by_phone = await petrov.get("/crm/contacts?q=8+(916)+123-45-67")
        nobody = await petrov.get("/crm/contacts?q=Nobody")

        assert (200, [template.contact_id]) == (by_name[0], ids_listed(by_name[1]))
        assert [template.contact_id] == ids_listed(by_phone[1])
        assert [] == ids_listed(nobody[1])
        assert "0 cards found" in nobody[1]

    async def test_the_list_shows_only_what_the_user_may_read(self, ivanov, petrov):
        """
        Ivanov (an agent outside Petrov's department) sees none of Petrov's companies.
        """
        _status, theirs = await petrov.get("/crm/companies")
        _status, mine = await ivanov.get("/crm/companies")

        assert 1 == len(ids_listed(theirs))
        assert [] == ids_listed(mine)

    async def test_lead_filters_and_paging_keep_the_other_parameters(self, client, petrov, users):
        """
        30 matching leads: page 2 holds the last 5; the pager's links keep the search and filter.
        """
        await add_leads(client.app, users["petrov"], [f"Order {n:02d}" for n in range(30)], source="WEB")
        await add_leads(client.app, users["petrov"], ["Order by phone"], source="CALL")

        _status, first = await petrov.get("/crm/leads?q=Order&source=WEB&sort=title")
        _status, second = await petrov.get("/crm/leads?q=Order&source=WEB&sort=title&page=2")

        assert 25 == len(ids_listed(first))
        assert "30 cards found" in first
        assert 'href="/crm/leads?q=Order&amp;source=WEB&amp;sort=title&amp;page=2"' in first
        assert 5 == len(ids_listed(second))
        assert ["Order 25", "Order 26", "Order 27", "Order 28", "Order 29"] == re.findall(
            r'<a href="/crm/lead/\d+">([^<]+)</a>', second
        )

    async def test_an_unreadable_number_in_the_search_names_the_problem(self, petrov):
        """
        A search that looks like a number but is not one shows the service's reason, not a crash.
        """
        status, html = await petrov.get("/crm/contacts?q=%2B0000000")

        assert 200 == status
        assert "is not a phone number" in html

    async def test_phones_are_click_to_call_links(self, petrov):
        """
        Each number is a link carrying its E.164 form for the script (tel: without it).
        """
        _status, html = await petrov.get("/crm/contacts")

        assert f'<a class="dial" href="tel:{KNOWN_CALLER}" data-number="{KNOWN_CALLER}"' in html

    async def test_login_required(self, client):
        """
        Without a session the list redirects to the login page.
        """
        response = await client.get("/crm/leads", allow_redirects=False)

        assert 302 == response.status
        assert response.headers["Location"].startswith("/login")


async def add_call(app, *, contact_id: int, responsible_id: int, number: str = KNOWN_CALLER) -> int:
    async with app[keys.DB]() as session:
        call = CallActivity(
            pbx_id="main",
            call_id=f"c-{contact_id}-{responsible_id}",
            direction="inbound",
            external_number=number,
            disposition="answered",
            talk_seconds=42,
            answered_by="102",
            started_at=STARTED,
            contact_id=contact_id,
            responsible_id=responsible_id,
        )
        session.add(call)
        await session.commit()
        return call.id


class TestCard:
    async def test_card_shows_fields_links_and_timeline(self, client, petrov, template, users):
        """
        Anna's card: her name, her company linked, her number to call, her call on the timeline.
        """
        await add_call(client.app, contact_id=template.contact_id, responsible_id=users["petrov"])

        status, html = await petrov.get(f"/crm/contact/{template.contact_id}")

        assert 200 == status
        assert "Anna Smirnova" in html
        assert re.search(r'<a href="/crm/company/\d+">Romashka LLC</a>', html)
        assert f'data-number="{KNOWN_CALLER}"' in html
        assert re.search(r'data-source="call"[^>]*>.*?Incoming call.*?42 s.*?answered by 102', html, re.S)

    async def test_a_colleagues_call_stays_off_the_shared_card(self, client, petrov, template, users):
        """
        Ivanov's call with Anna is his (calls are private to the agent): Petrov's view of her card omits it.
        """
        await add_call(client.app, contact_id=template.contact_id, responsible_id=users["ivanov"])

        _status, html = await petrov.get(f"/crm/contact/{template.contact_id}")

        assert 'data-source="call"' not in html

    async def test_a_recording_gets_a_player_and_a_waveform(self, client, petrov, template, users):
        """
        A call's recording is an <audio> on /recordings/{id} with a canvas fed by its peaks.
        """
        call_pk = await add_call(client.app, contact_id=template.contact_id, responsible_id=users["petrov"])
        async with client.app[keys.DB]() as session:
            recording = Recording(
                call_pk=call_pk, pbx_id="main", call_id="x", path="/x.wav", status="converted"
            )
            session.add(recording)
            await session.commit()

        _status, html = await petrov.get(f"/crm/contact/{template.contact_id}")

        assert f'<audio controls preload="none" src="/recordings/{recording.id}"></audio>' in html
        assert f'data-peaks="/recordings/{recording.id}/peaks"' in html

    async def test_another_agents_card_is_403_and_a_missing_one_404(self, ivanov, template):
        """
        Rights are the service's: Ivanov may not read Petrov's contact; an unknown id is 404.
        """
        forbidden, text = await ivanov.get(f"/crm/contact/{template.contact_id}")
        missing, _text = await ivanov.get("/crm/contact/999999")

        assert (403, "You may not read this contact") == (forbidden, text)
        assert 404 == missing

    async def test_add_note_puts_it_on_the_timeline(self, client, petrov, template):
        """
        A note posts back to the card (303) and shows on its timeline, bound to the card.
        """
        response = await petrov.post(
            f"/crm/contact/{template.contact_id}/notes", {"text": "Wants a quote\nfor 20 licences"}
        )
        _status, html = await petrov.get(response.headers["Location"])

        assert 303 == response.status
        assert "The note is on the timeline." in html
        assert re.search(r'data-kind="note".*?Wants a quote.*?for 20 licences', html, re.S)
        async with client.app[keys.DB]() as session:
            note = await session.scalar(select(Activity).where(Activity.kind == "note"))
        assert ("Wants a quote", "Wants a quote\nfor 20 licences") == (note.subject, note.description)

    async def test_an_empty_note_is_refused_with_a_message(self, petrov, template):
        """
        An empty note is 422 with the reason on the card page; nothing is saved.
        """
        response = await petrov.post(f"/crm/contact/{template.contact_id}/notes", {"text": "   "})

        assert 422 == response.status
        assert "Write the note first: it is empty" in await response.text()

    async def test_a_note_without_the_csrf_token_is_refused(self, petrov, template):
        """
        The CSRF middleware guards the note form like every unsafe request.
        """
        response = await petrov.post(f"/crm/contact/{template.contact_id}/notes", {"text": "x"}, csrf=False)

        assert 403 == response.status


class TestForms:
    async def test_create_a_contact(self, client, petrov, users):
        """
        The form creates the contact with its typed numbers normalised, and shows the new card.
        """
        response = await petrov.post(
            "/crm/contact/new",
            [
                ("name", "Oleg Kuznetsov"),
                ("phone_value", "8 903 111-22-33"),
                ("phone_kind", "mobile"),
                ("phone_value", ""),
                ("phone_kind", "work"),
                ("email_value", "oleg@example.ru"),
                ("email_kind", "work"),
                ("responsible_id", str(users["petrov"])),
                ("comments", "From the exhibition"),
            ],
        )

        assert 303 == response.status
        contact_id = int(re.match(r"/crm/contact/(\d+)\?saved=created", response.headers["Location"])[1])
        async with client.app[keys.DB]() as session:
            phones = list(
                await session.execute(
                    select(Phone.e164, Phone.kind).where(
                        Phone.owner_type == "contact", Phone.owner_id == contact_id
                    )
                )
            )
        assert [("+79031112233", "mobile")] == [tuple(p) for p in phones]

    async def test_validation_messages_name_each_field(self, petrov):
        """
        An empty name and a number that is not one: 422, the form again with each problem and the input kept.
        """
        response = await petrov.post(
            "/crm/contact/new", [("name", ""), ("phone_value", "12ab"), ("phone_kind", "work")]
        )
        html = await response.text()

        assert 422 == response.status
        assert "The card is not saved. Please correct the fields marked below." in html
        assert re.search(r'name="name" value=""[^>]*aria-invalid="true"', html)
        assert '<span class="field-error" id="name-error">Fill this in</span>' in html
        assert 'value="12ab"' in html

    async def test_the_services_own_checks_reach_the_field(self, petrov):
        """
        A number the schema accepts but the service cannot read is shown under the phones.
        """
        response = await petrov.post(
            "/crm/contact/new", [("name", "Oleg"), ("phone_value", "12ab"), ("phone_kind", "work")]
        )
        html = await response.text()

        assert 422 == response.status
        assert re.search(r'<span class="field-error" id="phones-error">phones\[0\]: [^<]+</span>', html)

    async def test_a_lead_amount_and_currency_are_checked(self, petrov):
        """
        A lead with an amount that is not one and a bad currency: two clear messages.
        """
        response = await petrov.post(
            "/crm/lead/new",
            {"title": "Website order", "status": "NEW", "source": "WEB", "amount": "lots", "currency": "RU"},
        )
        html = await response.text()

        assert 422 == response.status
        assert "Write an amount of 0 or more, e.g. 1500.50" in html
        assert "Three capital letters, e.g. RUB" in html

    async def test_create_a_lead_with_a_russian_amount(self, client, petrov):
        """
        ``1 500,50`` (as typed in Moscow) is read as 1500.50; the currency is upper-cased.
        """
        response = await petrov.post(
            "/crm/lead/new",
            {
                "title": "Website order",
                "status": "NEW",
                "source": "WEB",
                "amount": "1 500,50",
                "currency": "rub",
            },
        )

        assert 303 == response.status
        async with client.app[keys.DB]() as session:
            lead = await session.scalar(select(Lead).where(Lead.title == "Website order"))
        assert (Decimal("1500.50"), "RUB", "WEB") == (lead.amount, lead.currency, lead.source)

    async def test_edit_keeps_the_numbers_kinds(self, client, petrov, template, users):
        """
        The edit form shows the card's fields; saving a new name keeps the phone and its kind.
        """
        status, form = await petrov.get(f"/crm/contact/{template.contact_id}/edit")
        assert 200 == status
        assert 'value="Anna Smirnova"' in form

        response = await petrov.post(
            f"/crm/contact/{template.contact_id}/edit",
            [
                ("name", "Anna Smirnova-Orlova"),
                ("phone_value", "8 (916) 123-45-67"),
                ("phone_kind", "mobile"),
                ("responsible_id", str(users["petrov"])),
            ],
        )

        assert 303 == response.status
        async with client.app[keys.DB]() as session:
            principal = await load_principal(session, users["petrov"])
            card = await ContactsResource().get(session, principal, template.contact_id)
        assert "Anna Smirnova-Orlova" == card.name
        assert [(KNOWN_CALLER, "mobile")] == [(p.e164, p.kind) for p in card.phones]

    async def test_edit_keeps_the_main_company_first(self, client, petrov, template, users):
        """
        The contact's main company is listed first, so saving the form (which posts in list order)
        keeps it the main one even when another company sorts before it.
        """
        alpha = await add_company(client.app, users["petrov"], "Alpha Trading")
        romashka = await company_id_of(client.app, "Romashka LLC")
        await link(client.app, users["petrov"], template.contact_id, [romashka, alpha])

        _status, form = await petrov.get(f"/crm/contact/{template.contact_id}/edit")
        select_ = re.search(r'<select name="company_ids".*?</select>', form, re.S)[0]
        options = [int(i) for i in re.findall(r'<option value="(\d+)" selected>', select_)]
        response = await petrov.post(
            f"/crm/contact/{template.contact_id}/edit",
            [("name", "Anna Smirnova"), ("companies_shown", "1"), ("responsible_id", str(users["petrov"]))]
            + [("company_ids", str(i)) for i in options],
        )

        assert [romashka, alpha] == options
        assert 303 == response.status
        assert [romashka, alpha] == (
            await contact_of(client.app, users["petrov"], template.contact_id)
        ).company_ids

    async def test_edit_never_unlinks_a_company_the_editor_cannot_see(
        self, client, admin, petrov, template, users
    ):
        """
        Anna also works for Ivanov's client, which Petrov may not see: his edit leaves both links.
        """
        hidden = await add_company(client.app, users["ivanov"], "Ivanov's client")
        romashka = await company_id_of(client.app, "Romashka LLC")
        await link(client.app, users["root"], template.contact_id, [romashka, hidden])

        _status, form = await petrov.get(f"/crm/contact/{template.contact_id}/edit")
        response = await petrov.post(
            f"/crm/contact/{template.contact_id}/edit",
            [("name", "Anna S."), ("company_ids", str(romashka)), ("responsible_id", str(users["petrov"]))],
        )

        assert 'name="companies_shown"' not in form
        assert 303 == response.status
        card = await contact_of(client.app, users["root"], template.contact_id)
        assert ("Anna S.", [romashka, hidden]) == (card.name, card.company_ids)

    async def test_an_agent_may_not_edit_a_colleagues_card(self, ivanov, template):
        """
        The edit form itself is refused (403) to whoever may not update the card.
        """
        status, _html = await ivanov.get(f"/crm/contact/{template.contact_id}/edit")

        assert 403 == status

    async def test_delete_with_the_right(self, client, admin, template):
        """
        An admin deletes a company from its card: back to the list with a notice; the card is gone.
        """
        async with client.app[keys.DB]() as session:
            company_id = await session.scalar(select(Company.id).where(Company.title == "Romashka LLC"))

        response = await admin.post(f"/crm/company/{company_id}/delete")
        _status, html = await admin.get(response.headers["Location"])

        assert (303, "/crm/companies?deleted=1") == (response.status, response.headers["Location"])
        assert "The card is deleted." in html
        assert [] == ids_listed(html)

    async def test_an_agent_may_not_delete(self, petrov, template):
        """
        Agents never delete (their role's grants): 403, and the card page offers no delete button.
        """
        response = await petrov.post(f"/crm/contact/{template.contact_id}/delete")
        _status, html = await petrov.get(f"/crm/contact/{template.contact_id}")

        assert 403 == response.status
        assert "delete-card" not in html


class TestConversion:
    async def test_the_offer_lists_look_alike_contacts(self, client, petrov, template, users):
        """
        A lead calling from Anna's number: the conversion page offers Anna's contact to link.
        """
        [lead_id] = await add_leads(
            client.app,
            users["petrov"],
            ["Call from Anna"],
            name="Anna Smirnova",
            phones=[PhoneIn(value=KNOWN_CALLER)],
        )

        status, html = await petrov.get(f"/crm/lead/{lead_id}/convert")

        assert 200 == status
        assert re.search(
            rf'name="contact" value="{template.contact_id}".*?Anna Smirnova</a>'
            r".*?same phone, same person's name",
            html,
            re.S,
        )

    async def test_creating_a_twin_needs_create_anyway(self, client, petrov, users):
        """
        Asking for a new contact while a look-alike exists is refused (409) with what to do; nothing changes.
        """
        [lead_id] = await add_leads(
            client.app, users["petrov"], ["Call from Anna"], phones=[PhoneIn(value=KNOWN_CALLER)]
        )

        response = await petrov.post(f"/crm/lead/{lead_id}/convert", {"contact": "create"})

        assert 409 == response.status
        assert "Look-alike cards exist: link one of them" in await response.text()
        async with client.app[keys.DB]() as session:
            assert 1 == await session.scalar(select(func.count()).select_from(Contact))

    async def test_converting_into_nothing_says_what_to_choose(self, client, petrov, users):
        """
        A form with no contact, no company and no deal is 422 with the reason; the lead stays open.
        """
        [lead_id] = await add_leads(client.app, users["petrov"], ["Undecided"])

        response = await petrov.post(f"/crm/lead/{lead_id}/convert", {"contact": "", "company": ""})

        assert 422 == response.status
        assert "Choose what the lead becomes" in await response.text()
        async with client.app[keys.DB]() as session:
            assert (await session.get(Lead, lead_id)).converted_at is None

    async def test_link_the_existing_contact(self, client, petrov, template, users):
        """
        Linking Anna converts the lead onto her card, which now shows the lead's note.
        """
        [lead_id] = await add_leads(
            client.app, users["petrov"], ["Call from Anna"], phones=[PhoneIn(value=KNOWN_CALLER)]
        )
        await petrov.post(f"/crm/lead/{lead_id}/notes", {"text": "Asked for a callback"})

        response = await petrov.post(f"/crm/lead/{lead_id}/convert", {"contact": str(template.contact_id)})
        _status, card = await petrov.get(response.headers["Location"])

        assert (303, f"/crm/contact/{template.contact_id}?saved=converted") == (
            response.status,
            response.headers["Location"],
        )
        assert "The lead is converted." in card
        assert "Asked for a callback" in card
        async with client.app[keys.DB]() as session:
            lead = await session.get(Lead, lead_id)
        assert ("CONVERTED", template.contact_id) == (lead.status, lead.contact_id)

    async def test_a_converted_lead_has_no_convert_button(self, client, petrov, users):
        """
        After conversion the lead's page offers no second conversion, and its page redirects to the card.
        """
        [lead_id] = await add_leads(client.app, users["petrov"], ["Fresh lead"], name="Pavel Sokolov")
        await petrov.post(f"/crm/lead/{lead_id}/convert", {"contact": "create"})

        _status, html = await petrov.get(f"/crm/lead/{lead_id}")
        again = await petrov.client.get(
            f"/crm/lead/{lead_id}/convert", headers=petrov.headers, allow_redirects=False
        )

        assert f'href="/crm/lead/{lead_id}/convert"' not in html
        assert 303 == again.status


class TestDuplicatesAndMerge:
    async def test_groups_and_merge(self, client, admin, template, users):
        """
        Two more contacts share Anna's number: one group of three; merging keeps Anna with their calls.
        """
        twin = await add_contact(client.app, users["root"], "Anna S.", ["+7 916 123-45-67"])
        other = await add_contact(client.app, users["root"], "A. Smirnova", ["89161234567"])
        await add_call(client.app, contact_id=twin, responsible_id=users["root"])

        _status, page = await admin.get("/crm/contacts/duplicates?axis=phone")
        response = await admin.post(
            "/crm/contacts/merge",
            [("keep", str(template.contact_id)), ("merge", str(twin)), ("merge", str(other))],
        )
        _status, card = await admin.get(response.headers["Location"])

        assert [template.contact_id, twin, other] == ids_listed(page)
        assert 303 == response.status
        assert "2 cards merged into this one." in card
        assert 'data-source="call"' in card
        async with client.app[keys.DB]() as session:
            assert [template.contact_id] == list(await session.scalars(select(Contact.id)))
            [entry] = await audit.entries(session, action_prefix="contact.merge")
        assert {twin, other} == {m["id"] for m in entry.details["merged"]}

    async def test_an_agent_cannot_merge_away_cards(self, client, petrov, template, users):
        """
        Merging deletes cards, which agents may not: 403 and both cards stay.
        """
        twin = await add_contact(client.app, users["petrov"], "Anna S.", [KNOWN_CALLER])

        response = await petrov.post(
            "/crm/contacts/merge", [("keep", str(template.contact_id)), ("merge", str(twin))]
        )

        assert 403 == response.status
        async with client.app[keys.DB]() as session:
            assert 2 == await session.scalar(select(func.count()).select_from(Contact))

    async def test_merge_without_a_choice_says_what_is_missing(self, admin):
        """
        A merge form with nothing ticked is 422 with the reason.
        """
        response = await admin.post("/crm/contacts/merge", [("keep", "1")])

        assert (422, "Choose the card to keep and at least one other to merge") == (
            response.status,
            await response.text(),
        )


class TestRussian:
    async def test_the_pages_speak_russian(self, client, petrov, template, users):
        """
        A Russian-speaking user gets the list, the card and the form's messages in Russian.
        """
        async with client.app[keys.DB]() as session:
            (await session.get(User, users["petrov"])).locale = "ru"
            await session.commit()

        _status, listing = await petrov.get("/crm/contacts")
        _status, card = await petrov.get(f"/crm/contact/{template.contact_id}")
        response = await petrov.post("/crm/company/new", {"title": ""})
        form = await response.text()

        assert "Контакты" in listing
        assert "Найдена 1 карточка" in listing
        assert "Добавить заметку" in card
        assert "Заполните это поле" in form


CRM_TEMPLATES = sorted((WEB / "templates" / "crm").glob("*.html"))
CRM_FILES = [
    *CRM_TEMPLATES,
    WEB / "static" / "crm_cards.js",
    *(
        WEB / "views" / f"{name}.py"
        for name in (
            "crm_cards",
            "crm_lists",
            "crm_card",
            "crm_forms",
            "crm_merge",
            "crm_activity_form",
            "crm_activities",
        )
    ),
]


def messages_of(path: Path) -> set[str]:
    """The messages one file of the CRM pages gives to _()/ngettext/t()/gettext/N_."""
    if path.suffix == ".html":
        env = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
        found = set()
        for _line, _function, message in env.extract_translations(path.read_text(encoding="utf-8")):
            found.add(message if isinstance(message, str) else message[0])
        return found
    if path.suffix == ".js":
        return {json.loads(f'"{m[1]}"') for m in _JS_CALL.findall(path.read_text(encoding="utf-8"))}
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("gettext", "N_", "ngettext")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


class TestCatalogue:
    def test_every_message_of_the_crm_pages_is_in_ru_crm(self):
        """
        Each message of the CRM card pages' templates, script and views has its Russian entry in
        locales/ru.crm.json (three forms for a plural), and that file holds nothing else.
        """
        catalogue = json.loads((WEB / "locales" / "ru.crm.json").read_text(encoding="utf-8"))
        used = set().union(*(messages_of(path) for path in CRM_FILES))

        assert {"Find duplicates", "%(num)s card found", "Fill this in"} <= used  # the extraction works
        assert [] == sorted(m for m in used if not catalogue.get(m))
        assert [] == sorted(set(catalogue) - used)
        assert all(len(v) == 3 for m, v in catalogue.items() if isinstance(v, list))

    @pytest.mark.parametrize("path", CRM_TEMPLATES, ids=lambda p: p.name)
    def test_no_text_outside_gettext(self, path):
        """
        Every word the CRM templates show goes through _() (the shared checker of test_i18n).
        """
        assert [] == untranslated_text(path.read_text(encoding="utf-8"))


class TestEveryPageRenders:
    @pytest.mark.parametrize(
        "path",
        [
            "/crm/leads?q=x&status=NEW&source=CALL&mine=1&sort=-amount",
            "/crm/companies?sort=title",
            "/crm/lead/new",
            "/crm/contact/new",
            "/crm/company/new",
            "/crm/company/{company}",
            "/crm/company/{company}/edit",
            "/crm/lead/{lead}",
            "/crm/lead/{lead}/edit",
            "/crm/lead/{lead}/convert",
            "/crm/leads/duplicates?axis=company",
            "/crm/companies/duplicates?axis=company",
            "/crm/contacts/duplicates?axis=name",
        ],
    )
    async def test_page_renders_for_an_admin(self, client, admin, users, path):
        """
        Each page of each kind renders (200) with real data, in English and in Russian.
        """
        [lead] = await add_leads(
            client.app, users["root"], ["Website order"], company_name="Romashka LLC", amount=Decimal("10")
        )
        page = path.format(company=await company_id_of(client.app, "Romashka LLC"), lead=lead)

        english = await admin.get(page)
        russian = await client.get(page, headers={**admin.headers, "Accept-Language": "ru"})

        assert 200 == english[0]
        assert 200 == russian.status
