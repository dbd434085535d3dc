"""One 20 ms clock per engine for everything that sends generated audio (players, conference mixers).

A single timer chain serves every player and room, and it keeps to the wall clock: a late tick is
followed by an early one, so the packet rate stays 50 per second; after a stall longer than
``MAX_LAG`` it starts over instead of bursting the backlog at the phones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

__all__ = ["TICK", "Ticker"]

log = structlog.get_logger(__name__)

TICK = 0.02
MAX_LAG = 0.2


class Ticker:
    """Call every subscriber once per 20 ms tick while there is at least one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._subscribers: dict[Callable[[], None], None] = {}  # ordered, so ticks run in join order
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0.0

    def add(self, subscriber: Callable[[], None]) -> None:
        """Start calling *subscriber* on every tick."""
        self._subscribers[subscriber] = None
        if self._handle is None:
            self._next = self._loop.time() + TICK
            self._handle = self._loop.call_at(self._next, self._tick)

    def discard(self, subscriber: Callable[[], None]) -> None:
        """Stop calling *subscriber*; the clock stops at its next tick when nobody is left."""
        self._subscribers.pop(subscriber, None)

    def stop(self) -> None:
        """Drop every subscriber and stop the clock now."""
        self._subscribers.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber()
            except Exception:  # one broken player must not silence every other call
                log.exception("media_tick_failed", subscriber=repr(subscriber))
        if not self._subscribers:
            self._handle = None
            return
        self._next += TICK
        now = self._loop.time()
        if now - self._next > MAX_LAG:
            self._next = now + TICK
        self._handle = self._loop.call_at(self._next, self._tick)
