"""The exclusion list and ``crm.own_numbers`` through the API: a card carrying one is a 422."""

from __future__ import annotations

import pytest

from cti.numbers import normalise

from .api_fixtures import _blank_engine, _engine, _sessionmaker, build_api  # noqa: F401 (fixtures)
from .fakes import OWN_DID


@pytest.fixture(name="api")
async def _api(sessionmaker, aiohttp_client, settings):
    return await build_api(aiohttp_client, settings, sessionmaker)


class TestExcludedValues:
    async def test_contact_with_the_companys_own_number_is_422(self, api):
        """
        The app's ``crm.own_numbers`` reach the card services: the refusal names the field and number.
        """
        own = normalise(OWN_DID, "RU").e164

        status, body = await api.call(
            "POST", "/api/v1/contacts", "root", json={"name": "Anna", "phones": [{"value": OWN_DID}]}
        )

        assert (422, "excluded-value") == (status, body["error_id"])
        assert {"field": "phones[0]", "value": own, "reason": "own number"} == body["details"]
        assert own in body["message"]
        _, page = await api.call("GET", "/api/v1/contacts", "root")
        assert 0 == page["total"]

    async def test_lead_with_a_listed_email_is_422(self, api):
        """
        An e-mail put on the list through the API is refused on a lead afterwards.
        """
        status, body = await api.call(
            "POST", "/api/v1/exclusions", "root", json={"kind": "email", "value": "robot@our.ru"}
        )
        assert status in (200, 201), body

        status, body = await api.call(
            "POST", "/api/v1/leads", "root", json={"title": "Mail", "emails": [{"value": "Robot@our.ru"}]}
        )

        assert (422, "excluded-value", "emails[0]") == (status, body["error_id"], body["details"]["field"])
