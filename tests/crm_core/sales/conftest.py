"""Sales fixtures: users with the built-in roles and their principals, the seeded pipeline, a helper
to build deals quickly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from crm_core.models import Company, Contact, Role, Stage, User
from crm_core.rights import DEFAULT_GRANTS, SYSTEM, Principal
from crm_core.sales.pipelines import default_pipeline, load_stages
from crm_core.sales.products import ProductsResource
from crm_core.sales.schemas import ProductCreate, ProductOut


@dataclass(frozen=True)
class People:
    """The users of a sales test and what each may do."""

    admin: Principal
    boss: Principal
    "Supervisor of the sales department (ivanov, petrov, boss)."
    ivanov: Principal
    "An agent in the sales department."
    petrov: Principal
    "An agent in the sales department."
    kozlov: Principal
    "An agent of another department."


def principal(user: User, role: str, team: set[int]) -> Principal:
    """The rights a user of *role* gets from the built-in grants, with *team* as their department."""
    return Principal(user_id=user.id, login=user.login, grants=DEFAULT_GRANTS[role], team_ids=frozenset(team))


@pytest.fixture(name="people")
async def _people(session) -> People:
    users = {
        login: User(login=login, name=name, role=role)
        for login, name, role in (
            ("admin", "Administrator", Role.ADMIN),
            ("boss", "Big Boss", Role.SUPERVISOR),
            ("ivanov", "Ivan Ivanov", Role.AGENT),
            ("petrov", "Petr Petrov", Role.AGENT),
            ("kozlov", "Kozma Kozlov", Role.AGENT),
        )
    }
    session.add_all(users.values())
    await session.commit()
    sales = {users["ivanov"].id, users["petrov"].id, users["boss"].id}
    return People(
        admin=principal(users["admin"], "admin", {users["admin"].id}),
        boss=principal(users["boss"], "supervisor", sales),
        ivanov=principal(users["ivanov"], "agent", sales),
        petrov=principal(users["petrov"], "agent", sales),
        kozlov=principal(users["kozlov"], "agent", {users["kozlov"].id}),
    )


@pytest.fixture(name="stages")
async def _stages(session) -> dict[str, Stage]:
    """The default pipeline's stages (seeded by migration 0006), by code."""
    pipeline = await default_pipeline(session)
    return {stage.code: stage for stage in await load_stages(session, pipeline.id)}


@dataclass(frozen=True)
class Client:
    company_id: int
    contact_ids: tuple[int, int]


@pytest.fixture(name="client_cards")
async def _client_cards(session) -> Client:
    """A company with two contacts."""
    company = Company(title="Romashka LLC")
    session.add(company)
    await session.flush()
    anna, boris = Contact(name="Anna Smirnova"), Contact(name="Boris Orlov")
    session.add_all([anna, boris])
    await session.commit()
    return Client(company_id=company.id, contact_ids=(anna.id, boris.id))


@pytest.fixture(name="router")
async def _router(session) -> ProductOut:
    """A catalogue product: 1000.00 a unit, 20 % VAT included."""
    product = await ProductsResource().create(
        session, SYSTEM, ProductCreate(name="Router", price=D("1000.00"), vat_rate=D(20), vat_included=True)
    )
    await session.commit()
    return product
