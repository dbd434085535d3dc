"""Who may do what to which CRM records.

Roles grant each (entity, action) pair at a level: none, own (records the user is responsible for),
department (records of anyone in the user's department or the departments under it) or all. A user
with several roles gets the highest level any of them grants. A :class:`Principal` carries the result
for one user, computed once per request, so every check is a dictionary look-up and every list is
one SQL condition on the responsible column: the services enforce rights, so the REST API and every
page obey the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, true

from .errors import CrmError

__all__ = [
    "DEFAULT_GRANTS",
    "SYSTEM",
    "Action",
    "Entity",
    "Forbidden",
    "Grants",
    "Level",
    "Principal",
    "highest",
]


class Entity(StrEnum):
    LEAD = "lead"
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"
    PRODUCT = "product"
    QUOTE = "quote"
    INVOICE = "invoice"
    ACTIVITY = "activity"
    CALL = "call"
    "Calls and their recordings: read = listen, export = download."


class Action(StrEnum):
    READ = "read"
    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


class Level(IntEnum):
    NONE = 0
    OWN = 1
    DEPARTMENT = 2
    ALL = 3


Grants = Mapping[tuple[Entity, Action], Level]


class Forbidden(CrmError):
    """The user's roles do not allow this action on this record (or on this kind of record)."""

    error_id = "forbidden"

    def __init__(self, entity: Entity, action: Action) -> None:
        super().__init__(f"You may not {action.value} this {entity.value}")
        self.entity = entity
        self.action = action

    def details(self) -> dict[str, object]:
        return {"entity": self.entity.value, "action": self.action.value}


def highest(grant_sets: Iterable[Grants]) -> dict[tuple[Entity, Action], Level]:
    """Combine several roles' grants: each pair gets the highest level any role gives it."""
    merged: dict[tuple[Entity, Action], Level] = {}
    for grants in grant_sets:
        for key, level in grants.items():
            if level > merged.get(key, Level.NONE):
                merged[key] = level
    return merged


@dataclass(frozen=True, slots=True)
class Principal:
    """One user's effective rights; ``team_ids`` are the users a department level reaches (self included)."""

    user_id: int | None
    login: str
    grants: Grants = field(default_factory=dict)
    team_ids: frozenset[int] = frozenset()
    is_system: bool = False
    "The daemon and the command line: every right, no owner (call logging, imports run by an admin)."
    is_admin: bool = False
    "An admin user: may also manage users, departments, access roles and other people's API tokens."

    def level(self, entity: Entity, action: Action) -> Level:
        if self.is_system:
            return Level.ALL
        return self.grants.get((entity, action), Level.NONE)

    def can(self, entity: Entity, action: Action, responsible_id: int | None) -> bool:
        """May this user *action* a record of *entity* whose responsible is *responsible_id*?

        A record nobody is responsible for is reachable only with level ``all``.
        """
        level = self.level(entity, action)
        if level is Level.ALL:
            return True
        if responsible_id is None or level is Level.NONE:
            return False
        if level is Level.DEPARTMENT:
            return responsible_id == self.user_id or responsible_id in self.team_ids
        return responsible_id == self.user_id

    def require(self, entity: Entity, action: Action, responsible_id: int | None) -> None:
        """Raise :class:`Forbidden` unless :meth:`can`."""
        if not self.can(entity, action, responsible_id):
            raise Forbidden(entity, action)

    def require_any(self, entity: Entity, action: Action) -> None:
        """Raise :class:`Forbidden` when no level at all is granted (e.g. before an export or a list)."""
        if self.level(entity, action) is Level.NONE:
            raise Forbidden(entity, action)

    def visible(self, entity: Entity, action: Action, responsible: Any) -> ColumnElement[bool]:
        """The SQL condition selecting the records this user may *action*; *responsible* is the column.

        Raises :class:`Forbidden` when nothing at all would be visible, so a list answers 403 rather
        than an empty page that looks like "no records".
        """
        level = self.level(entity, action)
        if level is Level.NONE:
            raise Forbidden(entity, action)
        if level is Level.ALL:
            return true()
        if self.user_id is None:
            return false()
        if level is Level.DEPARTMENT:
            return responsible.in_(sorted(self.team_ids | {self.user_id}))
        return responsible == self.user_id


SYSTEM = Principal(user_id=None, login="system", is_system=True)


def _grants(levels: Mapping[Action, Level], entities: Iterable[Entity] = tuple(Entity)) -> dict:
    return {(entity, action): level for entity in entities for action, level in levels.items()}


_EVERYTHING = {action: Level.ALL for action in Action}
_DEPARTMENT = {action: Level.DEPARTMENT for action in Action}
_AGENT = {
    Action.READ: Level.DEPARTMENT,
    Action.ADD: Level.OWN,
    Action.UPDATE: Level.OWN,
    Action.DELETE: Level.NONE,
    Action.EXPORT: Level.NONE,
}

DEFAULT_GRANTS: Mapping[str, Grants] = {
    "admin": _grants(_EVERYTHING),
    "supervisor": {
        **_grants(_DEPARTMENT),
        **_grants({Action.READ: Level.ALL}, [Entity.PRODUCT]),
    },
    "agent": {
        **_grants(_AGENT),
        **_grants({Action.READ: Level.ALL}, [Entity.PRODUCT]),
        **_grants({Action.READ: Level.OWN, Action.UPDATE: Level.OWN}, [Entity.CALL]),
    },
}
"""The three built-in roles as a fresh install seeds them (admins may edit them, or add roles).

An agent sees the department's cards but changes only their own and never deletes or exports; calls
and recordings are private to the agent who had them. A supervisor does everything within the
department. Products are a shared catalogue everyone may read.
"""
