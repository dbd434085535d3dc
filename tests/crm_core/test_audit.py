"""Reading the audit trail on both databases: search_audit (action family, actor, paging) and the
actions and actors the viewer's filters offer."""

from __future__ import annotations

import pytest

from crm_core import audit
from crm_core.audit import AuditSearch, action_names, actor_names, search_audit


@pytest.fixture(name="trail")
async def _trail(session) -> None:
    """Five entries, oldest first."""
    for action, actor in (
        ("recording.listen", "boss"),
        ("recording.download", "boss"),
        ("recording.denied", "petr"),
        ("recordingx.other", "root"),
        ("dialplan.apply", "root"),
    ):
        await audit.record(session, action=action, actor=actor, target="x:1", details={"note": action})
    await session.commit()


async def actions_found(session, search: AuditSearch, offset: int = 0, limit: int = 100) -> list[str]:
    _total, found = await search_audit(session, search, offset=offset, limit=limit)
    return [entry.action for entry in found]


class TestSearchAudit:
    async def test_everything_newest_first(self, session, trail):
        """No filter: every entry, newest first, with its details."""
        total, found = await search_audit(session, AuditSearch(), offset=0, limit=100)

        assert 5 == total
        assert [
            "dialplan.apply",
            "recordingx.other",
            "recording.denied",
            "recording.download",
            "recording.listen",
        ] == [entry.action for entry in found]
        assert {"note": "dialplan.apply"} == found[0].details

    async def test_action_family_or_whole_action(self, session, trail):
        """``recording`` finds recording.* but not recordingx.*; a whole action finds itself."""
        family = await actions_found(session, AuditSearch(action="recording"))
        one = await actions_found(session, AuditSearch(action="recording.download"))

        assert ["recording.denied", "recording.download", "recording.listen"] == family
        assert ["recording.download"] == one

    async def test_a_wildcard_in_the_action_is_literal(self, session):
        """``a_b`` finds the family a_b.*, not axb.* (``_`` is not a LIKE wildcard here)."""
        await audit.record(session, action="a_b.one", actor="root")
        await audit.record(session, action="axb.two", actor="root")

        assert ["a_b.one"] == await actions_found(session, AuditSearch(action="a_b"))

    async def test_by_actor_and_combined(self, session, trail):
        """Only boss's entries; with an action too, only that one."""
        assert ["recording.download", "recording.listen"] == await actions_found(
            session, AuditSearch(actor="boss")
        )
        assert ["recording.listen"] == await actions_found(
            session, AuditSearch(action="recording.listen", actor="boss")
        )

    async def test_paging_keeps_the_total(self, session, trail):
        """Pages of two in a stable order; the total counts every match."""
        total, first = await search_audit(session, AuditSearch(), offset=0, limit=2)
        _, last = await search_audit(session, AuditSearch(), offset=4, limit=2)

        assert 5 == total
        assert ["dialplan.apply", "recordingx.other"] == [entry.action for entry in first]
        assert ["recording.listen"] == [entry.action for entry in last]


class TestFilterChoices:
    async def test_distinct_actions_and_actors_sorted(self, session, trail):
        """Each action and each actor once, sorted."""
        assert [
            "dialplan.apply",
            "recording.denied",
            "recording.download",
            "recording.listen",
            "recordingx.other",
        ] == await action_names(session)
        assert ["boss", "petr", "root"] == await actor_names(session)
