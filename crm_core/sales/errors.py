"""Errors of the sales rules; each message names the field and the rule it breaks."""

from __future__ import annotations

from ..errors import BadValue, Conflict

__all__ = ["BadValue", "InUse", "KeptForTheRecord", "LossReasonRequired"]


class LossReasonRequired(BadValue):
    """A deal may enter a failure stage only with the reason it was lost (the funnel depends on it)."""

    error_id = "loss-reason-required"

    def __init__(self, stage_code: str) -> None:
        super().__init__("loss_reason", None, f"say why the deal was lost to move it to {stage_code}")


class InUse(Conflict):
    """The record cannot be deleted or changed this way while others refer to it."""

    error_id = "in-use"

    def __init__(self, what: str, used_by: str) -> None:
        super().__init__(f"{what} is still used by {used_by}")
        self.what = what
        self.used_by = used_by

    def details(self) -> dict[str, object]:
        return {"what": self.what, "used_by": self.used_by}


class KeptForTheRecord(Conflict):
    """The record is part of the books: it changes status, it is never deleted."""

    error_id = "kept-for-the-record"

    def __init__(self, what: str, instead: str) -> None:
        super().__init__(f"{what} is kept for the record; set its status to {instead} instead of deleting it")
        self.what = what
        self.instead = instead

    def details(self) -> dict[str, object]:
        return {"what": self.what, "instead": self.instead}
