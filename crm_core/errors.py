"""Errors the CRM raises on purpose; ``error_id`` is stable and safe to show to API clients."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BadValue",
    "Conflict",
    "CrmError",
    "ExcludedValue",
    "Invalid",
    "NotFound",
    "SeedError",
    "UserExists",
]


class CrmError(Exception):
    """Base class of every CRM error; the web layer maps ``error_id`` to a status."""

    error_id = "crm-error"

    def details(self) -> dict[str, object]:
        """Machine-readable facts about the error (safe to show: no secrets)."""
        return {}


class NotFound(CrmError):
    """No *entity* with this key."""

    error_id = "not-found"

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"No {entity} {key!r}")
        self.entity = entity
        self.key = key

    def details(self) -> dict[str, object]:
        return {"entity": self.entity, "key": self.key}


class Conflict(CrmError):
    """The change would break a uniqueness rule."""

    error_id = "conflict"


class UserExists(Conflict):
    """A user already has this login or extension."""

    error_id = "user-exists"

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"A user with {field} {value!r} already exists")
        self.field = field
        self.value = value

    def details(self) -> dict[str, object]:
        return {"field": self.field, "value": self.value}


class Invalid(CrmError):
    """A value is not one the CRM accepts (an unknown role, status...)."""

    error_id = "invalid"

    def __init__(self, field: str, value: object, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{field}: {value!r} is not one of {', '.join(allowed)}")
        self.field = field
        self.value = value
        self.allowed = allowed

    def details(self) -> dict[str, object]:
        return {"field": self.field, "value": self.value, "allowed": list(self.allowed)}


class BadValue(Invalid):
    """A field's value breaks a rule; the message names the field and says why
    (``phones[1]: '12ab' is not a phone number``, ``parent_id: would make a cycle``)."""

    def __init__(self, field: str, value: object, message: str, allowed: Sequence[str] = ()) -> None:
        super().__init__(field, value, tuple(allowed))
        self.args = (f"{field}: {message}",)


class ExcludedValue(Invalid):
    """A phone or e-mail on the exclusion list or among ``crm.own_numbers``: no card may carry it.

    *value* is the normalised form (E.164, lower-case e-mail); *reason* is the list's reason
    (``own_number``, ``excluded``, ``partner``...).
    """

    error_id = "excluded-value"

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(field, value, ())
        self.reason = reason
        self.args = (f"{field}: {value} is on the exclusion list ({reason})",)

    def details(self) -> dict[str, object]:
        return {"field": self.field, "value": self.value, "reason": self.reason}


class SeedError(CrmError):
    """The seed data is invalid; one line per problem, each naming its place (``contacts[0].company``)."""

    error_id = "seed-invalid"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def details(self) -> dict[str, object]:
        return {"problems": list(self.problems)}
