"""The exclusion list of numbers and e-mails."""

from __future__ import annotations

import pytest

from crm_core.calllog import record_call
from crm_core.cards.errors import BadValue
from crm_core.cards.exclusions import Exclusion, add_exclusion, excluded, list_exclusions, remove_exclusion
from crm_core.models import Lead
from crm_core.rights import Forbidden

from ..factories import count, make_call


class TestExclusions:
    async def test_excluded_number_makes_no_lead(self, session, people, settings):
        """
        A number added in any spelling is stored as E.164, and its calls create nothing.
        """
        added = await add_exclusion(session, people.admin, "phone", "8 (999) 111-22-33")

        await record_call(session, make_call("c1", external="+79991112233"), pbx_id="main", settings=settings)

        assert ("+79991112233", 0) == (added.value, await count(session, Lead))

    async def test_emails_are_listed_lower_case(self, session, people):
        """
        E-mails are kept lower-cased and listed after numbers; adding twice keeps one.
        """
        await add_exclusion(session, people.admin, "email", "Office@Our-Company.ru")
        await add_exclusion(session, people.admin, "email", "office@our-company.ru")
        await add_exclusion(session, people.admin, "phone", "+74951112233", reason="own number")

        assert [
            Exclusion(kind="phone", value="+74951112233", reason="own number"),
            Exclusion(kind="email", value="office@our-company.ru", reason="excluded"),
        ] == await list_exclusions(session, people.ivanov)

    async def test_which_values_are_excluded(self, session, people):
        """
        ``excluded`` answers for a batch (an import row): list entries and the company's own numbers.
        """
        await add_exclusion(session, people.admin, "email", "office@our-company.ru")

        found = await excluded(
            session,
            phones=["+79990000000", "8 495 123-45-67"],
            emails=["OFFICE@our-company.ru", "client@example.com"],
            own_numbers=["+74951234567"],
        )

        assert [("phone", "+74951234567"), ("email", "office@our-company.ru")] == [
            (e.kind, e.value) for e in found
        ]

    async def test_remove(self, session, people):
        """
        Removing takes the entry off; removing again reports it was not there.
        """
        await add_exclusion(session, people.admin, "email", "office@our-company.ru")

        assert (True, False) == (
            await remove_exclusion(session, people.admin, "email", "Office@our-company.ru"),
            await remove_exclusion(session, people.admin, "email", "office@our-company.ru"),
        )

    async def test_agents_cannot_edit_the_list(self, session, people):
        """
        The list is a CRM setting.
        """
        with pytest.raises(Forbidden):
            await add_exclusion(session, people.ivanov, "phone", "+79991112233")

    async def test_bad_values_are_refused(self, session, people):
        """
        A number or address that cannot be read is refused rather than stored unmatched.
        """
        with pytest.raises(BadValue, match="not an e-mail address"):
            await add_exclusion(session, people.admin, "email", "office")
