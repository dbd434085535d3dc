"""Departments: the company tree, each with a head, and who belongs where.

Everybody may read the tree (it is how colleagues find each other); only an admin changes it. The
service keeps the tree a tree: a department cannot move under itself or one of its descendants,
and one with sub-departments or members cannot be deleted until they move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..access import department_subtree
from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import Department, DepartmentMember, User
from ..query import fetch_page
from ..rights import Principal
from .errors import AdminOnly, BadValue, InUse
from .schemas import DepartmentCreate, DepartmentOut, DepartmentUpdate

__all__ = ["DepartmentResource", "members_of", "require_admin", "set_user_department"]

log = structlog.get_logger(__name__)


def require_admin(principal: Principal, what: str) -> None:
    """Raise :class:`AdminOnly` unless the principal is an admin (or the system itself)."""
    if not (principal.is_admin or principal.is_system):
        raise AdminOnly(what)


async def _check_user(session: AsyncSession, field: str, user_id: int | None) -> None:
    if user_id is None:
        return
    active = await session.scalar(select(User.is_active).where(User.id == user_id))
    if active is None:
        raise BadValue(field, user_id, f"no user with id {user_id}")
    if not active:
        raise BadValue(field, user_id, f"user {user_id} is disabled")


async def members_of(session: AsyncSession, department_ids: Sequence[int]) -> dict[int, list[int]]:
    """Member user ids per department (ascending), for the departments given."""
    found: dict[int, list[int]] = {id: [] for id in department_ids}
    if department_ids:
        rows = await session.execute(
            select(DepartmentMember.department_id, DepartmentMember.user_id)
            .where(DepartmentMember.department_id.in_(sorted(set(department_ids))))
            .order_by(DepartmentMember.user_id)
        )
        for department_id, user_id in rows:
            found[department_id].append(user_id)
    return found


async def set_user_department(
    session: AsyncSession, principal: Principal, user_id: int, department_id: int | None
) -> None:
    """Move *user_id* into *department_id* (None: out of every department). Admins only."""
    require_admin(principal, "move users between departments")
    if await session.get(User, user_id) is None:
        raise NotFound("user", user_id)
    if department_id is not None and await session.get(Department, department_id) is None:
        raise BadValue("department_id", department_id, f"no department with id {department_id}")
    member = await session.get(DepartmentMember, user_id)
    if department_id is None:
        if member is not None:
            await session.delete(member)
    elif member is None:
        session.add(DepartmentMember(user_id=user_id, department_id=department_id))
    else:
        member.department_id = department_id
    await session.flush()
    log.info("user_department_set", user_id=user_id, department_id=department_id, by=principal.login)


class DepartmentResource:
    """The departments as a REST resource (``/api/v1/departments``)."""

    path: ClassVar[str] = "departments"
    schema_out: ClassVar[type[DepartmentOut]] = DepartmentOut
    schema_create: ClassVar[type[DepartmentCreate]] = DepartmentCreate
    schema_update: ClassVar[type[DepartmentUpdate]] = DepartmentUpdate
    filterable: ClassVar[Mapping[str, type]] = {"id": int, "name": str, "parent_id": int, "head_id": int}
    sortable: ClassVar[Sequence[str]] = ("id", "name", "parent_id")

    async def list(
        self, session: AsyncSession, principal: Principal, query: ListQuery
    ) -> Page[DepartmentOut]:
        """Every department, filtered, sorted and paged: the tree is no secret inside the company."""
        rows, total = await fetch_page(
            session,
            select(Department),
            Department,
            query,
            filterable=self.filterable,
            sortable=self.sortable,
        )
        return Page(items=await self._out(session, rows), total=total, offset=query.offset, limit=query.limit)

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> DepartmentOut:
        return (await self._out(session, [await self._row(session, id)]))[0]

    async def create(
        self, session: AsyncSession, principal: Principal, data: DepartmentCreate
    ) -> DepartmentOut:
        require_admin(principal, "create departments")
        await self._check_parent(session, None, data.parent_id)
        await _check_user(session, "head_id", data.head_id)
        row = Department(name=data.name, parent_id=data.parent_id, head_id=data.head_id)
        session.add(row)
        await session.flush()
        log.info("department_created", department_id=row.id, parent_id=row.parent_id, by=principal.login)
        return (await self._out(session, [row]))[0]

    async def update(
        self, session: AsyncSession, principal: Principal, id: int, data: DepartmentUpdate
    ) -> DepartmentOut:
        require_admin(principal, "change departments")
        row = await self._row(session, id)
        fields = data.model_fields_set
        if "name" in fields:
            if data.name is None:
                raise BadValue("name", None, "a department needs a name")
            row.name = data.name
        if "parent_id" in fields:
            await self._check_parent(session, id, data.parent_id)
            row.parent_id = data.parent_id
        if "head_id" in fields:
            await _check_user(session, "head_id", data.head_id)
            row.head_id = data.head_id
        await session.flush()
        log.info("department_updated", department_id=id, fields=sorted(fields), by=principal.login)
        return (await self._out(session, [row]))[0]

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        """Delete an empty leaf department; one with sub-departments or members is refused, named."""
        require_admin(principal, "delete departments")
        row = await self._row(session, id)
        if await session.scalar(select(Department.id).where(Department.parent_id == id).limit(1)) is not None:
            raise InUse("department", id, "it has sub-departments; move or delete them first")
        member = select(DepartmentMember.user_id).where(DepartmentMember.department_id == id).limit(1)
        if await session.scalar(member) is not None:
            raise InUse("department", id, "users belong to it; move them first")
        await session.delete(row)
        await session.flush()
        log.info("department_deleted", department_id=id, by=principal.login)

    async def _row(self, session: AsyncSession, id: int) -> Department:
        row = await session.get(Department, id)
        if row is None:
            raise NotFound("department", id)
        return row

    async def _check_parent(self, session: AsyncSession, id: int | None, parent_id: int | None) -> None:
        if parent_id is None:
            return
        if await session.get(Department, parent_id) is None:
            raise BadValue("parent_id", parent_id, f"no department with id {parent_id}")
        if id is not None and parent_id in await department_subtree(session, [id]):
            raise BadValue(
                "parent_id", parent_id, "a department cannot move under itself or its own sub-department"
            )

    async def _out(self, session: AsyncSession, rows: Sequence[Department]) -> list[DepartmentOut]:
        members = await members_of(session, [row.id for row in rows])
        return [
            DepartmentOut(
                id=row.id,
                name=row.name,
                parent_id=row.parent_id,
                head_id=row.head_id,
                member_ids=members[row.id],
            )
            for row in rows
        ]
