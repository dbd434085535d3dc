"""Access roles: named sets of (entity, action) -> level grants, and which extra roles a user holds.

Every user holds the built-in role named by ``User.role`` (admin, supervisor or agent); extra roles
add to it, never take away: the effective level of a pair is the highest any role gives (see
:func:`crm_core.access.load_principal`). Admins edit roles; the built-in ones can be edited but
not renamed or deleted, since ``User.role`` names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crud import ListQuery, Page
from ..errors import Conflict, NotFound
from ..models import AccessGrant, AccessRole, User, user_access_role
from ..query import fetch_page
from ..rights import Action, Entity, Level, Principal
from .departments import require_admin
from .errors import BadValue, InUse
from .schemas import GrantLevels, RoleCreate, RoleOut, RoleUpdate, level_name, parse_level

__all__ = ["RoleExists", "RoleResource", "set_user_roles", "user_role_names"]

log = structlog.get_logger(__name__)


class RoleExists(Conflict):
    """Another access role already has this name."""

    error_id = "role-exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"An access role named {name!r} already exists")
        self.name = name

    def details(self) -> dict[str, object]:
        return {"name": self.name}


async def user_role_names(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, list[str]]:
    """The extra access roles of each user (names, sorted); the built-in one is ``User.role``."""
    found: dict[int, list[str]] = {id: [] for id in user_ids}
    if user_ids:
        rows = await session.execute(
            select(user_access_role.c.user_id, AccessRole.name)
            .join(AccessRole, AccessRole.id == user_access_role.c.role_id)
            .where(user_access_role.c.user_id.in_(sorted(set(user_ids))))
            .order_by(AccessRole.name)
        )
        for user_id, name in rows:
            found[user_id].append(name)
    return found


async def set_user_roles(
    session: AsyncSession, principal: Principal, user_id: int, role_names: Sequence[str]
) -> list[str]:
    """Give *user_id* exactly these extra roles (by name); return them sorted. Admins only.

    An unknown name is refused with the list of roles that exist; nothing changes then.
    """
    require_admin(principal, "change users' access roles")
    if await session.get(User, user_id) is None:
        raise NotFound("user", user_id)
    wanted = sorted(set(role_names))
    roles = dict((await session.execute(select(AccessRole.name, AccessRole.id))).all())
    unknown = [name for name in wanted if name not in roles]
    if unknown:
        raise BadValue("roles", unknown[0], f"no access role named {unknown[0]!r}", tuple(sorted(roles)))
    await session.execute(delete(user_access_role).where(user_access_role.c.user_id == user_id))
    if wanted:
        await session.execute(
            insert(user_access_role), [{"user_id": user_id, "role_id": roles[name]} for name in wanted]
        )
    await session.flush()
    log.info("user_roles_set", user_id=user_id, roles=wanted, by=principal.login)
    return wanted


def _grant_rows(role_id: int, grants: GrantLevels) -> list[dict[str, object]]:
    return [
        {
            "role_id": role_id,
            "entity": Entity(entity).value,
            "action": Action(action).value,
            "level": int(level),
        }
        for entity, actions in grants.items()
        for action, name in actions.items()
        if (level := parse_level(name)) is not Level.NONE
    ]


class RoleResource:
    """Access roles as a REST resource (``/api/v1/access-roles``): everyone reads, admins write."""

    path: ClassVar[str] = "access-roles"
    schema_out: ClassVar[type[RoleOut]] = RoleOut
    schema_create: ClassVar[type[RoleCreate]] = RoleCreate
    schema_update: ClassVar[type[RoleUpdate]] = RoleUpdate
    filterable: ClassVar[Mapping[str, type]] = {"id": int, "name": str, "is_builtin": bool}
    sortable: ClassVar[Sequence[str]] = ("id", "name")

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[RoleOut]:
        rows, total = await fetch_page(
            session, select(AccessRole), AccessRole, query, filterable=self.filterable, sortable=self.sortable
        )
        return Page(items=await self._out(session, rows), total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> RoleOut:
        return (await self._out(session, [await self._row(session, id)]))[0]

    async def create(self, session: AsyncSession, principal: Principal, data: RoleCreate) -> RoleOut:
        require_admin(principal, "create access roles")
        await self._check_name(session, data.name)
        row = AccessRole(name=data.name, description=data.description, is_builtin=False)
        session.add(row)
        await session.flush()
        rows = _grant_rows(row.id, data.grants)
        if rows:
            await session.execute(insert(AccessGrant), rows)
        log.info("access_role_created", role_id=row.id, name=row.name, grants=len(rows), by=principal.login)
        return (await self._out(session, [row]))[0]

    async def update(self, session: AsyncSession, principal: Principal, id: int, data: RoleUpdate) -> RoleOut:
        require_admin(principal, "change access roles")
        row = await self._row(session, id)
        fields = data.model_fields_set
        if "name" in fields and data.name != row.name:
            if row.is_builtin or data.name is None:
                raise BadValue(
                    "name", data.name, "a built-in role keeps its name (users' role field names it)"
                )
            await self._check_name(session, data.name)
            row.name = data.name
        if "description" in fields:
            row.description = data.description or ""
        if "grants" in fields:
            await session.execute(delete(AccessGrant).where(AccessGrant.role_id == id))
            rows = _grant_rows(id, data.grants or {})
            if rows:
                await session.execute(insert(AccessGrant), rows)
        await session.flush()
        log.info("access_role_updated", role_id=id, fields=sorted(fields), by=principal.login)
        return (await self._out(session, [row]))[0]

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        """Delete a role of our own making; users holding it simply lose it."""
        require_admin(principal, "delete access roles")
        row = await self._row(session, id)
        if row.is_builtin:
            raise InUse("access role", row.name, "it is built in: users' role field names it")
        await session.delete(row)
        await session.flush()
        log.info("access_role_deleted", role_id=id, name=row.name, by=principal.login)

    async def _row(self, session: AsyncSession, id: int) -> AccessRole:
        row = await session.get(AccessRole, id)
        if row is None:
            raise NotFound("access role", id)
        return row

    async def _check_name(self, session: AsyncSession, name: str) -> None:
        if await session.scalar(select(AccessRole.id).where(AccessRole.name == name)) is not None:
            raise RoleExists(name)

    async def _out(self, session: AsyncSession, rows: Sequence[AccessRole]) -> list[RoleOut]:
        grants: dict[int, GrantLevels] = {row.id: {} for row in rows}
        if rows:
            found = await session.execute(
                select(AccessGrant.role_id, AccessGrant.entity, AccessGrant.action, AccessGrant.level)
                .where(AccessGrant.role_id.in_([row.id for row in rows]))
                .order_by(AccessGrant.role_id, AccessGrant.entity, AccessGrant.action)
            )
            for role_id, entity, action, level in found:
                grants[role_id].setdefault(Entity(entity), {})[Action(action)] = level_name(Level(level))
        return [
            RoleOut(
                id=row.id,
                name=row.name,
                description=row.description,
                is_builtin=row.is_builtin,
                grants=grants[row.id],
            )
            for row in rows
        ]
