"""Errors cti raises on purpose. Adapters wrap library errors into these (``raise ... from exc``)."""

from __future__ import annotations

__all__ = ["CtiError", "NoSuchCall", "PbxActionFailed", "PbxUnavailable"]


class CtiError(Exception):
    """Base class; ``error_id`` is stable and safe to show to API clients."""

    error_id = "cti-error"

    def details(self) -> dict[str, object]:
        return {}


class NoSuchCall(CtiError):
    error_id = "no-such-call"

    def __init__(self, call_id: str) -> None:
        super().__init__(f"No such call: {call_id}")
        self.call_id = call_id

    def details(self) -> dict[str, object]:
        return {"call_id": self.call_id}


class PbxUnavailable(CtiError):
    """The PBX could not be reached, or did not answer in time."""

    error_id = "pbx-unavailable"


class PbxActionFailed(CtiError):
    """The PBX answered, and said no."""

    error_id = "pbx-action-failed"

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"The PBX refused {action}: {reason}")
        self.action = action
        self.reason = reason

    def details(self) -> dict[str, object]:
        return {"action": self.action, "reason": self.reason}
