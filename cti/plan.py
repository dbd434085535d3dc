"""The dialplan the daemon runs right now, swapped whole and atomically; pure (no I/O).

Readers take ``running.current`` once and use that snapshot for the whole call: a swap replaces the
one attribute with a new frozen snapshot, so a reader never sees half of an old plan and half of a
new one, and nothing needs a lock. Subscribers (the PBX adapters) are told after every swap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from config.dialplan_spec import DialplanSpec

__all__ = ["EMPTY_PLAN", "PlanListener", "PlanSnapshot", "RunningPlan", "text_sha256"]

log = structlog.get_logger(__name__)


def text_sha256(text: str) -> str:
    """Hex SHA-256 of *text* in UTF-8: the identity of a dialplan's content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PlanSnapshot:
    """One plan as it runs: the parsed spec, the YAML it came from, and its place in the history."""

    spec: DialplanSpec
    text: str
    sha256: str
    version: int | None
    "The history's version id; None for the empty plan or when the database could not be written."

    @property
    def is_empty(self) -> bool:
        return not self.text


EMPTY_PLAN = PlanSnapshot(spec=DialplanSpec(), text="", sha256=text_sha256(""), version=None)
"What runs before any dialplan was loaded: no extensions, no routes (every call is refused)."

PlanListener = Callable[[PlanSnapshot, PlanSnapshot], None]
"Called with (old, new) after a swap; it must not block (schedule async work instead)."


class RunningPlan:
    """Hold the current :class:`PlanSnapshot`; :meth:`swap` replaces it in one assignment."""

    def __init__(self, initial: PlanSnapshot = EMPTY_PLAN) -> None:
        self._current = initial
        self._listeners: list[PlanListener] = []

    @property
    def current(self) -> PlanSnapshot:
        """The snapshot running now; keep it for the duration of one decision."""
        return self._current

    @property
    def spec(self) -> DialplanSpec:
        return self._current.spec

    @property
    def text(self) -> str:
        return self._current.text

    @property
    def sha256(self) -> str:
        return self._current.sha256

    @property
    def version(self) -> int | None:
        return self._current.version

    def swap(self, spec: DialplanSpec, text: str, version: int | None) -> PlanSnapshot:
        """Make *spec* (parsed from *text*) the running plan, then tell the subscribers.

        The caller has validated *spec*; this cannot fail. A subscriber that raises is logged and
        does not stop the others (the new plan runs regardless).
        """
        new = PlanSnapshot(spec=spec, text=text, sha256=text_sha256(text), version=version)
        old, self._current = self._current, new
        log.info("dialplan_swapped", version=version, sha256=new.sha256[:12], previous=old.version)
        for listener in tuple(self._listeners):
            try:
                listener(old, new)
            except Exception:
                log.exception("dialplan_listener_failed", listener=getattr(listener, "__qualname__", "?"))
        return new

    def subscribe(self, listener: PlanListener) -> Callable[[], None]:
        """Call *listener* after every swap; return the function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe
