"""Card fixtures: three users with the built-in roles, their principals, and a few cards."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from crm_core.cards.companies import CompaniesResource
from crm_core.cards.contacts import ContactsResource
from crm_core.cards.leads import LeadsResource
from crm_core.models import Role, User
from crm_core.rights import DEFAULT_GRANTS, Principal


@dataclass(frozen=True)
class People:
    """The users of a card test and what each may do."""

    admin: Principal
    ivanov: Principal
    "An agent in the sales department, with petrov."
    petrov: Principal
    "An agent in the sales department, with ivanov."
    kozlov: Principal
    "An agent of another department."


def principal(user: User, role: str, team: set[int]) -> Principal:
    """The rights a user of *role* gets from the built-in grants, with *team* as their department."""
    return Principal(user_id=user.id, login=user.login, grants=DEFAULT_GRANTS[role], team_ids=frozenset(team))


@pytest.fixture(name="people")
async def _people(session) -> People:
    users = {
        login: User(login=login, name=name, role=role, extension=ext)
        for login, name, role, ext in (
            ("admin", "Administrator", Role.ADMIN, None),
            ("ivanov", "Ivan Ivanov", Role.AGENT, "101"),
            ("petrov", "Petr Petrov", Role.AGENT, "102"),
            ("kozlov", "Kozma Kozlov", Role.AGENT, "201"),
        )
    }
    session.add_all(users.values())
    await session.commit()
    sales = {users["ivanov"].id, users["petrov"].id}
    return People(
        admin=principal(users["admin"], "admin", {users["admin"].id}),
        ivanov=principal(users["ivanov"], "agent", sales),
        petrov=principal(users["petrov"], "agent", sales),
        kozlov=principal(users["kozlov"], "agent", {users["kozlov"].id}),
    )


@pytest.fixture(name="contacts")
def _contacts() -> ContactsResource:
    return ContactsResource(region="RU")


@pytest.fixture(name="companies")
def _companies() -> CompaniesResource:
    return CompaniesResource(region="RU")


@pytest.fixture(name="leads")
def _leads() -> LeadsResource:
    return LeadsResource(region="RU")
