"""EventBus: fan-out through bounded queues that never block the publisher."""

from __future__ import annotations

from datetime import UTC, datetime

from structlog.testing import capture_logs

from cti.bus import EventBus
from cti.events import CallAnswered, CallEnded, CallRinging, CallStarted
from cti.model import CallId, CallState, Direction, Disposition, Party
from cti.registry import CallRegistry

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CALL = CallId("1795751289.3")


def started() -> CallStarted:
    return CallStarted(CALL, AT, Direction.INBOUND, Party("+79161234567"), "+74951234567", "+79161234567")


class TestEventBus:
    async def test_every_subscriber_gets_event_and_call(self):
        """
        Two subscribers each receive the event with the call as it stands after it.
        """
        bus = EventBus(CallRegistry())
        async with bus.subscribe("a") as first, bus.subscribe("b") as second:
            bus.publish(started())
            bus.publish(CallRinging(CALL, AT, ("101",)))

            for queue in (first, second):
                assert isinstance((await queue.get()).event, CallStarted)
                notice = await queue.get()
                assert ("101",) == notice.call.ringing
                assert CallState.RINGING == notice.call.state

    async def test_a_full_subscriber_drops_counts_and_logs_without_blocking(self):
        """
        A subscriber that never reads loses what does not fit; the loss is counted and logged once.
        """
        bus = EventBus(CallRegistry())
        async with bus.subscribe("slow", maxsize=2) as slow, bus.subscribe("fast", maxsize=100) as fast:
            with capture_logs() as logs:
                bus.publish(started())
                for _ in range(5):
                    bus.publish(CallRinging(CALL, AT, ("101",)))

            assert 2 == slow.pending
            assert 4 == slow.dropped
            assert 6 == fast.pending
            assert {"slow": (2, 4), "fast": (6, 0)} == bus.stats()
            [warning] = [entry for entry in logs if entry["event"] == "bus_subscriber_overflow"]
            assert "slow" == warning["subscriber"]

    async def test_unsubscribed_queue_gets_nothing_more(self):
        """
        Leaving the context removes the subscription.
        """
        bus = EventBus(CallRegistry())
        async with bus.subscribe("gone") as queue:
            pass
        bus.publish(started())

        assert 0 == queue.pending
        assert {} == bus.stats()


class TestCallRegistry:
    def test_ended_call_is_returned_once_then_forgotten(self):
        """
        CallEnded yields the final record, and the registry no longer lists the call.
        """
        registry = CallRegistry()
        registry.apply(started())
        registry.apply(CallRinging(CALL, AT, ("101", "102")))
        registry.apply(CallAnswered(CALL, AT.replace(second=5), "102"))

        final = registry.apply(CallEnded(CALL, AT.replace(second=47), Disposition.ANSWERED, 16))

        assert "102" == final.answered_by
        assert 42 == final.talk_seconds
        assert ("101", "102") == final.extensions
        assert () == final.ringing
        assert None is registry.get(CALL)

    def test_events_for_unknown_calls_are_ignored(self):
        """
        An event about a call that never started changes nothing.
        """
        registry = CallRegistry()

        assert None is registry.apply(CallRinging(CALL, AT, ("101",)))
        assert 0 == len(registry)

    def test_first_answer_wins(self):
        """
        After a transfer the new party answers too; answered_by stays the first one.
        """
        registry = CallRegistry()
        registry.apply(started())
        registry.apply(CallAnswered(CALL, AT, "101"))

        call = registry.apply(CallAnswered(CALL, AT.replace(second=9), "103"))

        assert "101" == call.answered_by
        assert AT == call.answered_at
        assert ("101", "103") == call.extensions

    def test_unanswered_call_keeps_no_recording(self):
        """
        A missed call's file is a bare header: the record lists no recording.
        """
        from cti.events import RecordingStarted

        registry = CallRegistry()
        registry.apply(started())
        registry.apply(RecordingStarted(CALL, AT, "/var/spool/asterisk/monitor/x.wav"))

        call = registry.apply(CallEnded(CALL, AT, Disposition.MISSED, 127))

        assert () == call.recordings
