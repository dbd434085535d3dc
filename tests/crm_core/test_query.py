"""The generic list helper: filters parsed by type, sorting with stable ties, paging and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import Invalid
from crm_core.models import Lead, LeadStatus, User
from crm_core.query import InvalidQuery, apply_list_query, fetch_page, operators_for, parse_value, split_key

FILTERABLE = {
    "id": int,
    "title": str,
    "name": str,
    "status": LeadStatus,
    "responsible_id": int,
    "created_at": datetime,
}
SORTABLE = ("title", "name", "created_at", "id")
T1 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _titles(session, **query) -> tuple[list[str], int]:
    rows, total = await fetch_page(
        session, select(Lead), Lead, ListQuery(**query), filterable=FILTERABLE, sortable=SORTABLE
    )
    return [lead.title for lead in rows], total


@pytest.fixture(name="leads")
async def _leads(session):
    """Five leads: two owned by ivanov, one nameless, one with a LIKE wildcard in its title."""
    ivanov = User(login="ivanov", name="Ivan Ivanov", role="agent")
    session.add(ivanov)
    await session.flush()
    session.add_all(
        [
            Lead(title="Рога и копыта", name="Остап", status="NEW", responsible_id=ivanov.id, created_at=T1),
            Lead(title="Horns & Hoofs", name="Ostap", status="IN_PROCESS", created_at=T1),
            Lead(title="Discount 50%", name=None, status="JUNK", responsible_id=ivanov.id, created_at=T2),
            Lead(title="Discount 500", name="Bender", status="NEW", created_at=T2),
            Lead(title="horns_small", name="Kisa", status="CONVERTED", created_at=T2),
        ]
    )
    await session.flush()
    return ivanov


class TestSplitKey:
    def test_bare_field_means_equals(self):
        """
        A key without an operator suffix compares for equality.
        """
        assert ("title", "eq") == split_key("title")

    def test_operator_suffix(self):
        """
        The last ``__`` separates the operator.
        """
        assert ("stage_id", "in") == split_key("stage_id__in")

    def test_unknown_operator_is_named(self):
        """
        An operator we do not know is refused with its name and the list of known ones.
        """
        with pytest.raises(InvalidQuery, match="title__startswith: unknown operator 'startswith'") as caught:
            split_key("title__startswith")

        assert "startswith" == caught.value.details()["value"]
        assert "contains" in caught.value.details()["allowed"]


class TestParseValue:
    def test_types(self):
        """
        Each declared type parses its text form; dates without a zone are UTC.
        """
        assert 42 == parse_value("id", int, " 42 ")
        assert Decimal("10.50") == parse_value("amount", Decimal, "10.50")
        assert True is parse_value("active", bool, "yes")
        assert False is parse_value("active", bool, "false")
        assert datetime(2026, 11, 1, tzinfo=UTC) == parse_value("created_at", datetime, "2026-11-01")
        assert "NEW" == parse_value("status", LeadStatus, "NEW")

    @pytest.mark.parametrize(
        ("kind", "text", "expected"),
        [
            (int, "abc", "not a whole number"),
            (Decimal, "NaN", "not a decimal number"),
            (bool, "maybe", "not true or false"),
            (datetime, "yesterday", "not an ISO 8601 date-time"),
            (LeadStatus, "LOST", "not one of NEW, IN_PROCESS"),
        ],
    )
    def test_bad_value_names_field_and_expectation(self, kind, text, expected):
        """
        A value of the wrong type is an ``Invalid`` naming the field, the value and what was expected.
        """
        with pytest.raises(Invalid, match=f"field: '{text}' is {expected}"):
            parse_value("field", kind, text)


class TestFilters:
    async def test_contains_is_case_insensitive_and_literal(self, session, leads):
        """
        ``contains`` ignores ASCII case and treats ``%`` and ``_`` as plain characters.
        """
        assert (["Horns & Hoofs", "horns_small"], 2) == await _titles(
            session, filters={"title__contains": "HORNS"}
        )
        assert (["Discount 50%"], 1) == await _titles(session, filters={"title__contains": "50%"})
        assert (["horns_small"], 1) == await _titles(session, filters={"title__contains": "s_s"})

    async def test_contains_matches_cyrillic(self, session, leads):
        """
        Cyrillic text is found when written as stored.
        """
        assert (["Рога и копыта"], 1) == await _titles(session, filters={"title__contains": "копыт"})

    async def test_equality_and_in(self, session, leads):
        """
        ``eq`` (bare) and ``in`` (comma list) select by value.
        """
        assert (["Discount 500", "Рога и копыта"], 2) == await _titles(
            session, filters={"status": "NEW"}, sort=["title"]
        )
        assert (["Discount 50%", "horns_small"], 2) == await _titles(
            session, filters={"status__in": "JUNK,CONVERTED"}, sort=["title"]
        )

    async def test_not_equal_keeps_empty_values(self, session, leads):
        """
        ``ne`` keeps rows where the field is empty: they are "not Ostap" too.
        """
        titles, total = await _titles(session, filters={"name__ne": "Ostap"})

        assert 4 == total
        assert "Discount 50%" in titles
        assert "Horns & Hoofs" not in titles

    async def test_isnull_and_ranges(self, session, leads):
        """
        ``isnull`` and the ordered comparisons combine (all filters must hold).
        """
        assert (["Discount 50%"], 1) == await _titles(session, filters={"name__isnull": "true"})
        assert (["Discount 500", "horns_small"], 2) == await _titles(
            session, filters={"created_at__gte": "2026-11-10", "name__isnull": "false"}, sort=["title"]
        )
        assert 2 == (await _titles(session, filters={"created_at__lt": "2026-11-10T00:00:00+00:00"}))[1]

    async def test_filter_by_owner(self, session, leads):
        """
        An integer field filters exactly.
        """
        assert (["Discount 50%", "Рога и копыта"], 2) == await _titles(
            session, filters={"responsible_id": str(leads.id)}, sort=["title"]
        )

    @pytest.mark.parametrize(
        ("filters", "message"),
        [
            ({"secret": "x"}, "secret: cannot filter on 'secret'; filterable: id, title"),
            ({"status__contains": "NE"}, "status__contains: operator 'contains' does not apply"),
            ({"status__gt": "NEW"}, "status__gt: operator 'gt' does not apply"),
            ({"id__in": ","}, "id__in: give at least one value"),
            ({"id__in": "1,two"}, "id__in: 'two' is not a whole number"),
            ({"name__isnull": "perhaps"}, "name__isnull: 'perhaps' is not true or false"),
        ],
    )
    async def test_bad_filters_are_refused_by_name(self, session, leads, filters, message):
        """
        Unknown fields, operators that do not fit the type and bad values are refused, each named.
        """
        with pytest.raises(InvalidQuery, match=message):
            await _titles(session, filters=filters)


class TestSortAndPaging:
    async def test_sort_descending_with_id_breaking_ties(self, session, leads):
        """
        ``-created_at`` puts the newest first; rows created together keep insertion (id) order.
        """
        titles, _ = await _titles(session, sort=["-created_at"])

        assert ["Discount 50%", "Discount 500", "horns_small", "Рога и копыта", "Horns & Hoofs"] == titles

    async def test_nulls_sort_as_largest_on_every_database(self, session, leads):
        """
        An empty name sorts last ascending and first descending, on SQLite as on PostgreSQL.
        """
        ascending, _ = await _titles(session, sort=["name"])
        descending, _ = await _titles(session, sort=["-name"])

        assert "Discount 50%" == ascending[-1]
        assert "Discount 50%" == descending[0]

    async def test_pages_cover_every_row_once(self, session, leads):
        """
        Consecutive pages with equal sort keys neither repeat nor skip a row; total counts them all.
        """
        seen = []
        for offset in range(0, 6, 2):
            titles, total = await _titles(session, sort=["created_at"], offset=offset, limit=2)
            assert 5 == total
            seen.extend(titles)

        assert 5 == len(set(seen)) == len(seen)

    async def test_total_ignores_paging(self, session, leads):
        """
        The total is the number of matching rows, not of the page.
        """
        assert (["horns_small"], 2) == await _titles(
            session, filters={"title__contains": "horns"}, sort=["title"], offset=1, limit=1
        )

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"sort": ["password_hash"]}, "sort: cannot sort on 'password_hash'"),
            ({"offset": -1}, "offset: -1 is below 0"),
            ({"limit": 0}, f"limit: 0 is not between 1 and {MAX_LIMIT}"),
            ({"limit": MAX_LIMIT + 1}, f"limit: {MAX_LIMIT + 1} is not between 1"),
        ],
    )
    def test_bad_sort_and_paging_are_refused(self, query, message):
        """
        Sorting on an undeclared field and out-of-range paging are refused before any SQL runs.
        """
        with pytest.raises(InvalidQuery, match=message):
            apply_list_query(select(Lead), Lead, ListQuery(**query), filterable=FILTERABLE, sortable=SORTABLE)

    def test_values_are_bound_never_inlined(self):
        """
        A filter value reaches SQL only as a bound parameter.
        """
        page, count = apply_list_query(
            select(Lead),
            Lead,
            ListQuery(filters={"title": "x'; DROP TABLE lead; --"}),
            filterable=FILTERABLE,
            sortable=SORTABLE,
        )

        assert "DROP TABLE" not in str(page)
        assert "DROP TABLE" not in str(count)


class TestOperatorsFor:
    def test_each_kind_gets_the_operators_that_fit(self):
        """
        Text may be searched, numbers and dates compared, booleans and enumerations only matched.
        """
        assert ("eq", "ne", "contains", "in", "isnull") == operators_for(str)
        assert ("eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull") == operators_for(Decimal)
        assert ("eq", "ne", "in", "isnull") == operators_for(bool)
        assert ("eq", "ne", "in", "isnull") == operators_for(LeadStatus)

    def test_unsupported_type_is_a_programming_error(self):
        """
        A service declaring a filter of a type the parser does not know fails loudly, not as a 422.
        """
        with pytest.raises(TypeError, match="filterable type"):
            parse_value("blob", bytes, "x")
