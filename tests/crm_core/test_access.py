"""load_principal: grants from the built-in and extra roles (highest wins), the department team."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from crm_core.access import Unauthenticated, department_subtree, load_principal
from crm_core.models import AccessGrant, AccessRole, Department, DepartmentMember, Lead, user_access_role
from crm_core.rights import DEFAULT_GRANTS, SYSTEM, Action, Entity, Forbidden, Level
from crm_core.users import create_user


async def _user(session, login, role="agent", department=None):
    user = await create_user(session, login=login, name=login.title(), password=None, role=role)
    if department is not None:
        session.add(DepartmentMember(user_id=user.id, department_id=department.id))
        await session.flush()
    return user


async def _department(session, name, parent=None, head=None):
    row = Department(name=name, parent_id=parent.id if parent else None, head_id=head.id if head else None)
    session.add(row)
    await session.flush()
    return row


async def _role(session, name, grants):
    role = AccessRole(name=name, description="")
    session.add(role)
    await session.flush()
    await session.execute(
        insert(AccessGrant),
        [
            {"role_id": role.id, "entity": e.value, "action": a.value, "level": int(level)}
            for (e, a), level in grants.items()
        ],
    )
    return role


@pytest.fixture(name="org")
async def _org(session):
    """Sales > Sales Moscow > Moscow night shift; Support beside. Heads and members as named."""
    boss = await _user(session, "boss", role="supervisor")
    sales = await _department(session, "Sales", head=boss)
    moscow = await _department(session, "Sales Moscow", parent=sales)
    night = await _department(session, "Moscow night shift", parent=moscow)
    support = await _department(session, "Support")
    users = {
        "boss": boss,
        "anna": await _user(session, "anna", department=sales),
        "ivan": await _user(session, "ivan", department=moscow),
        "olga": await _user(session, "olga", department=night),
        "petr": await _user(session, "petr", department=support),
        "lone": await _user(session, "lone"),
    }
    return {"sales": sales, "moscow": moscow, "night": night, "support": support, **users}


class TestBuiltInRoles:
    async def test_migration_seeds_the_default_grants(self, session):
        """
        The three built-in roles hold exactly DEFAULT_GRANTS (pairs at level none have no row).
        """
        for name, grants in DEFAULT_GRANTS.items():
            rows = await session.execute(
                select(AccessGrant.entity, AccessGrant.action, AccessGrant.level)
                .join(AccessRole)
                .where(AccessRole.name == name, AccessRole.is_builtin.is_(True))
            )
            stored = {(Entity(e), Action(a)): Level(level) for e, a, level in rows}
            assert {k: v for k, v in grants.items() if v > Level.NONE} == stored

    async def test_user_gets_the_role_named_by_their_role_field(self, session, org):
        """
        An agent's principal carries the agent grants: reads the department, changes their own.
        """
        principal = await load_principal(session, org["ivan"].id)

        assert Level.DEPARTMENT == principal.level(Entity.LEAD, Action.READ)
        assert Level.OWN == principal.level(Entity.LEAD, Action.UPDATE)
        assert Level.NONE == principal.level(Entity.LEAD, Action.DELETE)
        assert Level.ALL == principal.level(Entity.PRODUCT, Action.READ)
        assert "ivan" == principal.login
        assert False is principal.is_admin

    async def test_admin_gets_everything_and_the_admin_flag(self, session):
        """
        An admin's principal reaches every record and may manage the organisation.
        """
        admin = await _user(session, "root", role="admin")

        principal = await load_principal(session, admin.id)

        assert all(Level.ALL == principal.level(e, a) for e in Entity for a in Action)
        assert True is principal.is_admin

    async def test_edited_built_in_role_changes_its_users(self, session, org):
        """
        Grants live in the database: an admin's edit of the agent role applies to every agent.
        """
        agent = await session.scalar(select(AccessRole).where(AccessRole.name == "agent"))
        grant = await session.get(AccessGrant, (agent.id, "lead", "delete"))
        assert None is grant
        session.add(AccessGrant(role_id=agent.id, entity="lead", action="delete", level=int(Level.OWN)))
        await session.flush()

        principal = await load_principal(session, org["anna"].id)

        assert Level.OWN == principal.level(Entity.LEAD, Action.DELETE)


class TestSeveralRoles:
    async def test_highest_level_wins_per_pair(self, session, org):
        """
        An extra role raises the pairs it grants higher and leaves the others as the base role has them.
        """
        exporter = await _role(
            session,
            "exporter",
            {(Entity.LEAD, Action.EXPORT): Level.ALL, (Entity.LEAD, Action.READ): Level.OWN},
        )
        await session.execute(insert(user_access_role).values(user_id=org["ivan"].id, role_id=exporter.id))

        principal = await load_principal(session, org["ivan"].id)

        assert Level.ALL == principal.level(Entity.LEAD, Action.EXPORT)
        assert Level.DEPARTMENT == principal.level(Entity.LEAD, Action.READ)
        assert Level.NONE == principal.level(Entity.DEAL, Action.EXPORT)

    async def test_extra_roles_of_others_do_not_leak(self, session, org):
        """
        A role linked to one user changes nobody else's rights.
        """
        exporter = await _role(session, "exporter", {(Entity.LEAD, Action.EXPORT): Level.ALL})
        await session.execute(insert(user_access_role).values(user_id=org["ivan"].id, role_id=exporter.id))

        principal = await load_principal(session, org["anna"].id)

        assert Level.NONE == principal.level(Entity.LEAD, Action.EXPORT)


class TestTeam:
    async def test_department_and_everything_under_it(self, session, org):
        """
        A member of Sales reaches Sales, Sales Moscow and its night shift, not Support.
        """
        principal = await load_principal(session, org["anna"].id)

        assert frozenset({org[n].id for n in ("anna", "ivan", "olga")}) == principal.team_ids

    async def test_lower_department_does_not_reach_up(self, session, org):
        """
        A member of Sales Moscow reaches the night shift under it, never Sales above it.
        """
        principal = await load_principal(session, org["ivan"].id)

        assert frozenset({org["ivan"].id, org["olga"].id}) == principal.team_ids

    async def test_head_reaches_the_department_they_head(self, session, org):
        """
        The head of Sales belongs to no department and still reaches all of Sales.
        """
        principal = await load_principal(session, org["boss"].id)

        assert frozenset({org[n].id for n in ("boss", "anna", "ivan", "olga")}) == principal.team_ids

    async def test_user_without_department_has_only_themselves(self, session, org):
        """
        Someone in no department reaches only their own records at the department level.
        """
        principal = await load_principal(session, org["lone"].id)

        assert frozenset({org["lone"].id}) == principal.team_ids

    async def test_subtree_survives_a_cycle(self, session, org):
        """
        Even a cycle written behind the service's back ends the recursive query.
        """
        org["sales"].parent_id = org["night"].id
        await session.flush()

        found = await department_subtree(session, [org["moscow"].id])

        assert {org[n].id for n in ("sales", "moscow", "night")} == found


class TestVisibility:
    async def test_department_level_lists_only_the_team_records(self, session, org):
        """
        The SQL condition of a department-level read selects the team's leads, not the others'.
        """
        for owner in ("anna", "ivan", "olga", "petr", "lone"):
            session.add(Lead(title=f"lead of {owner}", responsible_id=org[owner].id))
        session.add(Lead(title="nobody's", responsible_id=None))
        await session.flush()
        principal = await load_principal(session, org["ivan"].id)

        titles = await session.scalars(
            select(Lead.title)
            .where(principal.visible(Entity.LEAD, Action.READ, Lead.responsible_id))
            .order_by(Lead.title)
        )

        assert ["lead of ivan", "lead of olga"] == list(titles)

    async def test_own_level_checks_single_records(self, session, org):
        """
        With "own" update rights, an agent may change their lead and not a teammate's.
        """
        principal = await load_principal(session, org["ivan"].id)

        principal.require(Entity.LEAD, Action.UPDATE, org["ivan"].id)
        with pytest.raises(Forbidden, match="You may not update this lead"):
            principal.require(Entity.LEAD, Action.UPDATE, org["olga"].id)


class TestRefusals:
    async def test_unknown_user(self, session):
        """
        A user id that does not exist gets no principal.
        """
        with pytest.raises(Unauthenticated, match="does not exist or is disabled"):
            await load_principal(session, 4242)

    async def test_disabled_user(self, session, org):
        """
        A disabled user gets no principal, so an old session or token grants nothing.
        """
        org["anna"].is_active = False
        await session.flush()

        with pytest.raises(Unauthenticated) as caught:
            await load_principal(session, org["anna"].id)

        assert "unauthenticated" == caught.value.error_id

    def test_system_principal_is_unchanged(self):
        """
        The daemon's principal still reaches everything and is not an admin user.
        """
        assert Level.ALL == SYSTEM.level(Entity.DEAL, Action.DELETE)
        assert False is SYSTEM.is_admin
