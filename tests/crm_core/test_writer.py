"""CallLogWriter: logs CallEnded calls from a bus subscription, one session each, never dying."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from crm_core.models import CallActivity
from crm_core.writer import CallLogWriter
from cti.bus import Notice, Subscription
from cti.events import CallAnswered, CallEnded
from cti.model import Disposition

from .factories import T0, count, make_call


def ended(call) -> Notice:
    return Notice(event=CallEnded(call_id=call.call_id, at=T0, disposition=call.disposition), call=call)


class TestDrain:
    async def test_logs_only_ended_calls_and_reports_them(self, sessionmaker, session, settings):
        """
        Only CallEnded notices with a call are logged; on_recorded hears each one.
        """
        heard = []
        writer = CallLogWriter(
            sessionmaker,
            pbx_id="main",
            settings=settings,
            on_recorded=lambda c, o: heard.append((c.call_id, o)),
        )
        subscription = Subscription("crm", 10)
        first, second = make_call("c1"), make_call("c2", external="+79991112234")
        subscription.offer(Notice(event=CallAnswered(call_id=first.call_id, at=T0, by="101"), call=first))
        subscription.offer(ended(first))
        subscription.offer(
            Notice(event=CallEnded(call_id="c3", at=T0, disposition=Disposition.MISSED), call=None)
        )
        subscription.offer(ended(second))

        with capture_logs() as logs:
            logged = await writer.drain(subscription)

        assert 2 == logged
        assert ["c1", "c2"] == [call_id for call_id, _ in heard]
        assert [("lead", True)] * 2 == [(o.entity, o.created) for _, o in heard]
        assert ["c1", "c2"] == sorted(await session.scalars(select(CallActivity.call_id)))
        assert {"call_id": "c1", "entity": "lead", "created": True}.items() <= next(
            e for e in logs if e["event"] == "call_logged"
        ).items()

    async def test_a_failing_call_is_logged_and_the_next_one_still_recorded(
        self, sessionmaker, session, settings
    ):
        """
        A call that cannot be stored is logged as call_log_failed; the following call is recorded.
        """
        writer = CallLogWriter(sessionmaker, pbx_id="main", settings=settings)
        subscription = Subscription("crm", 10)
        broken = make_call("bad", started_at=None)  # violates NOT NULL: the database refuses it
        subscription.offer(ended(broken))
        subscription.offer(ended(make_call("good")))

        with capture_logs() as logs:
            logged = await writer.drain(subscription)

        assert (1, 1) == (logged, writer.failed)
        assert ["good"] == list(await session.scalars(select(CallActivity.call_id)))
        failure = next(e for e in logs if e["event"] == "call_log_failed")
        assert ("bad", "error") == (failure["call_id"], failure["log_level"])

    async def test_a_database_briefly_down_is_retried(self, sessionmaker, session, settings, monkeypatch):
        """
        The first two sessions fail to connect (OperationalError); the third try records the call.
        """
        monkeypatch.setattr("crm_core.writer.RETRY_PAUSES", (0.0, 0.0, 0.0))
        failures = iter([True, True])

        def flaky():
            if next(failures, False):
                raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))
            return sessionmaker()

        writer = CallLogWriter(flaky, pbx_id="main", settings=settings)
        subscription = Subscription("crm", 10)
        subscription.offer(ended(make_call("c1")))

        with capture_logs() as logs:
            logged = await writer.drain(subscription)

        assert (1, 0) == (logged, writer.failed)
        assert 2 == [entry["event"] for entry in logs].count("call_log_retry")


class TestRun:
    async def test_runs_until_cancelled(self, sessionmaker, session, settings):
        """
        run() records calls as they arrive and stops cleanly when cancelled.
        """
        recorded = asyncio.Event()
        writer = CallLogWriter(
            sessionmaker, pbx_id="main", settings=settings, on_recorded=lambda c, o: recorded.set()
        )
        subscription = Subscription("crm", 10)
        task = asyncio.create_task(writer.run(subscription))
        subscription.offer(ended(make_call("c1")))
        await recorded.wait()

        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        assert task.cancelled()
        assert 1 == await count(session, CallActivity)
