"""Compute a user's effective rights once per request: the :class:`~crm_core.rights.Principal`.

Grants come from the built-in access role named by ``User.role`` plus the user's extra roles; each
(entity, action) pair takes the highest level any of them grants. ``team_ids`` are the users a
"department" level reaches: the members of the user's department and of every department under
it, and likewise for the departments the user heads (a head is in charge of their department even
when placed in another one). Three queries, whatever the size of the tree.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from sqlalchemy import CTE, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import CrmError
from .models import AccessGrant, AccessRole, Department, DepartmentMember, Role, User, user_access_role
from .rights import Action, Entity, Level, Principal

__all__ = ["Unauthenticated", "department_subtree", "load_principal"]

log = structlog.get_logger(__name__)


class Unauthenticated(CrmError):
    """No active user behind this request (unknown, disabled, or a bad or revoked token)."""

    error_id = "unauthenticated"

    def __init__(self, reason: str = "Log in or send a valid API token") -> None:
        super().__init__(reason)


def _subtree(roots: Select[tuple[int]]) -> CTE:
    """A recursive CTE of the departments *roots* selects and of every department under them.

    ``UNION`` (not ``UNION ALL``) stops at a department already reached, so even a cycle written
    into the table behind the service's back ends the recursion.
    """
    tree = roots.cte("tree", recursive=True)
    return tree.union(select(Department.id).where(Department.parent_id == tree.c.id))


async def department_subtree(session: AsyncSession, roots: Iterable[int]) -> set[int]:
    """The ids of *roots* and of every department under them (one recursive query)."""
    roots = sorted(set(roots))
    if not roots:
        return set()
    tree = _subtree(select(Department.id).where(Department.id.in_(roots)))
    return set(await session.scalars(select(tree.c.id)))


async def load_principal(session: AsyncSession, user_id: int) -> Principal:
    """Return the effective rights of the active user *user_id* (three queries).

    Raises :class:`Unauthenticated` when there is no such user or the user is disabled, so a
    session or token outliving its user grants nothing.
    """
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        log.info("principal_refused", user_id=user_id, reason="unknown" if user is None else "disabled")
        raise Unauthenticated("This user does not exist or is disabled")

    extra_roles = select(user_access_role.c.role_id).where(user_access_role.c.user_id == user_id)
    rows = await session.execute(
        select(AccessGrant.entity, AccessGrant.action, AccessGrant.level)
        .join(AccessRole, AccessRole.id == AccessGrant.role_id)
        .where(or_(AccessRole.name == user.role, AccessRole.id.in_(extra_roles)))
    )
    grants: dict[tuple[Entity, Action], Level] = {}
    for entity, action, level in rows:
        key = (Entity(entity), Action(action))
        grants[key] = max(grants.get(key, Level.NONE), Level(level))

    membership = select(DepartmentMember.department_id).where(DepartmentMember.user_id == user_id)
    own = select(Department.id).where(or_(Department.head_id == user_id, Department.id.in_(membership)))
    tree = _subtree(own)
    team = set(
        await session.scalars(
            select(DepartmentMember.user_id).where(DepartmentMember.department_id.in_(select(tree.c.id)))
        )
    )
    return Principal(
        user_id=user.id,
        login=user.login,
        grants=grants,
        team_ids=frozenset(team | {user_id}),
        is_admin=user.role == Role.ADMIN,
    )
