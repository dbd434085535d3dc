"""The organisation services: departments (a tree kept a tree), access roles, users' admin tools."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

import crm_core.models
from crm_core.access import load_principal
from crm_core.crud import ListQuery
from crm_core.db import Base
from crm_core.errors import NotFound
from crm_core.migrate import alembic_config, upgrade
from crm_core.models import AccessGrant, AccessRole, DepartmentMember
from crm_core.org import (
    AdminOnly,
    BadValue,
    DepartmentResource,
    InUse,
    RoleExists,
    RoleResource,
    set_user_department,
    set_user_roles,
    user_role_names,
)
from crm_core.org.schemas import DepartmentCreate, DepartmentUpdate, RoleCreate, RoleUpdate
from crm_core.rights import SYSTEM, Action, Entity, Level
from crm_core.users import LastAdmin, create_user, list_users, set_active

ORG_TABLES = {
    "department",
    "department_member",
    "access_role",
    "access_grant",
    "user_access_role",
    "api_token",
}
DEPARTMENTS = DepartmentResource()
ROLES = RoleResource()


@pytest.fixture(name="people")
async def _people(session):
    """An admin and an agent, with their principals."""
    admin = await create_user(session, login="root", name="Root", password=None, role="admin")
    agent = await create_user(session, login="ivan", name="Ivan", password=None)
    return {
        "admin": admin,
        "agent": agent,
        "as_admin": await load_principal(session, admin.id),
        "as_agent": await load_principal(session, agent.id),
    }


async def _tree(session, principal):
    sales = await DEPARTMENTS.create(session, principal, DepartmentCreate(name="Sales"))
    moscow = await DEPARTMENTS.create(session, principal, DepartmentCreate(name="Moscow", parent_id=sales.id))
    return sales, moscow


class TestSchema:
    async def test_org_tables_match_the_models(self, engine):
        """
        Autogenerate finds no difference in the tables of revision 0004.
        """
        assert crm_core.models.__all__
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )

        assert [] == [d for d in diff if any(table in repr(d) for table in ORG_TABLES)]

    async def test_downgrade_to_0003_and_up_again(self, blank_engine):
        """
        0004 downgrades by dropping its tables (app_user untouched) and upgrades again, reseeding.
        """
        engine = blank_engine
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            after_down = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        await upgrade(engine, "0004")
        async with engine.connect() as conn:
            after_up = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            roles = list(await conn.scalars(select(AccessRole.name).order_by(AccessRole.id)))

        assert set() == ORG_TABLES & after_down
        assert ORG_TABLES <= after_up
        assert ["admin", "supervisor", "agent"] == roles

    async def test_grant_values_are_checked_by_the_database(self, session):
        """
        An unknown entity in a grant row is refused by the CHECK constraint, not only by Python.
        """
        agent = await session.scalar(select(AccessRole.id).where(AccessRole.name == "agent"))
        session.add(AccessGrant(role_id=agent, entity="spaceship", action="read", level=1))

        with pytest.raises(IntegrityError, match=r"(?i)check"):
            await session.flush()


class TestDepartments:
    async def test_create_list_and_get(self, session, people):
        """
        An admin builds the tree; anyone lists it, filtered and sorted, with the members of each node.
        """
        sales, moscow = await _tree(session, people["as_admin"])
        await set_user_department(session, people["as_admin"], people["agent"].id, moscow.id)

        page = await DEPARTMENTS.list(
            session, people["as_agent"], ListQuery(filters={"parent_id": str(sales.id)}, sort=["name"])
        )
        got = await DEPARTMENTS.get(session, people["as_agent"], moscow.id)

        assert (1, ["Moscow"]) == (page.total, [d.name for d in page.items])
        assert [people["agent"].id] == got.member_ids
        assert sales.id == got.parent_id

    async def test_only_admins_change_the_tree(self, session, people):
        """
        An agent may not create, change or delete departments, nor move people.
        """
        sales, _ = await _tree(session, people["as_admin"])
        agent = people["as_agent"]

        with pytest.raises(AdminOnly, match="Only an admin may create departments"):
            await DEPARTMENTS.create(session, agent, DepartmentCreate(name="Mine"))
        with pytest.raises(AdminOnly):
            await DEPARTMENTS.update(session, agent, sales.id, DepartmentUpdate(name="Ours"))
        with pytest.raises(AdminOnly):
            await DEPARTMENTS.delete(session, agent, sales.id)
        with pytest.raises(AdminOnly, match="move users between departments"):
            await set_user_department(session, agent, people["agent"].id, sales.id)

    async def test_no_cycles(self, session, people):
        """
        A department cannot move under itself or under one of its sub-departments.
        """
        sales, moscow = await _tree(session, people["as_admin"])

        for parent in (sales.id, moscow.id):
            with pytest.raises(BadValue, match="parent_id: a department cannot move under itself"):
                await DEPARTMENTS.update(
                    session, people["as_admin"], sales.id, DepartmentUpdate(parent_id=parent)
                )

    async def test_move_to_top_and_set_head(self, session, people):
        """
        ``parent_id: null`` makes a department a top one; the head must be an active user.
        """
        _, moscow = await _tree(session, people["as_admin"])

        moved = await DEPARTMENTS.update(
            session,
            people["as_admin"],
            moscow.id,
            DepartmentUpdate(parent_id=None, head_id=people["agent"].id),
        )
        people["agent"].is_active = False
        with pytest.raises(BadValue, match=rf"head_id: user {people['agent'].id} is disabled"):
            await DEPARTMENTS.update(
                session, people["as_admin"], moscow.id, DepartmentUpdate(head_id=people["agent"].id)
            )

        assert (None, people["agent"].id) == (moved.parent_id, moved.head_id)

    async def test_unknown_parent_and_department(self, session, people):
        """
        A parent or department that does not exist is named in the error.
        """
        with pytest.raises(BadValue, match="parent_id: no department with id 77"):
            await DEPARTMENTS.create(session, people["as_admin"], DepartmentCreate(name="X", parent_id=77))
        with pytest.raises(NotFound, match="No department 77"):
            await DEPARTMENTS.get(session, people["as_admin"], 77)

    async def test_delete_only_empty_leaves(self, session, people):
        """
        A department with sub-departments or members is kept, saying why; an empty leaf goes.
        """
        sales, moscow = await _tree(session, people["as_admin"])
        await set_user_department(session, people["as_admin"], people["agent"].id, moscow.id)

        with pytest.raises(InUse, match="it has sub-departments"):
            await DEPARTMENTS.delete(session, people["as_admin"], sales.id)
        with pytest.raises(InUse, match="users belong to it"):
            await DEPARTMENTS.delete(session, people["as_admin"], moscow.id)
        await set_user_department(session, people["as_admin"], people["agent"].id, None)
        await DEPARTMENTS.delete(session, people["as_admin"], moscow.id)

        assert 1 == (await DEPARTMENTS.list(session, SYSTEM, ListQuery())).total
        assert None is await session.get(DepartmentMember, people["agent"].id)

    async def test_a_user_belongs_to_one_department(self, session, people):
        """
        Moving a user replaces their department.
        """
        sales, moscow = await _tree(session, people["as_admin"])
        await set_user_department(session, people["as_admin"], people["agent"].id, sales.id)
        await set_user_department(session, people["as_admin"], people["agent"].id, moscow.id)

        assert [] == (await DEPARTMENTS.get(session, SYSTEM, sales.id)).member_ids
        assert [people["agent"].id] == (await DEPARTMENTS.get(session, SYSTEM, moscow.id)).member_ids


class TestRoles:
    async def test_create_with_grants_and_hold_it(self, session, people):
        """
        A new role's grants reach its holders; names of pairs come back as level names.
        """
        role = await ROLES.create(
            session,
            people["as_admin"],
            RoleCreate(name="exporter", grants={"lead": {"export": "all", "read": "none"}}),
        )
        await set_user_roles(session, people["as_admin"], people["agent"].id, ["exporter"])
        principal = await load_principal(session, people["agent"].id)

        assert {Entity.LEAD: {Action.EXPORT: "all"}} == role.grants
        assert Level.ALL == principal.level(Entity.LEAD, Action.EXPORT)
        assert {people["agent"].id: ["exporter"]} == await user_role_names(session, [people["agent"].id])

    async def test_update_replaces_grants(self, session, people):
        """
        Sending grants replaces them all; a built-in role may be edited but keeps its name.
        """
        agent = await session.scalar(select(AccessRole.id).where(AccessRole.name == "agent"))

        updated = await ROLES.update(
            session, people["as_admin"], agent, RoleUpdate(grants={"contact": {"read": "own"}})
        )
        with pytest.raises(BadValue, match="name: a built-in role keeps its name"):
            await ROLES.update(session, people["as_admin"], agent, RoleUpdate(name="worker"))

        assert {Entity.CONTACT: {Action.READ: "own"}} == updated.grants
        assert Level.NONE == (await load_principal(session, people["agent"].id)).level(
            Entity.LEAD, Action.READ
        )

    async def test_names_are_unique_and_roles_known(self, session, people):
        """
        A taken name and an unknown role given to a user are refused by name.
        """
        await ROLES.create(session, people["as_admin"], RoleCreate(name="exporter"))

        with pytest.raises(RoleExists, match="'exporter' already exists"):
            await ROLES.create(session, people["as_admin"], RoleCreate(name="exporter"))
        with pytest.raises(BadValue, match="roles: no access role named 'boss'") as caught:
            await set_user_roles(session, people["as_admin"], people["agent"].id, ["exporter", "boss"])
        assert ["admin", "agent", "exporter", "supervisor"] == caught.value.details()["allowed"]

    async def test_built_in_roles_cannot_be_deleted(self, session, people):
        """
        Deleting a built-in role is refused; a role of our own goes, and its holders lose it.
        """
        builtin = await session.scalar(select(AccessRole.id).where(AccessRole.name == "supervisor"))
        own = await ROLES.create(session, people["as_admin"], RoleCreate(name="exporter"))
        await set_user_roles(session, people["as_admin"], people["agent"].id, ["exporter"])

        with pytest.raises(InUse, match="it is built in"):
            await ROLES.delete(session, people["as_admin"], builtin)
        await ROLES.delete(session, people["as_admin"], own.id)

        assert {people["agent"].id: []} == await user_role_names(session, [people["agent"].id])

    async def test_only_admins_change_roles(self, session, people):
        """
        An agent reads roles but cannot create them or give themselves one.
        """
        page = await ROLES.list(session, people["as_agent"], ListQuery(filters={"is_builtin": "true"}))

        with pytest.raises(AdminOnly):
            await ROLES.create(session, people["as_agent"], RoleCreate(name="mine"))
        with pytest.raises(AdminOnly, match="change users' access roles"):
            await set_user_roles(session, people["as_agent"], people["agent"].id, ["supervisor"])
        assert 3 == page.total


class TestUsers:
    async def test_list_shows_department_and_roles(self, session, people):
        """
        The admin's list has every user with their department and extra roles, by login.
        """
        sales, _ = await _tree(session, people["as_admin"])
        await set_user_department(session, people["as_admin"], people["agent"].id, sales.id)
        await set_user_roles(session, people["as_admin"], people["agent"].id, ["supervisor"])

        users = await list_users(session)

        assert ["ivan", "root"] == [u.login for u in users]
        assert (sales.id, ("supervisor",)) == (users[0].department_id, users[0].extra_roles)
        assert (None, ()) == (users[1].department_id, users[1].extra_roles)

    async def test_disable_and_enable(self, session, people):
        """
        A disabled user drops out of the active list and comes back when enabled.
        """
        await set_active(session, "ivan", False)
        assert ["root"] == [u.login for u in await list_users(session, include_disabled=False)]

        await set_active(session, "ivan", True)
        assert ["ivan", "root"] == [u.login for u in await list_users(session, include_disabled=False)]

    async def test_last_admin_stays(self, session, people):
        """
        The last active admin cannot be disabled; with a second admin, the first can.
        """
        with pytest.raises(LastAdmin, match="'root' is the last active admin"):
            await set_active(session, "root", False)
        await create_user(session, login="root2", name="Root 2", password=None, role="admin")

        user, _ = await set_active(session, "root", False)

        assert False is user.is_active

    async def test_unknown_login(self, session):
        """
        Disabling a login that does not exist names it.
        """
        with pytest.raises(NotFound, match="No user 'ghost'"):
            await set_active(session, "ghost", False)
