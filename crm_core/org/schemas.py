"""What clients send and get back for departments and access roles."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..rights import Action, Entity, Level

__all__ = [
    "DepartmentCreate",
    "DepartmentOut",
    "DepartmentUpdate",
    "GrantLevels",
    "RoleCreate",
    "RoleOut",
    "RoleUpdate",
]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
LevelName = Literal["none", "own", "department", "all"]
GrantLevels = dict[Entity, dict[Action, LevelName]]
"""``{"lead": {"read": "department", "update": "own"}}``; a pair left out is ``none``."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DepartmentOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    head_id: int | None
    member_ids: list[int] = Field(description="Users who belong to this department (not those under it)")


class DepartmentCreate(_In):
    name: Name
    parent_id: int | None = None
    head_id: int | None = None


class DepartmentUpdate(_In):
    name: Name | None = None
    parent_id: int | None = None
    "Send ``null`` to make the department a top one."
    head_id: int | None = None


class RoleOut(BaseModel):
    id: int
    name: str
    description: str
    is_builtin: bool
    grants: GrantLevels


class RoleCreate(_In):
    name: RoleName
    description: Annotated[str, Field(max_length=500)] = ""
    grants: GrantLevels = Field(default_factory=dict)


class RoleUpdate(_In):
    name: RoleName | None = None
    description: Annotated[str | None, Field(max_length=500)] = None
    grants: GrantLevels | None = None
    "Replaces every grant of the role."


def level_name(level: Level) -> LevelName:
    """``Level.DEPARTMENT`` -> ``"department"``."""
    return level.name.lower()  # type: ignore[return-value]


def parse_level(name: str) -> Level:
    """``"department"`` -> ``Level.DEPARTMENT``."""
    return Level[name.upper()]
