"""The quote and invoice status lists: edited like the lead statuses, never emptied, never left dangling."""

from __future__ import annotations

import pytest

from crm_core.crud import ListQuery
from crm_core.errors import NotFound
from crm_core.rights import Forbidden
from crm_core.sales.deals import create_deal
from crm_core.sales.document_statuses import (
    DocumentStatusCreate,
    DocumentStatusesResource,
    DocumentStatusUpdate,
)
from crm_core.sales.documents import QuotesResource
from crm_core.sales.errors import BadValue, InUse
from crm_core.sales.schemas import DealCreate, QuoteCreate

STATUSES = DocumentStatusesResource()


async def _codes(session, principal, kind: str) -> list[str]:
    page = await STATUSES.list(session, principal, ListQuery(filters={"kind": kind}))
    return [s.code for s in page.items]


class TestDocumentStatuses:
    async def test_create_update_and_delete(self, session, people):
        """
        A new invoice status takes its place in the list; its name and meaning change; unused, it goes.
        """
        made = await STATUSES.create(
            session,
            people.admin,
            DocumentStatusCreate(kind="invoice", code="OVERDUE", name="Overdue", sort=25),
        )
        assert "OVERDUE" in await _codes(session, people.ivanov, "invoice")
        assert "OVERDUE" not in await _codes(session, people.ivanov, "quote")

        changed = await STATUSES.update(
            session, people.admin, made.id, DocumentStatusUpdate(name="Late", semantic="failure")
        )
        assert ("Late", "failure") == (changed.name, changed.semantic)

        await STATUSES.delete(session, people.admin, made.id)
        with pytest.raises(NotFound, match="document status"):
            await STATUSES.get(session, people.admin, made.id)

    async def test_a_code_is_unique_per_kind(self, session, people):
        """
        DRAFT exists for quotes already; a second one is refused, naming the code.
        """
        with pytest.raises(BadValue, match="quote status 'DRAFT' already exists"):
            await STATUSES.create(
                session, people.admin, DocumentStatusCreate(kind="quote", code="DRAFT", name="X")
            )

    async def test_a_status_in_use_is_not_deleted(self, session, people):
        """
        A quote in DRAFT keeps DRAFT: the refusal says how many quotes use it.
        """
        deal = await create_deal(session, people.admin, DealCreate(title="Net"))
        await QuotesResource().create(session, people.admin, QuoteCreate(deal_id=deal.id))
        page = await STATUSES.list(
            session, people.admin, ListQuery(filters={"kind": "quote", "code": "DRAFT"})
        )

        with pytest.raises(InUse, match=r"the quote status 'DRAFT' is still used by 1 quote\(s\)"):
            await STATUSES.delete(session, people.admin, page.items[0].id)

    async def test_the_last_status_of_a_kind_stays(self, session, people):
        """
        Deleting every quote status but one works; the last one is refused (new quotes need it).
        """
        page = await STATUSES.list(session, people.admin, ListQuery(filters={"kind": "quote"}))
        *others, last = page.items
        for status in others:
            await STATUSES.delete(session, people.admin, status.id)

        with pytest.raises(InUse, match="last status"):
            await STATUSES.delete(session, people.admin, last.id)

    async def test_agents_read_but_do_not_edit(self, session, people):
        """
        Editing the lists takes level "all"; an agent reads them.
        """
        with pytest.raises(Forbidden):
            await STATUSES.create(
                session, people.ivanov, DocumentStatusCreate(kind="quote", code="SEEN", name="Seen")
            )
        assert [] != await _codes(session, people.ivanov, "quote")
