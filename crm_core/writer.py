"""CallLogWriter: the bus subscriber that logs each finished call into the CRM, one session per call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CrmSettings
from cti.events import CallEnded
from cti.model import Call

from .calllog import CrmOutcome, record_call

if TYPE_CHECKING:
    from cti.bus import Notice, Subscription

__all__ = ["CallLogWriter"]

log = structlog.get_logger(__name__)

RETRY_PAUSES = (0.5, 2.0, 8.0)
"Seconds between tries when the database is unreachable or locked (then the call is logged as lost)."


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

    async def _record(self, call: Call) -> CrmOutcome | None:
        """Write one call; a database that is down or locked gets a few more tries, then a loud log."""
        failure: Exception | None = None
        for attempt, pause in enumerate((*RETRY_PAUSES, None), start=1):
            try:
                async with self._sessionmaker() as session:
                    outcome = await record_call(session, call, pbx_id=self._pbx_id, settings=self._settings)
                    await session.commit()
                return outcome
            except (OperationalError, InterfaceError) as exc:  # connection lost, database locked
                failure = exc
                if pause is None:
                    break
                log.warning("call_log_retry", call_id=call.call_id, attempt=attempt, error=str(exc.orig))
                await asyncio.sleep(pause)
            except Exception as exc:
                failure = exc
                break
        self.failed += 1
        log.error("call_log_failed", pbx_id=self._pbx_id, call_id=call.call_id, exc_info=failure)
        return None

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
        outcome = await self._record(call)
        if outcome is None:
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
