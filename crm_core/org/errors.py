"""Errors of the organisation services, each with a stable ``error_id`` and a message naming the problem."""

from __future__ import annotations

from ..errors import BadValue, Conflict, CrmError

__all__ = ["AdminOnly", "BadValue", "InUse"]


class AdminOnly(CrmError):
    """Only an admin may change the organisation: users, departments, access roles, others' tokens.

    Answers 403 like :class:`~crm_core.rights.Forbidden`, which describes a refusal on a CRM record.
    """

    error_id = "admin-only"

    def __init__(self, what: str) -> None:
        super().__init__(f"Only an admin may {what}")
        self.what = what

    def details(self) -> dict[str, object]:
        return {"what": self.what}


class InUse(Conflict):
    """A department or role cannot be deleted while something still depends on it."""

    error_id = "in-use"

    def __init__(self, what: str, key: object, reason: str) -> None:
        super().__init__(f"{what} {key!r} cannot be deleted: {reason}")
        self.what = what
        self.key = key
        self.reason = reason

    def details(self) -> dict[str, object]:
        return {"what": self.what, "key": self.key, "reason": self.reason}
