"""The organisation and who may do what: departments, access roles with their grants, API tokens.

A user belongs to at most one department (a :class:`DepartmentMember` row, keyed by the user);
"department" rights reach the users of that department and of every department under it.
Membership is its own table rather than a column of ``app_user`` because ``department.head_id``
already points at ``app_user``: a column back would make the two tables refer to each other, which
SQLite can only undo by rebuilding ``app_user``, and that rebuild fires the ON DELETE actions of
every table naming a user. A user's rights come from the built-in role named by
``User.role`` plus any extra access roles linked to them; each (entity, action) pair gets the
highest level any of those roles grants (see :mod:`crm_core.rights`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Table,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UtcDateTime, utc_now

__all__ = ["AccessGrant", "AccessRole", "ApiToken", "Department", "DepartmentMember", "user_access_role"]

ENTITY_CHECK = (
    "entity IN ('lead', 'contact', 'company', 'deal', 'product', 'quote', 'invoice', 'activity', 'call')"
)
ACTION_CHECK = "action IN ('read', 'add', 'update', 'delete', 'export')"
LEVEL_CHECK = "level BETWEEN 0 AND 3"


class Department(Base):
    """One node of the company tree; ``head_id`` is the person in charge (not necessarily a member)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    "None for the top of the tree; a department with children or members cannot be deleted."
    head_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())

    def __repr__(self) -> str:
        return f"Department(id={self.id!r}, name={self.name!r}, parent_id={self.parent_id!r})"


class DepartmentMember(Base):
    """The department a user belongs to: at most one, so the user is the key."""

    __tablename__ = "department_member"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"), index=True)
    "A department with members cannot be deleted: move them first."


class AccessRole(Base):
    """A named set of grants; the built-in ones (admin, supervisor, agent) can be edited, not deleted."""

    __tablename__ = "access_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())

    def __repr__(self) -> str:
        return f"AccessRole(id={self.id!r}, name={self.name!r})"


class AccessGrant(Base):
    """One (entity, action) pair a role grants, at a :class:`~crm_core.rights.Level` (0..3).

    A pair without a row is level none.
    """

    __tablename__ = "access_grant"
    __table_args__ = (
        CheckConstraint(ENTITY_CHECK, name="entity"),
        CheckConstraint(ACTION_CHECK, name="action"),
        CheckConstraint(LEVEL_CHECK, name="level"),
    )

    role_id: Mapped[int] = mapped_column(ForeignKey("access_role.id", ondelete="CASCADE"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    action: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)


user_access_role = Table(
    "user_access_role",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "role_id", Integer, ForeignKey("access_role.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)
"Extra access roles of a user, on top of the built-in role named by ``User.role``."


class ApiToken(Base):
    """A bearer token for the REST API: only its SHA-256 is stored, so a database leak reveals none.

    ``prefix`` (the first characters of the token) lets a person tell their tokens apart.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id!r}, user_id={self.user_id!r}, prefix={self.prefix!r})"
