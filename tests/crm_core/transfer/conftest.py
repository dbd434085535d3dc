"""Import/export fixtures: users of two teams, their principals, and files made on the fly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_core.models import User
from crm_core.rights import DEFAULT_GRANTS, Principal
from crm_core.transfer.mapping import ImportKind, build_mapping, guess_mapping
from crm_core.transfer.readers import SourceTable, read_csv


@dataclass(frozen=True)
class People:
    admin: Principal
    agent: Principal
    "ivanov: an agent (add/update own cards, read the department's, no export)."
    colleague_id: int
    "petrov, in ivanov's department."
    supervisor: Principal


@pytest.fixture(name="people")
async def _people(session) -> People:
    users = {
        login: User(login=login, name=name, role=role)
        for login, name, role in (
            ("admin", "Administrator", "admin"),
            ("ivanov", "Ivan Ivanov", "agent"),
            ("petrov", "Petr Petrov", "agent"),
            ("boss", "Big Boss", "supervisor"),
        )
    }
    session.add_all(users.values())
    await session.flush()
    team = frozenset({users["ivanov"].id, users["petrov"].id, users["boss"].id})
    return People(
        admin=Principal(users["admin"].id, "admin", DEFAULT_GRANTS["admin"]),
        agent=Principal(users["ivanov"].id, "ivanov", DEFAULT_GRANTS["agent"], team_ids=team),
        colleague_id=users["petrov"].id,
        supervisor=Principal(users["boss"].id, "boss", DEFAULT_GRANTS["supervisor"], team_ids=team),
    )


def csv_table(text: str, name: str = "import.csv") -> SourceTable:
    return read_csv(name, text.encode())


def mapping_for(kind: ImportKind, table: SourceTable, **pairs: str):
    """The guessed mapping of *table*, with *pairs* (column=field) on top."""
    return build_mapping(kind, table.headers, {**guess_mapping(kind, table.headers), **pairs})
