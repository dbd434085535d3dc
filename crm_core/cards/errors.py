"""Errors of the card services, each with a stable ``error_id`` and a message that names the problem."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from ..errors import BadValue, Conflict

__all__ = ["AlreadyConverted", "BadValue", "DuplicatesFound", "InUse"]


class InUse(Conflict):
    """A dictionary entry (lead status or source) cannot go while records or rules use it."""

    error_id = "in-use"

    def __init__(self, what: str, code: str, reason: str) -> None:
        super().__init__(f"{what} {code!r} cannot be removed: {reason}")
        self.what = what
        self.code = code
        self.reason = reason

    def details(self) -> dict[str, object]:
        return {"what": self.what, "code": self.code, "reason": self.reason}


class DuplicatesFound(Conflict):
    """Creating a card would duplicate existing ones; the client picks one or asks to create anyway."""

    error_id = "duplicates-found"

    def __init__(self, entity: str, duplicates: Sequence[BaseModel]) -> None:
        super().__init__(
            f"Possible duplicates of the new {entity}: {len(duplicates)} found; link one or create anyway"
        )
        self.entity = entity
        self.duplicates = list(duplicates)

    def details(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "duplicates": [duplicate.model_dump(mode="json") for duplicate in self.duplicates],
        }


class AlreadyConverted(Conflict):
    """The lead was converted before; its links say to what."""

    error_id = "lead-converted"

    def __init__(self, lead_id: int) -> None:
        super().__init__(f"Lead {lead_id} is already converted")
        self.lead_id = lead_id

    def details(self) -> dict[str, object]:
        return {"lead_id": self.lead_id}
