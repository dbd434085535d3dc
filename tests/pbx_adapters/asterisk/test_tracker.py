"""The channel tracker against the real Asterisk 22 traces, fed event by event (no socket)."""

from __future__ import annotations

import json

import pytest

from cti.model import Direction, Disposition, TransferKind

from .helpers import Replay, replay, trace_events

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


class TestTransfers:
    @pytest.mark.parametrize(
        ("trace", "call_id"),
        [
            ("06_attended_transfer_dtmf_feature", "1795751331.21"),
            ("06b_attended_transfer_ami_atxfer", "1795751350.33"),
        ],
    )
    def test_attended_transfer_of_an_inbound_call(self, traces, trace, call_id):
        """
        101 consults 102 (through Local channels), then hangs up: one call, attended by 101 to 102,
        the outside caller kept, 101 still the one who answered.
        """
        [call] = replay(traces / f"{trace}.jsonl").ended

        assert call_id == call.call_id
        assert [(TransferKind.ATTENDED, "101", "102")] == [(t.kind, t.by, t.to) for t in call.transfers]
        assert ("+79161234567", "101", ("101", "102")) == (
            call.external_number,
            call.answered_by,
            call.extensions,
        )

    def test_attended_transfer_of_an_outbound_call(self, traces):
        """
        101's outbound call handed to 102 (RFC 4733 digits): the customer's number stays the call's.
        """
        [call] = replay(traces / "12_attended_transfer_outbound_rfc4733_dtmf.jsonl").ended

        assert (Direction.OUTBOUND, "+74957654321") == (call.direction, call.external_number)
        assert [(TransferKind.ATTENDED, "101", "102")] == [(t.kind, t.by, t.to) for t in call.transfers]

    def test_a_transfer_asterisk_did_not_carry_out_is_not_listed(self, traces):
        """
        06c: Atxfer answered Success but the digits were swallowed: no transfer, the call stays with 101.
        """
        [call] = replay(traces / "06c_attended_transfer_ami_atxfer_race.jsonl").ended

        assert () == call.transfers
        assert ("101",) == call.extensions

    @pytest.mark.parametrize("trace", ["07b_blind_transfer_ami_action", "07c_blind_transfer_dtmf_feature"])
    def test_blind_transfer_by_action_and_by_feature_code(self, traces, trace):
        """
        The AMI BlindTransfer action and the #1 feature code both read as a blind transfer to 103.
        """
        [call] = replay(traces / f"{trace}.jsonl").ended

        assert [(TransferKind.BLIND, "101", "103")] == [(t.kind, t.by, t.to) for t in call.transfers]

    def test_the_target_is_found_when_asterisk_omits_it(self, traces):
        """
        AttendedTransfer without TransferTarget* fields (a race inside Asterisk): still to 102.
        """
        run = Replay()
        for fields in trace_events(traces / "06_attended_transfer_dtmf_feature.jsonl"):
            if fields["Event"] == "AttendedTransfer":
                fields = {k: v for k, v in fields.items() if not k.startswith("TransferTarget")}
            run.tracker.feed(fields)

        [call] = run.ended
        assert [(TransferKind.ATTENDED, "101", "102")] == [(t.kind, t.by, t.to) for t in call.transfers]

    def test_blonde_transfer_when_the_target_still_rings(self, traces):
        """
        The transferer hangs up while 102 still rings: Asterisk reports the target Ringing: blonde.
        """
        run = Replay()
        for fields in trace_events(traces / "06_attended_transfer_dtmf_feature.jsonl"):
            if fields["Event"] == "AttendedTransfer":
                fields = {
                    **fields,
                    "TransferTargetChannelState": "5",
                    "TransferTargetChannelStateDesc": "Ringing",
                }
            run.tracker.feed(fields)

        [call] = run.ended
        assert [(TransferKind.BLONDE, "101", "102")] == [(t.kind, t.by, t.to) for t in call.transfers]

    def test_hold_during_the_consultation(self, traces):
        """
        101 puts the caller on hold to consult: a CallHeld by 101.
        """
        run = replay(traces / "06_attended_transfer_dtmf_feature.jsonl")

        [held] = [event for event in run.events if type(event).__name__ == "CallHeld"]
        assert "101" == held.by


class TestConference:
    def test_every_party_of_room_800_is_an_answered_call_in_the_room(self, traces):
        """
        The outside caller and 101 and 102 join room 800: three calls (ConfBridge keeps each one's
        Linkedid), all answered by the room, none missed.
        """
        run = replay(traces / "08_conference.jsonl")

        calls = {call.call_id: call for call in run.ended}
        assert {"800"} == {call.conference for call in calls.values()}
        assert {Disposition.ANSWERED} == {call.disposition for call in calls.values()}
        outside = calls["1795751425.63"]
        assert (Direction.INBOUND, "+79161234567", "+74951234580") == (
            outside.direction,
            outside.external_number,
            outside.did,
        )
        assert outside.answered_at is not None
        assert ("101",) == calls["1795751426.67"].extensions


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


def ami_event(name, uid, channel, linkedid, **more):
    return {"Event": name, "Channel": channel, "Uniqueid": uid, "Linkedid": linkedid, **more}


def dial(name, source, dest, status=None, **more):
    fields = {
        "Event": name,
        "Uniqueid": source[0],
        "Channel": source[1],
        "DestUniqueid": dest[0],
        "DestChannel": dest[1],
        **more,
    }
    if status:
        fields["DialStatus"] = status
    return fields


class TestScenariosBeyondTheTraces:
    """Event sequences shaped like Asterisk's, for calls the shared traces do not cover."""

    TRUNK = ("1.1", "PJSIP/trunk-00000001")
    PHONE_101 = ("1.2", "PJSIP/101-00000002")
    PHONE_102 = ("1.3", "PJSIP/102-00000003")
    MOBILE = ("1.4", "PJSIP/trunk-00000004")

    def inbound(self, run):
        run.tracker.feed(
            ami_event(
                "Newchannel",
                *self.TRUNK,
                "1.1",
                ChannelState="4",
                CallerIDNum="+79161234567",
                Exten="+74951234567",
            )
        )

    def leg(self, run, leg, linkedid="1.1"):
        run.tracker.feed(ami_event("Newchannel", *leg, linkedid, ChannelState="0", Exten="s"))

    def test_ring_group_answered_by_one_is_not_missed(self):
        """
        Dial(PJSIP/101&PJSIP/102): both ring, 102 answers, 101 gets CANCEL; answered by 102.
        """
        run = Replay()
        self.inbound(run)
        for phone in (self.PHONE_101, self.PHONE_102):
            self.leg(run, phone)
            run.tracker.feed(dial("DialBegin", self.TRUNK, phone, DestChannelState="5"))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_102, "ANSWER"))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_101, "CANCEL"))
        for leg in (self.PHONE_101, self.PHONE_102, self.TRUNK):
            run.tracker.feed(ami_event("Hangup", *leg, "1.1", Cause="16"))

        [call] = run.ended
        assert ("102", Disposition.ANSWERED) == (call.answered_by, call.disposition)
        assert ("101", "102") == call.extensions

    def test_forwarded_to_a_mobile_and_answered_there(self):
        """
        101 does not answer; the dialplan forwards to 101's mobile through the trunk, which answers.
        """
        run = Replay()
        self.inbound(run)
        self.leg(run, self.PHONE_101)
        run.tracker.feed(dial("DialBegin", self.TRUNK, self.PHONE_101, DestChannelState="5"))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_101, "NOANSWER"))
        run.tracker.feed(ami_event("Hangup", *self.PHONE_101, "1.1", Cause="19"))
        self.leg(run, self.MOBILE)
        run.tracker.feed(dial("DialBegin", self.TRUNK, self.MOBILE, DialString="+79161112233@trunk"))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.MOBILE, "ANSWER"))
        for leg in (self.MOBILE, self.TRUNK):
            run.tracker.feed(ami_event("Hangup", *leg, "1.1", Cause="16"))

        [call] = run.ended
        assert Disposition.ANSWERED == call.disposition
        assert "101" == call.answered_by

    def test_caller_hangs_up_in_the_ivr(self):
        """
        An inbound call that never reached a phone is still a call: missed.
        """
        run = Replay()
        self.inbound(run)
        run.tracker.feed(ami_event("Hangup", *self.TRUNK, "1.1", Cause="16"))

        [call] = run.ended
        assert (Disposition.MISSED, ()) == (call.disposition, call.extensions)

    def test_outbound_to_an_unreachable_number_failed(self):
        """
        The trunk says CHANUNAVAIL: failed, not missed and not abandoned.
        """
        run = Replay()
        run.tracker.feed(
            ami_event("Newchannel", *self.PHONE_101, "1.2", ChannelState="4", Exten="89031234567")
        )
        self.leg(run, self.MOBILE, "1.2")
        run.tracker.feed(dial("DialBegin", self.PHONE_101, self.MOBILE))
        run.tracker.feed(dial("DialEnd", self.PHONE_101, self.MOBILE, "CHANUNAVAIL"))
        run.tracker.feed(ami_event("Hangup", *self.MOBILE, "1.2", Cause="3"))
        run.tracker.feed(ami_event("Hangup", *self.PHONE_101, "1.2", Cause="3"))

        [call] = run.ended
        assert (Disposition.FAILED, "+79031234567") == (call.disposition, call.external_number)

    def test_agent_gives_up_on_an_outbound_call(self):
        """
        The agent hangs up while the customer's phone rings: abandoned.
        """
        run = Replay()
        run.tracker.feed(
            ami_event("Newchannel", *self.PHONE_101, "1.2", ChannelState="4", Exten="+74957654321")
        )
        self.leg(run, self.MOBILE, "1.2")
        run.tracker.feed(dial("DialBegin", self.PHONE_101, self.MOBILE))
        run.tracker.feed(dial("DialEnd", self.PHONE_101, self.MOBILE, "CANCEL"))
        run.tracker.feed(ami_event("Hangup", *self.MOBILE, "1.2", Cause="16"))
        run.tracker.feed(ami_event("Hangup", *self.PHONE_101, "1.2", Cause="16"))

        [call] = run.ended
        assert (Disposition.ABANDONED, None) == (call.disposition, call.answered_by)

    def test_ring_group_with_a_busy_phone_nobody_answering_is_missed(self):
        """
        101 rejects with 486, 102 rings, the caller gives up: missed (a phone rang), not busy.
        """
        run = Replay()
        self.inbound(run)
        for phone in (self.PHONE_101, self.PHONE_102):
            self.leg(run, phone)
        run.tracker.feed(dial("DialBegin", self.TRUNK, self.PHONE_101))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_101, "BUSY"))
        run.tracker.feed(dial("DialBegin", self.TRUNK, self.PHONE_102, DestChannelState="5"))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_102, "CANCEL"))
        for leg in (self.PHONE_101, self.PHONE_102, self.TRUNK):
            run.tracker.feed(ami_event("Hangup", *leg, "1.1", Cause="16"))

        [call] = run.ended
        assert Disposition.MISSED == call.disposition

    def test_every_phone_busy_is_busy(self):
        """
        The only phone answers 486: busy.
        """
        run = Replay()
        self.inbound(run)
        self.leg(run, self.PHONE_101)
        run.tracker.feed(dial("DialBegin", self.TRUNK, self.PHONE_101))
        run.tracker.feed(dial("DialEnd", self.TRUNK, self.PHONE_101, "BUSY"))
        for leg in (self.PHONE_101, self.TRUNK):
            run.tracker.feed(ami_event("Hangup", *leg, "1.1", Cause="17"))

        [call] = run.ended
        assert Disposition.BUSY == call.disposition


def show(uid, channel, linkedid, state="6", bridge="", exten="", caller=""):
    return {
        "Event": "CoreShowChannel",
        "Uniqueid": uid,
        "Channel": channel,
        "Linkedid": linkedid,
        "ChannelState": state,
        "BridgeId": bridge,
        "Exten": exten,
        "CallerIDNum": caller,
        "Duration": "00:01:00",
    }


def resync(run, *items):
    run.tracker.resync_begin()
    for item in items:
        run.tracker.resync_channel(item)
    run.tracker.resync_end()


class TestResyncBeyondTheTraces:
    def test_a_pickup_made_while_disconnected(self, traces):
        """
        102 rang and 103 had dialled *11 when the link dropped; the snapshot shows 103 bridged into
        the caller's call: the call is answered by 103, and 103's own dial was never a call.
        """
        run = Replay()
        run.feed_file(traces / "04_pickup_star11.jsonl", limit=55)  # 102 ringing, 103 dialled *11
        assert ("102",) == run.registry.get("1795751308.9").ringing

        resync(
            run,
            show("1795751308.9", "PJSIP/trunk-00000006", "1795751308.9", bridge="b1", exten="+74951234568"),
            show("1795751311.11", "PJSIP/103-00000008", "1795751308.9", bridge="b1", exten="*11"),
        )
        call = run.registry.get("1795751308.9")

        assert "103" == call.answered_by
        assert () == call.ringing
        assert 1 == len(run.registry)

    def test_an_outbound_call_whose_dialling_phone_has_left(self):
        """
        Adopted after 101 transferred its outbound call to 102: outbound, to the number dialled,
        with 102 talking; not an inbound call from our own DID.
        """
        run = Replay()

        resync(
            run,
            show(
                "9.2", "PJSIP/trunk-00000002", "9.1", bridge="b", exten="+74957654321", caller="+74951234567"
            ),
            show("9.5", "PJSIP/102-00000005", "9.1", bridge="b", exten=""),
        )
        [call] = list(run.registry)

        assert Direction.OUTBOUND == call.direction
        assert "+74957654321" == call.external_number
        assert "102" == call.answered_by
        assert call.resynced

    def test_an_inbound_call_after_a_transfer_has_no_false_did(self):
        """
        The trunk channel's Exten is now "103" (a blind transfer ran the dialplan for it): not a DID.
        """
        run = Replay()

        resync(
            run,
            show("7.1", "PJSIP/trunk-00000001", "7.1", bridge="b", exten="103", caller="+79161234567"),
            show("7.4", "PJSIP/103-00000004", "7.1", bridge="b"),
        )
        [call] = list(run.registry)

        assert (Direction.INBOUND, "+79161234567", None) == (call.direction, call.external_number, call.did)
        assert "103" == call.answered_by


class TestRenderedDialplanIntent:
    """The UserEvents `cti dialplan render-asterisk` puts in the dialplan say what the call is."""

    def test_the_did_comes_from_cti_inbound_when_the_trunk_delivers_to_s(self):
        """
        A carrier that sends every call to extension "s": the DID is what CtiInbound says.
        """
        run = Replay()
        trunk = ("5.1", "PJSIP/trunk-00000001")
        run.tracker.feed(
            ami_event("Newchannel", *trunk, "5.1", ChannelState="4", CallerIDNum="+79161234567", Exten="s")
        )
        run.tracker.feed(ami_event("UserEvent", *trunk, "5.1", UserEvent="CtiInbound", Did="+74951234567"))
        run.tracker.feed(ami_event("Hangup", *trunk, "5.1", Cause="16"))

        [call] = run.ended
        assert ("+74951234567", "+79161234567") == (call.did, call.external_number)

    def test_the_pickup_code_comes_from_cti_pickup(self, traces):
        """
        The dialplan names the code it ran Pickup() for (here *8): that is the code on the record.
        """
        run = Replay()
        for fields in trace_events(traces / "04_pickup_star11.jsonl"):
            if fields["Event"] == "Pickup":
                run.tracker.feed(
                    {
                        **{k: fields[k] for k in ("Channel", "Uniqueid", "Linkedid")},
                        "Event": "UserEvent",
                        "UserEvent": "CtiPickup",
                        "Code": "*8",
                    }
                )
            run.tracker.feed(fields)

        [call] = run.ended
        assert [("103", "102", "*8")] == [(p.by, p.from_, p.code) for p in call.pickups]


class TestRoomMembers:
    def test_who_is_in_room_800_as_the_parties_join_and_leave(self, traces):
        """
        The registry lists the room's members: the caller, then 101, then 102; empty at the end.
        """
        run = Replay()
        seen = []
        for fields in trace_events(traces / "08_conference.jsonl"):
            run.tracker.feed(fields)
            members = [party.extension or party.number for party in run.registry.room("800")]
            if not seen or seen[-1] != members:
                seen.append(members)

        assert [
            [],
            ["+79161234567"],
            ["+79161234567", "101"],
            ["+79161234567", "101", "102"],
            ["+79161234567", "102"],
            ["102"],
            [],
        ] == seen


class TestHold:
    def test_hold_then_resume_moves_the_call_state(self, traces):
        """
        101 holds the answered caller and takes the call back: held, then talking again.
        """
        from cti.model import CallState

        run = Replay()
        run.feed_file(traces / "02_inbound_answered.jsonl", limit=60)  # answered by 101
        phone = ("1795751289.4", "PJSIP/101-00000003")

        run.tracker.feed(ami_event("Hold", *phone, "1795751289.3"))
        held = run.registry.get("1795751289.3").state
        run.tracker.feed(ami_event("Unhold", *phone, "1795751289.3"))

        assert (CallState.HELD, CallState.TALKING) == (held, run.registry.get("1795751289.3").state)
        assert ["CallHeld", "CallResumed"] == run.kinds()[-2:]
