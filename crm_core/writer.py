"""CallLogWriter: the bus subscriber that logs each finished call into the CRM, one session per call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CrmSettings
from cti.events import CallEnded
from cti.model import Call

from .calllog import CrmOutcome, record_call

if TYPE_CHECKING:
    from cti.bus import Notice, Subscription

__all__ = ["CallLogWriter"]

log = structlog.get_logger(__name__)


class CallLogWriter:
    """Record every ``CallEnded`` call of one PBX; a failure costs that call only, never the loop."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        pbx_id: str,
        settings: CrmSettings,
        on_recorded: Callable[[Call, CrmOutcome], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._pbx_id = pbx_id
        self._settings = settings
        self._on_recorded = on_recorded
        self.logged = 0
        "Calls recorded (committed) so far."
        self.failed = 0
        "Calls whose recording raised."

    async def run(self, subscription: Subscription) -> None:
        """Consume *subscription* until cancelled.

        A cancel lets the call being written finish first: cancelling mid-write would roll it back,
        and at shutdown that is precisely the call that just ended.
        """
        while True:
            notice = await subscription.get()
            writing = asyncio.ensure_future(self.handle(notice))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                await writing
                raise

    async def drain(self, subscription: Subscription) -> int:
        """Handle every notice queued right now, then return how many calls were recorded."""
        before = self.logged
        while True:
            try:
                notice = subscription.get_nowait()
            except asyncio.QueueEmpty:
                return self.logged - before
            await self.handle(notice)

    async def handle(self, notice: Notice) -> CrmOutcome | None:
        """Record the call of a ``CallEnded`` notice; ignore every other notice."""
        call = notice.call
        if not isinstance(notice.event, CallEnded) or call is None:
            return None
        try:
            async with self._sessionmaker() as session:
                outcome = await record_call(session, call, pbx_id=self._pbx_id, settings=self._settings)
                await session.commit()
        except Exception:
            self.failed += 1
            log.exception("call_log_failed", pbx_id=self._pbx_id, call_id=call.call_id)
            return None
        self.logged += 1
        log.info(
            "call_logged",
            pbx_id=self._pbx_id,
            call_id=call.call_id,
            entity=outcome.entity,
            id=outcome.id,
            created=outcome.created,
        )
        if self._on_recorded is not None:
            try:
                self._on_recorded(call, outcome)
            except Exception:
                log.exception("call_log_callback_failed", pbx_id=self._pbx_id, call_id=call.call_id)
        return outcome
