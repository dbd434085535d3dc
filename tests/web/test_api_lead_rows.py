"""Product rows on leads through the REST API, on both databases: POST, GET, PATCH, the document."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

from decimal import Decimal as D

import pytest

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

ROWS = [
    {
        "name": "Router",
        "quantity": "3",
        "price": "1000.00",
        "discount_type": "percent",
        "discount_value": "10",
    },
    {
        "name": "Installation",
        "unit": "h",
        "quantity": "7",
        "price": "99.99",
        "tax_rate": "20",
        "tax_included": False,
    },
]
"2700.00 (10 % off 3000.00, no VAT) and 699.93 + 139.99 VAT added = 839.92; together 3539.92."


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


def money(rows: list[dict]) -> list[tuple[D, D, D, D]]:
    """The computed amounts of each row, as exact Decimals from the JSON text."""
    return [(D(r["discount_amount"]), D(r["net_amount"]), D(r["tax_amount"]), D(r["total"])) for r in rows]


class TestLeadRows:
    async def test_post_get_and_patch_rows(self, api):
        """
        A lead POSTed with two rows reads back with each row's exact amounts and the total as its
        amount; a PATCH replaces the rows and the amount follows; an empty list removes them.
        """
        status, created = await api.call(
            "POST", "/api/v1/leads", "ivan", json={"title": "Office network", "rows": ROWS}
        )
        assert 201 == status, created

        status, got = await api.call("GET", f"/api/v1/leads/{created['id']}", "ivan")
        assert 200 == status, got
        assert [
            (D("300.00"), D("2700.00"), D("0.00"), D("2700.00")),
            (D("0.00"), D("699.93"), D("139.99"), D("839.92")),
        ] == money(got["rows"])
        assert (D("3539.92"), False) == (D(got["amount"]), got["amount_manual"])
        assert ["Router", "Installation"] == [r["name"] for r in got["rows"]]

        status, patched = await api.call(
            "PATCH",
            f"/api/v1/leads/{created['id']}",
            "ivan",
            json={
                "rows": [
                    {
                        "name": "Cable",
                        "quantity": "2.5",
                        "price": "199.90",
                        "tax_rate": "10",
                        "tax_included": False,
                    }
                ]
            },
        )
        assert 200 == status, patched
        assert ([(D("0.00"), D("499.75"), D("49.98"), D("549.73"))], D("549.73")) == (
            money(patched["rows"]),
            D(patched["amount"]),
        )

        status, typed = await api.call(
            "PATCH", f"/api/v1/leads/{created['id']}", "ivan", json={"amount": "100.00"}
        )
        assert (200, D("100.00"), True) == (status, D(typed["amount"]), typed["amount_manual"])

        status, cleared = await api.call(
            "PATCH", f"/api/v1/leads/{created['id']}", "ivan", json={"rows": [], "amount": None}
        )
        assert (200, [], D("0.00"), False) == (
            status,
            cleared["rows"],
            D(cleared["amount"]),
            cleared["amount_manual"],
        )

    async def test_listed_leads_carry_their_rows(self, api):
        """
        The list shows each lead's rows too.
        """
        await api.call("POST", "/api/v1/leads", "ivan", json={"title": "A", "rows": ROWS})
        await api.call("POST", "/api/v1/leads", "ivan", json={"title": "B"})

        status, page = await api.call("GET", "/api/v1/leads", "ivan", params={"sort": "title"})

        assert 200 == status, page
        assert [("A", 2, "3539.92"), ("B", 0, "0.00")] == [
            (item["title"], len(item["rows"]), item["amount"]) for item in page["items"]
        ]

    async def test_bad_rows_name_the_field(self, api):
        """
        A negative quantity is a 422 at rows.0.quantity; an unknown product one at rows[1].product_id.
        """
        status, negative = await api.call(
            "POST",
            "/api/v1/leads",
            "ivan",
            json={"title": "x", "rows": [{"name": "Box", "price": "1", "quantity": "-1"}]},
        )
        status_product, unknown = await api.call(
            "POST", "/api/v1/leads", "ivan", json={"title": "x", "rows": [ROWS[0], {"product_id": 999999}]}
        )

        assert (422, "validation-failed", ["rows", "0", "quantity"]) == (
            status,
            negative["error_id"],
            negative["details"]["errors"][0]["loc"],
        )
        assert (422, "rows[1].product_id") == (status_product, unknown["details"]["field"])

    async def test_a_colleague_cannot_patch_the_rows(self, api):
        """
        With the agents' "own" update right, olga gets 403 for ivan's lead rows, which stay.
        """
        _, created = await api.call("POST", "/api/v1/leads", "ivan", json={"title": "x", "rows": ROWS})

        status, body = await api.call("PATCH", f"/api/v1/leads/{created['id']}", "olga", json={"rows": []})

        assert (403, "forbidden") == (status, body["error_id"])
        _, got = await api.call("GET", f"/api/v1/leads/{created['id']}", "ivan")
        assert 2 == len(got["rows"])

    async def test_openapi_lists_the_rows(self, api):
        """
        The OpenAPI document shows rows on the lead's create, update and output schemas.
        """
        document = await (await api.client.get("/api/v1/openapi.json")).json()
        schemas = document["components"]["schemas"]

        for name in ("LeadCreate", "LeadUpdate", "LeadOut"):
            assert "rows" in schemas[name]["properties"], name
        assert "amount_manual" in schemas["LeadOut"]["properties"]
        assert "RowIn" in str(schemas["LeadCreate"]["properties"]["rows"])
        assert "RowOut" in str(schemas["LeadOut"]["properties"]["rows"])
