"""Every API resource, create -> get -> list with a filter -> update -> delete, over HTTP on both databases.

The table below holds a minimal valid body per resource; a resource added to the API without a row
here fails :func:`test_every_resource_has_a_row`, so the round trip always covers the whole API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

import web.api

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

Body = dict[str, Any] | Callable[[dict[str, int]], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    create: Body
    "The minimal body; a function gets the ids of the cards made first (``contact``, ``deal``)."
    filter: str
    "A filterable field: the list filtered on the created record's value finds it alone."
    update: dict[str, Any]
    needs: tuple[str, ...] = ()
    deleted: tuple[int, str | None] = (204, None)
    "The DELETE answer: status and error_id (invoices are kept for the record, cancelled instead)."
    extra: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "leads": Case({"title": "Round trip"}, "title", {"title": "Renamed"}),
    "contacts": Case({"name": "Round trip"}, "name", {"name": "Renamed"}),
    "companies": Case({"title": "Round trip"}, "title", {"title": "Renamed"}),
    "activities": Case(
        lambda ids: {
            "kind": "meeting",
            "subject": "Round trip",
            "start_at": "2026-11-20T10:00:00+00:00",
            "bindings": [{"owner_type": "contact", "owner_id": ids["contact"]}],
        },
        "subject",
        {"subject": "Renamed"},
        needs=("contact",),
    ),
    "lead-statuses": Case({"code": "ROUND_TRIP", "name": "Round trip"}, "code", {"name": "Renamed"}),
    "lead-sources": Case({"code": "ROUND_TRIP", "name": "Round trip"}, "code", {"name": "Renamed"}),
    "product-sections": Case({"name": "Round trip"}, "name", {"name": "Renamed"}),
    "products": Case({"name": "Round trip"}, "name", {"name": "Renamed"}),
    "pipelines": Case({"name": "Round trip"}, "name", {"name": "Renamed"}),
    "deals": Case({"title": "Round trip"}, "title", {"title": "Renamed"}),
    "quotes": Case(lambda ids: {"deal_id": ids["deal"]}, "deal_id", {"title": "Renamed"}, needs=("deal",)),
    "invoices": Case(
        lambda ids: {"deal_id": ids["deal"]},
        "deal_id",
        {"title": "Renamed"},
        needs=("deal",),
        deleted=(409, "kept-for-the-record"),
    ),
    "document-statuses": Case(
        {"kind": "quote", "code": "ROUND_TRIP", "name": "Round trip"}, "code", {"name": "Renamed"}
    ),
    "departments": Case({"name": "Round trip"}, "name", {"name": "Renamed"}),
    "access-roles": Case({"name": "round-trip"}, "name", {"name": "renamed"}),
}
PREREQUISITES = {"contact": ("contacts", {"name": "Anna"}), "deal": ("deals", {"title": "For documents"})}


def _numbers(value: Any) -> Any:
    """*value* with decimal strings as numbers: a product's price is "0" when created and "0.0000"
    when read back (the column's scale), the same money."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, str) and value[:1].isdigit() and "-" not in value and ":" not in value:
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


def test_every_resource_has_a_row():
    """
    The table covers the API exactly: a new resource needs its minimal body here.
    """
    assert sorted(r.path for r in web.api.all_resources()) == sorted(CASES)


@pytest.mark.parametrize("path", sorted(CASES))
async def test_round_trip(api, path):
    """
    As the admin with a Bearer token: 201, the same record read back, found by a filter, changed by
    PATCH (and read back changed), then deleted (404 afterwards).
    """
    case = CASES[path]
    ids: dict[str, int] = {}
    for need in case.needs:
        where, body = PREREQUISITES[need]
        status, made = await api.call("POST", f"/api/v1/{where}", "root", json=body)
        assert 201 == status, made
        ids[need] = made["id"]
    body = case.create(ids) if callable(case.create) else case.create
    url = f"/api/v1/{path}"

    status, created = await api.call("POST", url, "root", json=body)
    assert 201 == status, created
    item = f"{url}/{created['id']}"

    status, read = await api.call("GET", item, "root")
    assert (200, _numbers(created)) == (status, _numbers(read))
    sent = {k: v for k, v in body.items() if isinstance(v, str | int) and not k.endswith("_at")}
    assert sent == {k: read[k] for k in sent}

    status, page = await api.call("GET", url, "root", params={case.filter: str(created[case.filter])})
    assert 200 == status, page
    assert [created["id"]] == [i["id"] for i in page["items"]]

    status, changed = await api.call("PATCH", item, "root", json=case.update)
    assert 200 == status, changed
    assert case.update == {k: changed[k] for k in case.update}
    assert _numbers(changed) == _numbers((await api.call("GET", item, "root"))[1])

    status, answer = await api.call("DELETE", item, "root")
    assert case.deleted == (status, answer["error_id"] if answer else None)
    expected_after = 404 if status == 204 else 200
    assert expected_after == (await api.call("GET", item, "root"))[0]
