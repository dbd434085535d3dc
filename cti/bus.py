"""EventBus: fan events out to subscribers without ever blocking the publisher (the PBX reader)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from .events import CtiEvent
from .model import Call
from .registry import CallRegistry

__all__ = ["EventBus", "Notice", "Subscription"]

log = structlog.get_logger(__name__)

_LOG_EVERY = 1000
"After the first dropped event, log every this many more (the counter keeps the exact total)."


@dataclass(frozen=True, slots=True)
class Notice:
    """What a subscriber receives: the event, and the call as it stood right after it."""

    event: CtiEvent
    call: Call | None


class Subscription:
    """One subscriber's bounded queue; full means the notice is dropped and counted."""

    def __init__(self, name: str, maxsize: int) -> None:
        self.name = name
        self.dropped = 0
        self._queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize)

    def offer(self, notice: Notice) -> None:
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % _LOG_EVERY == 0:
                log.warning(
                    "bus_subscriber_overflow",
                    subscriber=self.name,
                    dropped_total=self.dropped,
                    queue_size=self._queue.maxsize,
                    cti_event=type(notice.event).__name__,
                )

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def get(self) -> Notice:
        return await self._queue.get()

    def get_nowait(self) -> Notice:
        return self._queue.get_nowait()

    def __aiter__(self) -> AsyncIterator[Notice]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Notice]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Apply each event to the registry, then offer it to every subscriber; never awaits."""

    def __init__(self, registry: CallRegistry, *, queue_size: int = 10_000) -> None:
        self.registry = registry
        self.published = 0
        self._queue_size = queue_size
        self._subscriptions: list[Subscription] = []

    def publish(self, event: CtiEvent) -> Call | None:
        call = self.registry.apply(event)
        self.published += 1
        notice = Notice(event=event, call=call)
        for subscription in self._subscriptions:
            subscription.offer(notice)
        return call

    @contextlib.asynccontextmanager
    async def subscribe(self, name: str, *, maxsize: int | None = None) -> AsyncIterator[Subscription]:
        subscription = Subscription(name, maxsize or self._queue_size)
        self._subscriptions.append(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.remove(subscription)

    def stats(self) -> dict[str, tuple[int, int]]:
        """Per subscriber: (notices waiting, notices dropped so far)."""
        return {s.name: (s.pending, s.dropped) for s in self._subscriptions}
