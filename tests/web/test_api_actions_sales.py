"""The sales actions through the API, on SQLite and PostgreSQL: funnel, stage history, numbering,
and the actions' part of the OpenAPI document.

Funnel data set (default pipeline NEW, PREPARATION, PREPAYMENT_INVOICE, EXECUTING, FINAL_INVOICE,
WON, LOSE), worked out by hand:

====  ===========================================  =====  ===================
deal  path                                         who    created
====  ===========================================  =====  ===================
d1    NEW                                          ivan   2 March, 100 RUB
d2    NEW, PREPARATION, EXECUTING                  ivan   2 March, 200 RUB
d3    NEW, EXECUTING, WON                          olga   31 March 22:00 UTC
d4    NEW, LOSE                                    ivan   2 March, 400 RUB
d5    NEW                                          ivan   15 January (outside)
====  ===========================================  =====  ===================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from openapi_spec_validator import validate

from crm_core.rights import SYSTEM
from crm_core.sales.deals import create_deal, move_deal
from crm_core.sales.pipelines import default_pipeline, load_stages
from crm_core.sales.schemas import DealCreate

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)

MARCH_2 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


@pytest.fixture(name="funnel")
async def _funnel(api) -> dict[str, int]:
    """The data set of the module doc; returns stage code -> stage id."""
    async with api.sessionmaker() as session:
        stages = {s.code: s.id for s in await load_stages(session, (await default_pipeline(session)).id)}

        async def deal(path: list[str], amount: str, who: str, created: datetime) -> None:
            made = await create_deal(
                session,
                SYSTEM,
                DealCreate(
                    title=amount,
                    stage_id=stages[path[0]],
                    amount=Decimal(amount),
                    responsible_id=api.ids[who],
                ),
                at=created,
            )
            for step, code in enumerate(path[1:], start=1):
                reason = "Too expensive" if code == "LOSE" else None
                await move_deal(
                    session,
                    SYSTEM,
                    made.id,
                    stages[code],
                    loss_reason=reason,
                    at=created + timedelta(hours=step),
                )

        await deal(["NEW"], "100", "ivan", MARCH_2)
        await deal(["NEW", "PREPARATION", "EXECUTING"], "200", "ivan", MARCH_2)
        await deal(["NEW", "EXECUTING", "WON"], "300", "olga", datetime(2026, 3, 31, 22, tzinfo=UTC))
        await deal(["NEW", "LOSE"], "400", "ivan", MARCH_2)
        await deal(["NEW"], "500", "ivan", datetime(2026, 1, 15, tzinfo=UTC))
        await session.commit()
    return stages


MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


def _counts(report) -> dict[str, int]:
    return {stage["code"]: stage["count"] for stage in report["stages"]}


class TestFunnel:
    async def test_passed_variant_counts_the_stages_really_passed(self, api, funnel):
        """
        March (the 31st included, as a day): four deals; skipped stages do not count them.
        """
        status, report = await api.call("GET", "/api/v1/reports/funnel", "root", params=MARCH)

        assert 200 == status, report
        assert ("passed", 4) == (report["variant"], report["deals"])
        assert {
            "NEW": 4,
            "PREPARATION": 1,
            "PREPAYMENT_INVOICE": 0,
            "EXECUTING": 2,
            "FINAL_INVOICE": 0,
            "WON": 1,
            "LOSE": 1,
        } == _counts(report)
        executing = next(s for s in report["stages"] if s["code"] == "EXECUTING")
        assert ("50.0", {"RUB": "500.00"}) == (executing["conversion"], executing["amounts"])

    async def test_conversions_variant_counts_every_intermediate_stage(self, api, funnel):
        """
        With conversions, a deal counts at every in-progress stage up to the furthest it reached.
        """
        status, report = await api.call(
            "GET", "/api/v1/reports/funnel", "root", params={**MARCH, "variant": "conversions"}
        )

        assert 200 == status, report
        assert {
            "NEW": 4,
            "PREPARATION": 2,
            "PREPAYMENT_INVOICE": 2,
            "EXECUTING": 2,
            "FINAL_INVOICE": 1,
            "WON": 1,
            "LOSE": 1,
        } == _counts(report)

    async def test_scope_by_responsible_and_by_moment(self, api, funnel):
        """
        responsible_id keeps ivan's deals; a date-time end excludes what comes at or after it.
        """
        _, ivans = await api.call(
            "GET", "/api/v1/reports/funnel", "root", params={**MARCH, "responsible_id": str(api.ids["ivan"])}
        )
        _, before = await api.call(
            "GET",
            "/api/v1/reports/funnel",
            "root",
            params={"date_from": "2026-03-01", "date_to": "2026-03-31T22:00:00Z"},
        )
        _, both = await api.call(
            "GET",
            "/api/v1/reports/funnel",
            "root",
            params=[("responsible_id", str(api.ids["ivan"])), ("responsible_id", str(api.ids["olga"]))],
        )

        assert (3, [api.ids["ivan"]]) == (ivans["deals"], ivans["responsible_ids"])
        assert (3, 0) == (before["deals"], _counts(before)["WON"])
        assert 5 == both["deals"]

    async def test_bad_parameters_are_named(self, api, funnel):
        """
        An unknown variant, a bad date and an unknown parameter are 422s naming them; an unknown
        pipeline is a 404.
        """
        variant = await api.call("GET", "/api/v1/reports/funnel", "root", params={"variant": "sideways"})
        day = await api.call("GET", "/api/v1/reports/funnel", "root", params={"date_from": "2026-02-30"})
        extra = await api.call("GET", "/api/v1/reports/funnel", "root", params={"pipeline": "1"})
        pipeline = await api.call("GET", "/api/v1/reports/funnel", "root", params={"pipeline_id": "999999"})

        assert (422, ["variant"]) == (variant[0], variant[1]["details"]["errors"][0]["loc"])
        assert (422, "date_from") == (day[0], day[1]["details"]["errors"][0]["loc"][0])
        assert (422, ["pipeline"]) == (extra[0], extra[1]["details"]["errors"][0]["loc"])
        assert (404, "not-found") == (pipeline[0], pipeline[1]["error_id"])

    async def test_an_agent_counts_only_what_they_may_read(self, api, funnel):
        """
        petr (Support) reads none of Sales' deals: his funnel is empty, not an error.
        """
        status, report = await api.call("GET", "/api/v1/reports/funnel", "petr", params=MARCH)

        assert (200, 0) == (status, report["deals"])


class TestStageHistory:
    async def test_history_oldest_first_and_rights(self, api, funnel):
        """
        A deal moved twice has three rows; petr (Support) may not read a Sales deal's history.
        """
        _, deals = await api.call("GET", "/api/v1/deals", "root", params={"title": "200"})
        deal_id = deals["items"][0]["id"]

        status, history = await api.call("GET", f"/api/v1/deals/{deal_id}/stage-history", "ivan")
        forbidden = await api.call("GET", f"/api/v1/deals/{deal_id}/stage-history", "petr")
        missing = await api.call("GET", "/api/v1/deals/999999/stage-history", "ivan")

        assert 200 == status, history
        assert [funnel["NEW"], funnel["PREPARATION"], funnel["EXECUTING"]] == [
            row["stage_id"] for row in history["items"]
        ]
        assert history["items"][-1]["left_at"] is None
        assert (403, "forbidden") == (forbidden[0], forbidden[1]["error_id"])
        assert 404 == missing[0]


class TestNumberSequences:
    async def test_admin_changes_the_pattern_and_the_next_invoice_uses_it(self, api):
        """
        PUT sets a monthly pattern; GET shows it; the next invoice made from a deal is numbered by it.
        """
        status, changed = await api.call(
            "PUT",
            "/api/v1/number-sequences/invoice",
            "root",
            json={"pattern": "СЧ-{year}{month}-{seq:03d}", "reset": "monthly"},
        )
        _, shown = await api.call("GET", "/api/v1/number-sequences/invoice", "ivan")
        _, deal = await api.call("POST", "/api/v1/deals", "root", json={"title": "Order"})
        _, invoice = await api.call(
            "POST", "/api/v1/invoices", "root", json={"deal_id": deal["id"], "issued_on": "2026-11-27"}
        )

        assert 200 == status, changed
        assert {"kind": "invoice", "pattern": "СЧ-{year}{month}-{seq:03d}", "reset": "monthly"} == shown
        assert "СЧ-202611-001" == invoice["number"]

    async def test_refusals(self, api):
        """
        An agent may not renumber (403); a pattern without {seq} is a 422 naming ``pattern``; a bad
        reset names ``reset``; an unknown kind is a 404.
        """
        body = {"pattern": "Q-{seq}", "reset": "never"}
        agent = await api.call("PUT", "/api/v1/number-sequences/quote", "ivan", json=body)
        no_seq = await api.call(
            "PUT", "/api/v1/number-sequences/quote", "root", json={"pattern": "Q-1", "reset": "never"}
        )
        reset = await api.call(
            "PUT", "/api/v1/number-sequences/quote", "root", json={"pattern": "Q-{seq}", "reset": "weekly"}
        )
        unknown = await api.call("GET", "/api/v1/number-sequences/receipt", "root")

        assert (403, "forbidden") == (agent[0], agent[1]["error_id"])
        assert (422, "pattern") == (no_seq[0], no_seq[1]["details"]["field"])
        assert (422, ["reset"]) == (reset[0], reset[1]["details"]["errors"][0]["loc"])
        assert (404, "not-found") == (unknown[0], unknown[1]["error_id"])


class TestActionsInTheApi:
    async def test_openapi_document_lists_the_actions_and_stays_valid(self, api):
        """
        Every action appears with its method; the document still validates as OpenAPI 3.1.
        """
        document = await (await api.client.get("/api/v1/openapi.json")).json()

        validate(document)
        paths = document["paths"]
        assert {"get"} <= set(paths["/api/v1/leads/{id}/timeline"])
        assert {"get", "post"} <= set(paths["/api/v1/exclusions"])
        assert {"get", "put"} <= set(paths["/api/v1/number-sequences/{kind}"])
        assert "post" in paths["/api/v1/contacts/merge"]
        assert (
            "#/components/schemas/MergeRequest"
            == (
                paths["/api/v1/contacts/merge"]["post"]["requestBody"]["content"]["application/json"][
                    "schema"
                ]["$ref"]
            )
        )
        assert {"pipeline_id", "date_from", "date_to", "responsible_id", "variant"} == {
            p["name"] for p in paths["/api/v1/reports/funnel"]["get"]["parameters"]
        }

    async def test_wrong_method_and_no_caller(self, api):
        """
        GET on a merge path is a 405 listing POST; an anonymous request is a 401.
        """
        wrong = await api.client.get("/api/v1/leads/merge", headers=api.bearer("root"))
        anonymous = await api.call("GET", "/api/v1/reports/funnel")

        assert (405, "POST") == (wrong.status, wrong.headers["Allow"])
        assert (401, "unauthenticated") == (anonymous[0], anonymous[1]["error_id"])

    async def test_a_refused_write_changes_nothing(self, api):
        """
        A refused PUT (bad pattern) changes nothing: the sequence reads as before.
        """
        _, before = await api.call("GET", "/api/v1/number-sequences/quote", "root")

        await api.call(
            "PUT", "/api/v1/number-sequences/quote", "root", json={"pattern": "{year}", "reset": "yearly"}
        )
        _, after = await api.call("GET", "/api/v1/number-sequences/quote", "root")

        assert before == after
