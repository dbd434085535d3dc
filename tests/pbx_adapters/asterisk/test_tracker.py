"""The channel tracker against the real Asterisk 22 traces, fed event by event (no socket)."""

from __future__ import annotations

import json

from cti.model import Direction, Disposition, TransferKind

from .helpers import Replay, replay

MONITOR = "/var/spool/asterisk/monitor/"


class TestBasicCalls:
    def test_internal_call(self, traces):
        """
        101 calls 102, 102 answers: one internal call, answered by 102, recorded, no outside number.
        """
        run = replay(traces / "01_internal_call.jsonl")

        [call] = run.ended
        assert "1795751281.0" == call.call_id
        assert Direction.INTERNAL == call.direction
        assert None is call.external_number
        assert ("101", "102") == call.extensions
        assert "102" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
        assert (MONITOR + "20261127-034801-internal-101-102-1795751281.0.wav",) == call.recordings
        assert ["CallStarted", "RecordingStarted", "CallRinging", "CallAnswered"] == run.kinds()[:4]
        assert "CallEnded" == run.kinds()[-1]

    def test_inbound_answered(self, traces):
        """
        The carrier's caller reaches DID +74951234567; 101 answers; the caller's number is E.164.
        """
        [call] = replay(traces / "02_inbound_answered.jsonl").ended

        assert Direction.INBOUND == call.direction
        assert "+79161234567" == call.external_number
        assert "+74951234567" == call.did
        assert "+79161234567" == call.caller.number
        assert None is call.caller.extension
        assert "101" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
        assert 16 == call.cause
        assert 1 == len(call.recordings)

    def test_inbound_missed_has_no_recording(self, traces):
        """
        101 rings and never answers: missed (not by cause 127), and the header-only file is dropped.
        """
        run = replay(traces / "03_inbound_missed.jsonl")

        [call] = run.ended
        assert Disposition.MISSED == call.disposition
        assert None is call.answered_by
        assert ("101",) == call.extensions
        assert () == call.recordings
        assert () == call.ringing
        assert "RingingStopped" in run.kinds()

    def test_outbound_answered(self, traces):
        """
        101 dials +74957654321: outbound, the outside party from what was dialled, 101 talked.
        """
        [call] = replay(traces / "09_outbound_answered.jsonl").ended

        assert Direction.OUTBOUND == call.direction
        assert "+74957654321" == call.external_number
        assert "+74957654321" == call.dialled
        assert None is call.did
        assert "101" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
        assert 1 == len(call.recordings)

    def test_busy(self, traces):
        """
        102 answers 486 Busy Here: busy, never answered, no recording.
        """
        [call] = replay(traces / "10_busy.jsonl").ended

        assert Disposition.BUSY == call.disposition
        assert None is call.answered_by
        assert () == call.recordings


class TestCallsAcrossPhones:
    def test_pickup_by_star11(self, traces):
        """
        103 takes 102's ringing call with *11: same call id, caller kept, answered by the picker.
        """
        [call] = replay(traces / "04_pickup_star11.jsonl").ended

        assert "1795751308.9" == call.call_id
        assert "+79161234567" == call.external_number
        assert "103" == call.answered_by
        assert [("103", "102", "*11")] == [(p.by, p.from_, p.code) for p in call.pickups]
        assert ("102", "103") == call.extensions

    def test_pickup_by_40(self, traces):
        """
        The same with the code 40, whose events arrive in another order.
        """
        [call] = replay(traces / "05_pickup_40.jsonl").ended

        assert "103" == call.answered_by
        assert [("103", "102", "40")] == [(p.by, p.from_, p.code) for p in call.pickups]

    def test_the_pickers_own_dial_is_no_call(self, traces):
        """
        Dialling *11 creates a channel of its own; it never becomes a second call record.
        """
        run = replay(traces / "04_pickup_star11.jsonl")

        assert 1 == sum(1 for kind in run.kinds() if kind == "CallStarted")

    def test_blind_transfer_by_refer(self, traces):
        """
        101 answers then sends the caller to 103 with the phone's Xfer key: one call, one transfer.
        """
        [call] = replay(traces / "07_blind_transfer_sip_refer.jsonl").ended

        assert "101" == call.answered_by
        assert [(TransferKind.BLIND, "101", "103")] == [(t.kind, t.by, t.to) for t in call.transfers]
        assert "+79161234567" == call.external_number
        assert ("101", "103") == call.extensions

    def test_click_to_call(self, traces):
        """
        Originate rings 101 first, then the customer: one outbound call, 101's own ring is not a call.
        """
        run = replay(traces / "14_click_to_call_originate.jsonl")

        [call] = run.ended
        assert Direction.OUTBOUND == call.direction
        assert "+74957654321" == call.external_number
        assert ("101",) == call.extensions
        assert "101" == call.answered_by
        assert "CallRinging" not in run.kinds()

    def test_supervisor_listening_is_not_a_call(self, traces):
        """
        104 listens with ChanSpy: it shows as a listener on 101's call, never as a call.
        """
        run = replay(traces / "11_chanspy_supervisor.jsonl")

        [call] = run.ended
        assert ("104",) == call.listeners
        assert "104" not in call.extensions


class TestRobustness:
    def test_unknown_and_malformed_events_are_ignored(self):
        """
        Events the tracker does not know, or that lack fields, neither raise nor publish.
        """
        run = Replay()

        run.tracker.feed({"Event": "RTCPSent", "Channel": ""})
        run.tracker.feed({"Event": "Newchannel"})
        run.tracker.feed({"Event": "Hangup", "Uniqueid": "nope"})

        assert [] == run.events

    def test_events_of_calls_begun_before_we_joined_are_ignored(self, traces):
        """
        Joining in the middle (the first 20 events lost) publishes nothing about that call.
        """
        run = Replay()
        lines = (traces / "02_inbound_answered.jsonl").read_text().splitlines()
        events = [json.loads(line)["fields"] for line in lines if json.loads(line)["dir"] == "event"]

        for fields in events[20:]:
            run.tracker.feed(fields)

        assert [] == run.ended


class TestResync:
    def test_a_call_gone_while_disconnected_is_ended(self, traces):
        """
        The link drops mid-call; the snapshot after reconnect lacks the call: it ends, once.
        """
        run = Replay()
        run.feed_file(traces / "02_inbound_answered.jsonl", limit=60)
        assert 1 == len(run.registry)

        run.tracker.resync_begin()
        run.tracker.resync_end()

        [call] = run.ended
        assert "101" == call.answered_by
        assert Disposition.ANSWERED == call.disposition
        assert 0 == len(run.registry)

    def test_a_call_begun_while_disconnected_is_adopted(self, traces):
        """
        The snapshot of trace 13 (CoreShowChannels mid-call) rebuilds an answered inbound call.
        """
        run = Replay()
        lines = [
            json.loads(line)
            for line in (traces / "13_resync_queries_during_call.jsonl").read_text().splitlines()
        ]
        items = [line["fields"] for line in lines if line["fields"].get("Event") == "CoreShowChannel"]

        run.tracker.resync_begin()
        for item in items:
            run.tracker.resync_channel(item)
        run.tracker.resync_end()

        [call] = list(run.registry)
        assert "1795751487.95" == call.call_id
        assert Direction.INBOUND == call.direction
        assert "+79161234567" == call.external_number
        assert "101" == call.answered_by
        assert call.resynced is True
        assert ("101",) == call.talking

    def test_a_known_call_is_not_started_twice(self, traces):
        """
        A snapshot that shows a call we still follow changes nothing and publishes no CallStarted.
        """
        run = Replay()
        run.feed_file(traces / "02_inbound_answered.jsonl", limit=60)
        before = len(run.events)
        snapshot = [
            {
                "Event": "CoreShowChannel",
                "Uniqueid": uid,
                "Linkedid": "1795751289.3",
                "ChannelState": "6",
                "Channel": name,
                "BridgeId": "b",
            }
            for uid, name in (
                ("1795751289.3", "PJSIP/trunk-00000002"),
                ("1795751289.4", "PJSIP/101-00000003"),
            )
        ]

        run.tracker.resync_begin()
        for item in snapshot:
            run.tracker.resync_channel(item)
        run.tracker.resync_end()

        assert before == len(run.events)
