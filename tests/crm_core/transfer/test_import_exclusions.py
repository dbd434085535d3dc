"""Imports leave out the rows carrying an excluded number: the list and ``crm.own_numbers`` alike."""

from __future__ import annotations

from crm_core.models import Contact, Lead
from crm_core.transfer.importer import import_table
from crm_core.transfer.mapping import ImportKind
from tests.crm_core.factories import count

from .conftest import csv_table, mapping_for

ROWS = """ФИО,Телефон
Анна,+7 916 123-45-67
Мы,8 (495) 123-45-67
"""


async def _import(session, principal, kind: ImportKind, **options):
    table = csv_table(ROWS)
    return await import_table(session, principal, table, mapping_for(kind, table), **options)


class TestOwnNumbers:
    async def test_own_number_row_is_reported_in_the_dry_run(self, session, people):
        """
        A configured own number, written as people write it, is read in the region like the call log
        reads it: the dry run lists its row with the line and the number.
        """
        report = await _import(
            session, people.admin, ImportKind.CONTACTS, dry_run=True, own_numbers=("+7 495 123-45-67",)
        )

        assert [(3, "+74951234567 is on the exclusion list (our own or an excluded number)")] == [
            (s.line, s.reason) for s in report.skipped
        ]

    async def test_own_number_makes_no_card(self, session, people):
        """
        The real import writes the other rows and no card for our own number (leads too).
        """
        report = await _import(session, people.admin, ImportKind.LEADS, own_numbers=("84951234567",))

        assert (1, 1, 1) == (report.created, len(report.skipped), await count(session, Lead))
        assert 0 == await count(session, Contact)
