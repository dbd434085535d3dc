"""The cards' actions through the API, on SQLite and PostgreSQL: timeline, duplicates, merge,
conversion, exclusions, and the Cyrillic-aware ``contains`` filter.

Sales: ivan (ext 101) and olga (ext 102), agents; boss heads it. Support: petr (ext 103), agent.
root is the admin. Calls are written by the real call log, as the PBX would have them logged.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from crm_core.calllog import record_call
from crm_core.models import AuditEntry, CallActivity, Contact, Recording, User
from tests.crm_core.factories import make_call
from web import keys

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

EXTENSIONS = {"ivan": "101", "olga": "102", "petr": "103"}


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    api = await build_api(aiohttp_client, settings, sessionmaker)
    async with sessionmaker() as session:
        for login, extension in EXTENSIONS.items():
            await session.execute(update(User).where(User.id == api.ids[login]).values(extension=extension))
        await session.commit()
    return api


async def _create(api, path: str, login: str, **fields: Any) -> dict[str, Any]:
    status, body = await api.call("POST", f"/api/v1/{path}", login, json=fields)
    assert 201 == status, body
    return body


async def _log_call(api, call_id: str, number: str, by: str, recordings: int = 1) -> None:
    """A finished inbound call from *number* answered by *by*'s extension, with its recordings."""
    call = make_call(
        call_id,
        external=number,
        answered_by=EXTENSIONS[by],
        extensions=(EXTENSIONS[by],),
        recordings=tuple(f"/spool/{call_id}-{n}.wav" for n in range(recordings)),
    )
    async with api.sessionmaker() as session:
        await record_call(session, call, pbx_id="main", settings=api.app[keys.SETTINGS].crm)
        await session.commit()


async def _count(api, query) -> int:
    async with api.sessionmaker() as session:
        return await session.scalar(query)


def _calls(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in timeline["items"] if "call" == item["source"]]


class TestTimeline:
    async def test_shows_activities_and_the_callers_calls_newest_first(self, api):
        """
        ivan's contact shows his note and his call with its recording; the page says its bounds.
        """
        contact = await _create(
            api, "contacts", "ivan", name="Anna Smirnova", phones=[{"value": "+79991112233"}]
        )
        await _log_call(api, "c1", "+79991112233", "ivan", recordings=2)
        await _create(
            api,
            "activities",
            "ivan",
            kind="note",
            subject="Wants a quote",
            start_at="2026-11-28T10:00:00Z",
            bindings=[{"owner_type": "contact", "owner_id": contact["id"]}],
        )

        status, page = await api.call("GET", f"/api/v1/contacts/{contact['id']}/timeline", "ivan")

        assert 200 == status, page
        assert ["Wants a quote", "call"] == [
            item["subject"] if item["source"] == "activity" else item["source"] for item in page["items"]
        ]
        assert 2 == len(_calls(page)[0]["details"]["recording_ids"])
        assert (0, 50) == (page["offset"], page["limit"])

    async def test_another_departments_calls_stay_hidden(self, api):
        """
        On ivan's card, boss (Sales head) sees the Sales call but not petr's (Support); olga, an
        agent, sees no colleague's call; petr cannot read the card at all.
        """
        contact = await _create(api, "contacts", "ivan", name="Client", phones=[{"value": "+79991112233"}])
        await _log_call(api, "sales-call", "+79991112233", "ivan")
        await _log_call(api, "support-call", "+79991112233", "petr")
        path = f"/api/v1/contacts/{contact['id']}/timeline"

        boss = await api.call("GET", path, "boss")
        olga = await api.call("GET", path, "olga")
        petr = await api.call("GET", path, "petr")

        assert [api.ids["ivan"]] == [item["responsible_id"] for item in _calls(boss[1])]
        assert (200, []) == (olga[0], _calls(olga[1]))
        assert (403, "forbidden") == (petr[0], petr[1]["error_id"])
        assert 2 == len(_calls((await api.call("GET", path, "root"))[1]))

    async def test_paging_and_a_bad_limit(self, api):
        """
        offset/limit page through the history; a limit out of range is a 422 naming ``limit``.
        """
        contact = await _create(api, "contacts", "ivan", name="Client", phones=[{"value": "+79991112233"}])
        for n in range(3):
            await _log_call(api, f"c{n}", "+79991112233", "ivan")
        path = f"/api/v1/contacts/{contact['id']}/timeline"

        _, second = await api.call("GET", path, "ivan", params={"offset": "1", "limit": "1"})
        status, error = await api.call("GET", path, "ivan", params={"limit": "0"})

        assert 1 == len(second["items"])
        assert (422, "validation-failed") == (status, error["error_id"])
        assert ["limit"] == error["details"]["errors"][0]["loc"]

    async def test_unknown_card_and_deal_timeline(self, api):
        """
        A missing lead is a 404; a deal has a timeline too.
        """
        deal = await _create(api, "deals", "ivan", title="Big order")

        missing = await api.call("GET", "/api/v1/leads/999999/timeline", "ivan")
        found = await api.call("GET", f"/api/v1/deals/{deal['id']}/timeline", "ivan")

        assert (404, "not-found") == (missing[0], missing[1]["error_id"])
        assert (200, []) == (found[0], found[1]["items"])


class TestDuplicates:
    async def test_cards_sharing_a_phone_or_name(self, api):
        """
        A contact's duplicates: the lead with its phone and the contact with its name, never itself.
        """
        anna = await _create(
            api, "contacts", "ivan", name="Anna Smirnova", phones=[{"value": "+79991112233"}]
        )
        lead = await _create(api, "leads", "ivan", title="Call back", phones=[{"value": "8 999 111-22-33"}])
        namesake = await _create(api, "contacts", "olga", name="Smirnova Anna")

        status, body = await api.call("GET", f"/api/v1/contacts/{anna['id']}/duplicates", "ivan")

        assert 200 == status, body
        assert {("contact", namesake["id"], ("name",)), ("lead", lead["id"], ("phone",))} == {
            (d["entity"], d["id"], tuple(d["matched_on"])) for d in body["items"]
        }

    async def test_groups_on_one_axis(self, api):
        """
        /duplicates/leads?axis=phone groups the leads sharing a number; a missing axis is a 422
        naming ``axis``; an unknown kind of card is a 404.
        """
        first = await _create(api, "leads", "ivan", title="One", phones=[{"value": "+79991112233"}])
        second = await _create(api, "leads", "olga", title="Two", phones=[{"value": "+7 999 111 22 33"}])
        await _create(api, "leads", "ivan", title="Three", phones=[{"value": "+79990000000"}])

        status, body = await api.call("GET", "/api/v1/duplicates/leads", "ivan", params={"axis": "phone"})
        missing = await api.call("GET", "/api/v1/duplicates/leads", "ivan")
        unknown = await api.call("GET", "/api/v1/duplicates/deals", "ivan", params={"axis": "phone"})

        assert (200, [{"axis": "phone", "key": "+79991112233", "ids": [first["id"], second["id"]]}]) == (
            status,
            body["items"],
        )
        assert (422, ["axis"]) == (missing[0], missing[1]["details"]["errors"][0]["loc"])
        assert 404 == unknown[0]


@pytest.fixture(name="twins")
async def _twins(api):
    """Two contacts of one person, both boss's reports' business: calls and recordings on each."""
    keep = await _create(api, "contacts", "ivan", name="Anna Smirnova", phones=[{"value": "+79991112233"}])
    twin = await _create(api, "contacts", "olga", name="Smirnova Anna", phones=[{"value": "+79991112244"}])
    await _log_call(api, "k1", "+79991112233", "ivan", recordings=2)
    await _log_call(api, "t1", "+79991112244", "olga", recordings=1)
    await _log_call(api, "t2", "+79991112244", "ivan", recordings=2)
    return keep, twin


class TestMerge:
    async def test_merge_keeps_every_call_and_recording(self, api, twins):
        """
        boss merges olga's contact into ivan's: the three calls and five recordings are on the kept
        card, the twin is gone, the audit has the merge.
        """
        keep, twin = twins

        status, body = await api.call(
            "POST", "/api/v1/contacts/merge", "boss", json={"keep_id": keep["id"], "merge_ids": [twin["id"]]}
        )

        assert 200 == status, body
        assert (keep["id"], [twin["id"]]) == (body["kept_id"], body["merged_ids"])
        assert 3 == await _count(api, select(func.count()).where(CallActivity.contact_id == keep["id"]))
        assert 5 == await _count(api, select(func.count()).select_from(Recording))
        assert 0 == await _count(api, select(func.count()).where(Contact.id == twin["id"]))
        assert 1 == await _count(
            api,
            select(func.count()).where(
                AuditEntry.id == body["audit_id"], AuditEntry.action == "contact.merge"
            ),
        )
        _, timeline = await api.call("GET", f"/api/v1/contacts/{keep['id']}/timeline", "root")
        assert 5 == sum(len(item["details"]["recording_ids"]) for item in _calls(timeline))
        _, card = await api.call("GET", f"/api/v1/contacts/{keep['id']}", "root")
        assert {"+79991112233", "+79991112244"} == {phone["e164"] for phone in card["phones"]}

    async def test_agent_cannot_merge_a_colleagues_card(self, api, twins):
        """
        ivan may not delete olga's contact, so merging it into his is a 403 and changes nothing.
        """
        keep, twin = twins

        status, body = await api.call(
            "POST", "/api/v1/contacts/merge", "ivan", json={"keep_id": keep["id"], "merge_ids": [twin["id"]]}
        )

        assert (403, "forbidden") == (status, body["error_id"])
        assert {"entity": "contact", "action": "delete"} == body["details"]
        assert 1 == await _count(api, select(func.count()).where(Contact.id == twin["id"]))
        assert 2 == await _count(api, select(func.count()).where(CallActivity.contact_id == twin["id"]))

    async def test_bad_bodies_name_the_field(self, api, twins):
        """
        An empty merge_ids and a missing keep_id are 422s naming the field; keeping a merged card is
        refused by the service, naming merge_ids too.
        """
        keep, _ = twins

        empty = await api.call("POST", "/api/v1/leads/merge", "root", json={"keep_id": 1, "merge_ids": []})
        missing = await api.call("POST", "/api/v1/companies/merge", "root", json={"merge_ids": [2]})
        itself = await api.call(
            "POST", "/api/v1/contacts/merge", "root", json={"keep_id": keep["id"], "merge_ids": [keep["id"]]}
        )

        assert (422, ["merge_ids"]) == (empty[0], empty[1]["details"]["errors"][0]["loc"])
        assert (422, ["keep_id"]) == (missing[0], missing[1]["details"]["errors"][0]["loc"])
        assert (422, "merge_ids") == (itself[0], itself[1]["details"]["field"])

    async def test_merge_needs_the_csrf_header_in_a_browser(self, api, twins):
        """
        With the session cookie but no CSRF header, the merge is refused and nothing moves.
        """
        keep, twin = twins

        response = await api.client.post(
            "/api/v1/contacts/merge",
            json={"keep_id": keep["id"], "merge_ids": [twin["id"]]},
            headers=api.browser("root", csrf=False),
        )

        assert 403 == response.status
        assert 1 == await _count(api, select(func.count()).where(Contact.id == twin["id"]))


class TestConversion:
    async def test_offer_then_convert_to_the_existing_contact_and_a_deal(self, api):
        """
        The offer lists the namesake contact; creating a new one is refused with the duplicates;
        linking it converts the lead, makes a deal and moves the lead's call onto the contact.
        """
        contact = await _create(api, "contacts", "ivan", name="Anna Smirnova")
        lead = await _create(
            api, "leads", "ivan", title="Call back", name="Anna Smirnova", phones=[{"value": "+79991112233"}]
        )
        await _log_call(api, "lead-call", "+79991112233", "ivan")
        base = f"/api/v1/leads/{lead['id']}"

        _, offer = await api.call("GET", f"{base}/conversion", "ivan")
        refused = await api.call("POST", f"{base}/convert", "ivan", json={"contact": "create"})
        status, result = await api.call(
            "POST", f"{base}/convert", "ivan", json={"contact": contact["id"], "deal": True}
        )

        assert [contact["id"]] == [d["id"] for d in offer["contacts"]]
        assert (409, "duplicates-found") == (refused[0], refused[1]["error_id"])
        assert 200 == status, result
        assert (contact["id"], ["deal"], 1) == (
            result["contact_id"],
            result["created"],
            result["calls_linked"],
        )
        _, converted = await api.call("GET", base, "ivan")
        assert contact["id"] == converted["contact_id"]
        _, deal = await api.call("GET", f"/api/v1/deals/{result['deal_id']}", "ivan")
        assert lead["id"] == deal["source_lead_id"]
        _, timeline = await api.call("GET", f"/api/v1/contacts/{contact['id']}/timeline", "ivan")
        assert 1 == len(_calls(timeline))

    async def test_twice_is_a_conflict_and_unknown_fields_are_named(self, api):
        """
        A converted lead cannot be converted again (409); an unknown body field is a 422 naming it.
        """
        lead = await _create(api, "leads", "ivan", title="Call back", company_name="Romashka")
        base = f"/api/v1/leads/{lead['id']}"

        first = await api.call("POST", f"{base}/convert", "ivan", json={"company": "create"})
        again = await api.call("POST", f"{base}/convert", "ivan", json={"company": "create"})
        typo = await api.call("POST", f"{base}/convert", "ivan", json={"contakt": "create"})

        assert (200, ["company"]) == (first[0], first[1]["created"])
        assert (409, "lead-converted") == (again[0], again[1]["error_id"])
        assert (422, ["contakt"]) == (typo[0], typo[1]["details"]["errors"][0]["loc"])

    async def test_agent_cannot_convert_a_colleagues_lead(self, api):
        """
        Converting changes the lead: ivan may read olga's lead but not convert it.
        """
        lead = await _create(api, "leads", "olga", title="Olga's", company_name="Romashka")

        status, body = await api.call(
            "POST", f"/api/v1/leads/{lead['id']}/convert", "ivan", json={"company": "create"}
        )

        assert (403, {"entity": "lead", "action": "update"}) == (status, body["details"])


class TestExclusions:
    async def test_add_list_remove(self, api):
        """
        The admin excludes a number (stored as E.164) and an e-mail, lists them, removes the number.
        """
        phone = await api.call(
            "POST", "/api/v1/exclusions", "root", json={"kind": "phone", "value": "8 495 111-22-33"}
        )
        await api.call(
            "POST", "/api/v1/exclusions", "root", json={"kind": "email", "value": "Info@Example.com"}
        )

        _, listed = await api.call("GET", "/api/v1/exclusions", "root")
        removed = await api.call("DELETE", "/api/v1/exclusions/phone/+74951112233", "root")
        again = await api.call("DELETE", "/api/v1/exclusions/phone/+74951112233", "root")
        _, after = await api.call("GET", "/api/v1/exclusions", "ivan")

        assert (201, "+74951112233") == (phone[0], phone[1]["value"])
        assert [("phone", "+74951112233"), ("email", "info@example.com")] == [
            (e["kind"], e["value"]) for e in listed["items"]
        ]
        assert 204 == removed[0]
        assert (404, "not-found") == (again[0], again[1]["error_id"])
        assert [("email", "info@example.com")] == [(e["kind"], e["value"]) for e in after["items"]]

    async def test_only_admins_edit_and_values_are_checked(self, api):
        """
        An agent gets 403; a number that is no number is a 422 naming ``value``; a bad kind names ``kind``.
        """
        agent = await api.call(
            "POST", "/api/v1/exclusions", "ivan", json={"kind": "phone", "value": "+74951112233"}
        )
        not_a_number = await api.call(
            "POST", "/api/v1/exclusions", "root", json={"kind": "phone", "value": "abc"}
        )
        bad_kind = await api.call("POST", "/api/v1/exclusions", "root", json={"kind": "fax", "value": "1"})

        assert 403 == agent[0]
        assert (422, "value") == (not_a_number[0], not_a_number[1]["details"]["field"])
        assert (422, ["kind"]) == (bad_kind[0], bad_kind[1]["details"]["errors"][0]["loc"])


class TestCyrillicContains:
    async def test_upper_case_finds_mixed_case(self, api):
        """
        title__contains=РОГА finds "Рога и копыта" (SQLite folds through cti_fold, PostgreSQL ILIKE);
        ``%`` stays a plain character.
        """
        await _create(api, "leads", "ivan", title="Рога и копыта")
        await _create(api, "leads", "ivan", title="Ёлки 100%")
        await _create(api, "leads", "ivan", title="Horns")

        async def titles(text: str) -> list[str]:
            status, page = await api.call("GET", "/api/v1/leads", "ivan", params={"title__contains": text})
            assert 200 == status, page
            return [item["title"] for item in page["items"]]

        assert ["Рога и копыта"] == await titles("РОГА")
        assert ["Ёлки 100%"] == await titles("ёЛКИ 100%")
        assert [] == await titles("ки 1000%")
        assert ["Horns"] == await titles("HORN")
