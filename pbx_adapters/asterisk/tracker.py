"""Turn Asterisk channel, dial and bridge events into cti call events.

The call is the Linkedid: every leg Dial, Local channels and transfers create inherits it. The
facts that matter are read where Asterisk states them: ringing from ``Newstate``/``DialState``,
answer from ``DialEnd ANSWER``, busy from ``DialStatus=BUSY`` (never from the Q.850 cause: a
missed call ends with cause 127), the end when the last channel of the Linkedid hangs up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

import structlog

from cti import events as ev
from cti.events import CtiEvent
from cti.model import CallId, Direction, Disposition, Party, TransferKind
from cti.numbers import to_e164

from .channels import AST_STATE_RINGING, AST_STATE_UP, CallTrack, Channel, ChannelKind, classify

__all__ = ["ChannelTracker"]

log = structlog.get_logger(__name__)

Fields = Mapping[str, str]
_UNKNOWN = {"", "<unknown>"}
_FAILED = {"CHANUNAVAIL", "CONGESTION", "INVALIDARGS"}


def _now() -> datetime:
    return datetime.now(UTC)


class ChannelTracker:
    """Keep AMI channel state and publish one cti event per call-level change."""

    def __init__(
        self,
        publish: Callable[[CtiEvent], object],
        *,
        region: str = "RU",
        extension_pattern: str = r"^\d{2,6}$",
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._publish = publish
        self._region = region
        self._extension = re.compile(extension_pattern)
        self._clock = clock
        self._channels: dict[str, Channel] = {}
        self._calls: dict[str, CallTrack] = {}
        self._snapshot: list[Fields] | None = None
        self._handlers: dict[str, Callable[[Fields], None]] = {
            "Newchannel": self._on_new_channel,
            "Newstate": self._on_new_state,
            "NewCallerid": self._on_new_callerid,
            "DialBegin": self._on_dial_begin,
            "DialState": self._on_dial_state,
            "DialEnd": self._on_dial_end,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "Pickup": self._on_pickup,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "Hold": self._on_hold,
            "Unhold": self._on_unhold,
            "Newexten": self._on_new_exten,
            "VarSet": self._on_var_set,
            "MixMonitorStart": self._on_mixmonitor_start,
            "MixMonitorStop": self._on_mixmonitor_stop,
            "Cdr": self._on_cdr,
            "ConfbridgeJoin": self._on_confbridge_join,
            "ConfbridgeLeave": self._on_confbridge_leave,
            "ChanSpyStart": self._on_chanspy_start,
            "ChanSpyStop": self._on_chanspy_stop,
            "Hangup": self._on_hangup,
            "ContactStatus": self._on_contact_status,
            "UserEvent": self._on_user_event,
        }

    # -- entry points ---------------------------------------------------------------------------

    def feed(self, fields: Fields) -> None:
        """Take one AMI event; unknown event types cost one dict lookup."""
        handler = self._handlers.get(fields.get("Event", ""))
        if handler is None:
            return
        try:
            handler(fields)
        except (KeyError, ValueError) as exc:  # a malformed or unexpected event must not kill the reader
            log.warning("ami_event_not_understood", ami_event=fields.get("Event"), error=repr(exc))

    @property
    def live_calls(self) -> int:
        return sum(1 for call in self._calls.values() if call.started)

    def channel_names(self, call_id: str) -> list[str]:
        """Asterisk names of the live channels of a call (for actions such as Hangup)."""
        call = self._started_call_by_id(call_id)
        if call is None:
            return []
        return sorted(self._channels[uid].name for uid in call.channels if uid in self._channels)

    def agent_channel(self, call_id: str, by: str | None = None) -> str | None:
        """The channel of our phone in the conversation: *by*'s, else the one talking longest."""
        call = self._started_call_by_id(call_id)
        if call is None:
            return None
        phones = [self._channels[uid] for uid in sorted(call.channels) if self._channels[uid].is_extension]
        if by is not None:
            phones = [c for c in phones if c.endpoint == by]
        talking = [c for c in phones if c.endpoint in call.talking or c.bridge]
        chosen = talking or phones
        return chosen[0].name if chosen else None

    def ringing_channel(self, call_id: str) -> str | None:
        """A phone the call is ringing at right now (what a pickup takes)."""
        call = self._started_call_by_id(call_id)
        if call is None:
            return None
        return next(
            (self._channels[uid].name for uid in sorted(call.channels) if self._channels[uid].ringing), None
        )

    def party_channels(self, call_id: str) -> list[str]:
        """Every real party's channel (phones and trunks, no Local plumbing)."""
        call = self._started_call_by_id(call_id)
        if call is None:
            return []
        return sorted(
            self._channels[uid].name
            for uid in call.channels
            if self._channels[uid].kind is not ChannelKind.LOCAL
        )

    def _started_call_by_id(self, call_id: str) -> CallTrack | None:
        call = self._calls.get(call_id)
        return call if call is not None and call.started else None

    def resync_begin(self) -> None:
        """A CoreShowChannels listing starts: collect it, apply it at :meth:`resync_end`."""
        self._snapshot = []

    def resync_cancel(self) -> None:
        self._snapshot = None

    def resync_channel(self, fields: Fields) -> None:
        if self._snapshot is not None:
            self._snapshot.append(fields)

    def resync_end(self) -> None:
        """Make our state equal to Asterisk's: end what is gone, adopt what we never saw."""
        snapshot, self._snapshot = self._snapshot or [], None
        live = {item["Uniqueid"]: item for item in snapshot if "Uniqueid" in item}
        now = self._clock()
        for uniqueid in [uid for uid in self._channels if uid not in live]:
            self._hang_up(self._channels[uniqueid], cause=None, at=now)
        adopted: set[str] = set()
        for uniqueid, item in live.items():
            channel = self._channels.get(uniqueid)
            if channel is None:
                channel = self._adopt(item, now)
                adopted.add(channel.call_id)
            channel.state = int(item.get("ChannelState") or 0)
            channel.bridge = item.get("BridgeId") or None
        for uniqueid, item in live.items():
            # Asterisk moved the channel to another call while we were away (a pickup): follow it.
            linkedid = item.get("Linkedid")
            channel = self._channels[uniqueid]
            if linkedid and linkedid != channel.call_id:
                target = self._calls.get(linkedid)
                if target is None:
                    target = self._calls[linkedid] = CallTrack(linkedid, now, origin=channel)
                    adopted.add(linkedid)
                self._rehome(channel, target)
        for call in list(self._calls.values()):
            self._reconcile(call, now, adopted=call.call_id in adopted, snapshot=live)
        log.info("ami_resynced", channels=len(live), calls=self.live_calls, adopted_calls=len(adopted))

    # -- channel life ---------------------------------------------------------------------------

    def _on_new_channel(self, f: Fields) -> None:
        channel = self._make_channel(f)
        call = self._calls.get(channel.call_id)
        if call is None:
            call = self._calls[channel.call_id] = CallTrack(channel.call_id, self._at(f), origin=channel)
        call.channels.add(channel.uniqueid)
        self._channels[channel.uniqueid] = channel
        # A call from a trunk is announced at its first sign of intent (the dialplan's CtiInbound
        # UserEvent, a phone ringing, a Dial, a room, or its end), so the DID can come from the
        # dialplan rather than from the trunk channel's Exten.

    def _make_channel(self, f: Fields) -> Channel:
        kind, endpoint = classify(f["Channel"], self._extension)
        return Channel(
            uniqueid=f["Uniqueid"],
            name=f["Channel"],
            kind=kind,
            endpoint=endpoint,
            call_id=f.get("Linkedid") or f["Uniqueid"],
            caller_num=f.get("CallerIDNum", ""),
            caller_name=f.get("CallerIDName", ""),
            first_exten=f.get("Exten", ""),
            state=int(f.get("ChannelState") or 0),
        )

    def _on_new_state(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is None:
            return
        channel.state = int(f.get("ChannelState") or 0)
        if channel.state == AST_STATE_RINGING:
            self._ring(channel, f)

    def _on_new_callerid(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is not None and channel.kind is not ChannelKind.EXTENSION:
            channel.caller_num = f.get("CallerIDNum", channel.caller_num)

    def _on_hangup(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is None:
            return
        cause = f.get("Cause", "")
        self._hang_up(channel, cause=int(cause) if cause.isdigit() else None, at=self._at(f))

    def _hang_up(self, channel: Channel, *, cause: int | None, at: datetime) -> None:
        self._channels.pop(channel.uniqueid, None)
        call = self._calls.get(channel.call_id)
        if call is None:
            return
        call.channels.discard(channel.uniqueid)
        call.last_cause = cause if cause is not None else call.last_cause
        if call.started:
            if channel.ringing:
                self._emit(ev.RingingStopped(CallId(call.call_id), at, (channel.endpoint,)))
            if channel.recording and channel.recording_file:
                self._emit(ev.RecordingStopped(CallId(call.call_id), at, channel.recording_file))
        if not call.channels:
            self._start_inbound(call, {"Timestamp": str(at.timestamp())})  # hung up in the IVR
            del self._calls[call.call_id]
            if call.started:
                self._emit(ev.CallEnded(CallId(call.call_id), at, self._disposition(call), call.last_cause))

    @staticmethod
    def _disposition(call: CallTrack) -> Disposition:
        if call.answered:
            return Disposition.ANSWERED
        if call.direction == Direction.OUTBOUND:
            if call.busy:
                return Disposition.BUSY
            return Disposition.FAILED if call.failed and not call.ever_rang else Disposition.ABANDONED
        # Our side: a phone that rang and was not answered makes the call missed, even if another
        # phone of the group was busy or offline; busy or failed only when nothing rang at all.
        if call.ever_rang:
            return Disposition.MISSED
        if call.busy:
            return Disposition.BUSY
        if call.failed:
            return Disposition.FAILED
        return Disposition.MISSED

    # -- dialling -------------------------------------------------------------------------------

    def _on_dial_begin(self, f: Fields) -> None:
        dest = self._channels.get(f.get("DestUniqueid", ""))
        if dest is None:
            return
        call = self._calls.get(dest.call_id)
        if call is None:
            return
        source = self._channels.get(f.get("Uniqueid", ""))
        self._start_inbound(call, f)
        if source is None:
            # Originate: Asterisk dials our agent's phone first, with no calling channel at all.
            if dest is call.origin:
                call.originated = True
            return
        if not call.started and dest.kind is not ChannelKind.LOCAL:
            direction = Direction.OUTBOUND if dest.kind is ChannelKind.TRUNK else Direction.INTERNAL
            if call.origin.kind is ChannelKind.EXTENSION:
                self._start(call, direction, f, dialled=self._dialled(call.origin, f))
        dest.dialled_by = source.name
        if dest.kind is ChannelKind.TRUNK:
            dest.dialled = f.get("DialString", "").partition("@")[0]
        if dest.kind is ChannelKind.EXTENSION and f.get("DestChannelState") == str(AST_STATE_RINGING):
            self._ring(dest, f)

    def _on_dial_state(self, f: Fields) -> None:
        dest = self._channels.get(f.get("DestUniqueid", ""))
        if dest is not None and f.get("DialStatus") == "RINGING":
            self._ring(dest, f)

    def _on_dial_end(self, f: Fields) -> None:
        dest = self._channels.get(f.get("DestUniqueid", ""))
        source = self._channels.get(f.get("Uniqueid", ""))
        if dest is None:
            return
        call = self._calls.get(source.call_id if source else dest.call_id)
        if call is None:
            return
        status = f.get("DialStatus", "")
        if status == "ANSWER":
            if dest.call_id != call.call_id:
                self._rehome(dest, call)  # a pickup: the picker's channel answers someone else's dial
            dest.answered = True
            if source is None and call.originated:
                return  # our agent took their own click-to-call leg: the customer is dialled next
            self._answer(call, dest, source, f)
            return
        if status == "BUSY":
            call.busy = True
        elif status in _FAILED:
            call.failed = True
        self._stop_ringing(dest, f)

    def _ring(self, channel: Channel, f: Fields) -> None:
        call = self._calls.get(channel.call_id)
        if call is None or channel.ringing or channel.kind is not ChannelKind.EXTENSION:
            return
        if channel is call.origin and not call.originated:
            return  # the caller's own phone never "rings"
        if channel is call.origin:
            return  # click-to-call: the agent's own phone rings before the customer is dialled
        channel.ringing = True
        self._start_inbound(call, f)
        if call.started:
            call.ever_rang = True
            call.last_rang = channel.endpoint
            self._emit(ev.CallRinging(CallId(call.call_id), self._at(f), (channel.endpoint,)))

    def _stop_ringing(self, channel: Channel, f: Fields) -> None:
        if channel.ringing:
            channel.ringing = False
            self._emit(ev.RingingStopped(CallId(channel.call_id), self._at(f), (channel.endpoint,)))

    def _answer(self, call: CallTrack, dest: Channel, source: Channel | None, f: Fields) -> None:
        if not call.started:
            return
        dest.ringing = False
        if dest.kind is ChannelKind.EXTENSION:
            by = dest.endpoint
        elif dest.kind is ChannelKind.TRUNK and source is not None and source.kind is ChannelKind.EXTENSION:
            by = source.endpoint  # outbound: the customer picked up; our agent is the one talking
        elif dest.kind is ChannelKind.TRUNK and call.origin.kind is ChannelKind.EXTENSION:
            by = call.origin.endpoint
        elif dest.kind is ChannelKind.TRUNK:
            # An inbound call sent back out through a trunk: forwarded to a mobile. It was answered,
            # on behalf of the extension that rang last (or, forwarded unconditionally, by the number).
            by = call.last_rang or dest.dialled or dest.caller_num
        else:
            return  # a Local half answering: the real party answers on the ;2 side
        call.answered = True
        if by in call.talking:
            return
        call.talking.add(by)
        self._emit(ev.CallAnswered(CallId(call.call_id), self._at(f), by))

    def _on_pickup(self, f: Fields) -> None:
        picker = self._channel(f)
        target = self._channels.get(f.get("TargetUniqueid", ""))
        if picker is None or target is None:
            return
        call = self._started_call(target)
        if call is None:
            return
        if picker.call_id != call.call_id:
            self._rehome(picker, call)
        target.ringing = False
        call.answered = True
        call.talking.add(picker.endpoint)
        self._emit(
            ev.CallPickedUp(
                CallId(call.call_id),
                self._at(f),
                by=picker.endpoint,
                from_=target.endpoint,
                code=picker.pickup_code or picker.first_exten,
            )
        )

    def _on_blind_transfer(self, f: Fields) -> None:
        if f.get("Result") != "Success":
            return
        transferer = self._channels.get(f.get("TransfererUniqueid", ""))
        transferee = self._channels.get(f.get("TransfereeUniqueid", ""))
        if transferer is None or transferee is None:
            return
        call = self._started_call(transferee)
        if call is None:
            return
        call.talking.discard(transferer.endpoint)
        self._emit(
            ev.CallTransferred(
                CallId(call.call_id),
                self._at(f),
                TransferKind.BLIND,
                by=transferer.endpoint,
                to=f.get("Extension", ""),
            )
        )

    def _on_attended_transfer(self, f: Fields) -> None:
        """The transferer hung up (or pressed the key again): the caller now talks to the target.

        Asterisk names the target as it stands, usually ``Local/102@...;1``; the real phone is the
        one that Local pair's ``;2`` half dialled. The target fields are sometimes missing (a race
        inside Asterisk), so the second bridge and finally the last phone that rang stand in.
        ``TransferTargetChannelState`` tells attended (target up) from blonde (still ringing).
        """
        if f.get("Result") != "Success":
            return
        transferer = self._channels.get(f.get("OrigTransfererUniqueid", ""))
        transferee = self._channels.get(f.get("TransfereeUniqueid", ""))
        call = self._started_call(transferee or transferer) if (transferee or transferer) else None
        if transferer is None or call is None:
            return
        target = self._transfer_target(f, call, transferer)
        if target is None:
            log.warning("ami_transfer_target_unknown", call_id=call.call_id, by=transferer.endpoint)
            return
        ringing = f.get("TransferTargetChannelState") == str(AST_STATE_RINGING) or (
            "TransferTargetChannelState" not in f and target.ringing and not target.answered
        )
        call.talking.discard(transferer.endpoint)
        kind = TransferKind.BLONDE if ringing else TransferKind.ATTENDED
        self._emit(
            ev.CallTransferred(
                CallId(call.call_id), self._at(f), kind, by=transferer.endpoint, to=target.endpoint
            )
        )

    def _transfer_target(self, f: Fields, call: CallTrack, transferer: Channel) -> Channel | None:
        candidates: list[Channel] = []
        named = self._channels.get(f.get("TransferTargetUniqueid", ""))
        if named is not None:
            candidates.append(named)
        second_bridge = f.get("SecondBridgeUniqueid")
        if second_bridge:
            candidates.extend(
                c for c in self._channels.values() if c.bridge == second_bridge and c is not transferer
            )
        for channel in candidates:
            phone = self._behind_local(channel) if channel.kind is ChannelKind.LOCAL else channel
            if phone is not None and phone.is_extension and phone is not transferer:
                return phone
        return next(
            (
                c
                for uid in call.channels
                if (c := self._channels[uid]).is_extension
                and c.endpoint == call.last_rang
                and c is not transferer
            ),
            None,
        )

    def _behind_local(self, local: Channel) -> Channel | None:
        """The phone a Local channel pair (``;1``/``;2``) dialled, if any."""
        base = local.name.rsplit(";", 1)[0]
        for channel in self._channels.values():
            if channel.dialled_by is not None and channel.dialled_by.startswith(base + ";"):
                return channel
        return None

    def _on_hold(self, f: Fields) -> None:
        self._hold_changed(f, ev.CallHeld)

    def _on_unhold(self, f: Fields) -> None:
        self._hold_changed(f, ev.CallResumed)

    def _hold_changed(self, f: Fields, event: type[ev.CallHeld | ev.CallResumed]) -> None:
        """One of our phones put its call on hold, or took it off: who, on which call."""
        channel = self._channel(f)
        call = self._started_call(channel) if channel is not None else None
        if channel is not None and call is not None and channel.is_extension:
            self._emit(event(CallId(call.call_id), self._at(f), channel.endpoint))

    def _on_bridge_enter(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is not None:
            channel.bridge = f.get("BridgeUniqueid")

    def _on_bridge_leave(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is not None:
            channel.bridge = None

    # -- recording ------------------------------------------------------------------------------

    def _on_new_exten(self, f: Fields) -> None:
        if f.get("Application") == "MixMonitor":
            channel = self._channels.get(f.get("Uniqueid", ""))
            if channel is not None:
                self._learn_file(channel, f.get("AppData", "").split(",", 1)[0], f)

    def _on_var_set(self, f: Fields) -> None:
        if f.get("Variable") == "MIXMONITOR_FILENAME":
            channel = self._channels.get(f.get("Uniqueid", ""))
            if channel is not None:
                self._learn_file(channel, f.get("Value", ""), f)

    def _on_mixmonitor_start(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is not None:
            channel.recording = True
            self._announce_recording(channel, f)

    def _on_mixmonitor_stop(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is not None and channel.recording:
            channel.recording = False
            if channel.recording_file and self._started_call(channel) is not None:
                self._emit(ev.RecordingStopped(CallId(channel.call_id), self._at(f), channel.recording_file))

    def _on_cdr(self, f: Fields) -> None:
        channel = self._channels.get(f.get("UniqueID", ""))
        if channel is not None and f.get("RecordingFile"):
            self._learn_file(channel, f["RecordingFile"], f)

    def _learn_file(self, channel: Channel, path: str, f: Fields) -> None:
        if path and path != channel.recording_file:
            channel.recording_file = path
            channel.recording_announced = False
            self._announce_recording(channel, f)

    def _announce_recording(self, channel: Channel, f: Fields) -> None:
        call = self._calls.get(channel.call_id)
        if call is None or not call.started or not channel.recording or not channel.recording_file:
            return  # a call not known to be one yet announces its files when it starts
        if channel.recording_announced or channel.recording_file in call.recordings:
            return
        channel.recording_announced = True
        call.recordings.add(channel.recording_file)
        self._emit(ev.RecordingStarted(CallId(call.call_id), self._at(f), channel.recording_file))

    # -- conference rooms -----------------------------------------------------------------------

    def _on_confbridge_join(self, f: Fields) -> None:
        channel = self._channel(f)
        if channel is None:
            return
        call = self._calls.get(channel.call_id)
        if call is None:
            return
        self._start_inbound(call, f)
        if not call.started and channel is call.origin and channel.is_extension:
            self._start(call, Direction.INTERNAL, f, dialled=channel.first_exten)  # a phone dialled the room
        if call.started:
            call.answered = True  # the room answered: whoever called it was not missed
            self._emit(
                ev.ConferenceJoined(
                    CallId(call.call_id), self._at(f), f.get("Conference", ""), self._party(channel)
                )
            )

    def _on_confbridge_leave(self, f: Fields) -> None:
        channel = self._channel(f)
        call = self._calls.get(channel.call_id) if channel is not None else None
        if channel is not None and call is not None and call.started:
            self._emit(
                ev.ConferenceLeft(
                    CallId(call.call_id), self._at(f), f.get("Conference", ""), self._party(channel)
                )
            )

    @staticmethod
    def _party(channel: Channel) -> Party:
        if channel.is_extension:
            return Party(channel.endpoint, _name(channel.caller_name), channel.endpoint)
        return Party(channel.caller_num, _name(channel.caller_name))

    # -- supervisors and devices -------------------------------------------------------------------

    def _on_chanspy_start(self, f: Fields) -> None:
        spied = self._spied(f)
        if spied is not None:
            self._emit(ev.ListenerJoined(CallId(spied[1].call_id), self._at(f), by=spied[0]))

    def _on_chanspy_stop(self, f: Fields) -> None:
        spied = self._spied(f)
        if spied is not None:
            self._emit(ev.ListenerLeft(CallId(spied[1].call_id), self._at(f), by=spied[0]))

    def _spied(self, f: Fields) -> tuple[str, CallTrack] | None:
        """The supervisor's extension and the call they listen to (the spy is never a party)."""
        spyer = self._channels.get(f.get("SpyerUniqueid", ""))
        spyee = self._channels.get(f.get("SpyeeUniqueid", ""))
        if spyer is None or spyee is None:
            return None
        call = self._started_call(spyee)
        return None if call is None else (spyer.endpoint, call)

    def _on_user_event(self, f: Fields) -> None:
        """The intent the rendered dialplan states (``cti dialplan render-asterisk``)."""
        kind = f.get("UserEvent")
        channel = self._channel(f)
        if channel is None:
            return
        call = self._calls.get(channel.call_id)
        if kind == "CtiInbound" and call is not None and channel is call.origin:
            self._start_inbound(call, f, did=f.get("Did"))
        elif kind == "CtiPickup":
            channel.pickup_code = f.get("Code", "")

    def _on_contact_status(self, f: Fields) -> None:
        aor = f.get("AOR", "")
        status = f.get("ContactStatus", "")
        if not self._extension.match(aor):
            return
        # NonQualified: registered, with no OPTIONS qualify configured (trace 00); Updated: a refresh.
        if status in ("Created", "Updated", "Reachable", "NonQualified"):
            self._emit(ev.DeviceRegistered(aor, self._at(f), contact=f.get("URI", "")))
        elif status in ("Removed", "Unreachable"):
            self._emit(ev.DeviceUnregistered(aor, self._at(f)))

    # -- helpers --------------------------------------------------------------------------------

    def _channel(self, f: Fields) -> Channel | None:
        """The event's channel; follows Asterisk when it moves a channel to another Linkedid."""
        channel = self._channels.get(f.get("Uniqueid", ""))
        if channel is None:
            return None
        linkedid = f.get("Linkedid")
        if linkedid and linkedid != channel.call_id and linkedid in self._calls:
            self._rehome(channel, self._calls[linkedid])
        return channel

    def _started_call(self, channel: Channel) -> CallTrack | None:
        """The call *channel* belongs to, if it is one we publish (started)."""
        call = self._calls.get(channel.call_id)
        return call if call is not None and call.started else None

    def _rehome(self, channel: Channel, call: CallTrack) -> None:
        """Move *channel* into *call* (pickup); a call left with no channel was never a call."""
        old = self._calls.get(channel.call_id)
        if old is not None:
            old.channels.discard(channel.uniqueid)
            if not old.channels:
                del self._calls[old.call_id]
        channel.call_id = call.call_id
        call.channels.add(channel.uniqueid)

    def _dialled(self, origin: Channel, f: Fields) -> str:
        if origin.first_exten not in ("", "s"):
            return origin.first_exten
        return f.get("Exten", "")

    def _external(self, number: str) -> str:
        if number in _UNKNOWN:
            return number
        return to_e164(number, self._region) or number

    def _start_inbound(self, call: CallTrack, f: Fields, *, did: str | None = None) -> None:
        if (
            not call.started
            and call.origin.kind is ChannelKind.TRUNK
            and call.origin.uniqueid == call.call_id
        ):
            self._start(call, Direction.INBOUND, f, did=did)

    def _start(
        self,
        call: CallTrack,
        direction: Direction,
        f: Fields,
        *,
        dialled: str | None = None,
        resynced: bool = False,
        did: str | None = None,
    ) -> None:
        origin = call.origin
        call.started = True
        call.direction = direction
        if direction is Direction.INBOUND:
            caller = Party(origin.caller_num, _name(origin.caller_name))
            external: str | None = self._external(origin.caller_num)
            # After a transfer a re-sync sees the trunk channel's current Exten (an extension), not
            # the DID it came in on: only a phone number is taken as the DID.
            did = to_e164(did or origin.first_exten, self._region)
            dialled = origin.first_exten
        else:
            caller = Party(
                origin.endpoint, _name(origin.caller_name) if not call.originated else "", origin.endpoint
            )
            dialled = dialled or ""
            external = self._external(dialled) if direction is Direction.OUTBOUND else None
            did = None
        self._emit(
            ev.CallStarted(
                CallId(call.call_id),
                call.created_at,
                direction,
                caller,
                dialled,
                external_number=external,
                did=did,
                resynced=resynced,
            )
        )
        for uniqueid in call.channels:  # files learnt before the call was known to be one
            self._announce_recording(self._channels[uniqueid], f)

    def _adopt(self, item: Fields, now: datetime) -> Channel:
        channel = self._make_channel(item)
        channel.first_exten = item.get("Exten", "")
        call = self._calls.get(channel.call_id)
        if call is None:
            started = now - _duration(item.get("Duration", ""))
            call = self._calls[channel.call_id] = CallTrack(channel.call_id, started, origin=channel)
        if channel.uniqueid == channel.call_id:
            call.origin = channel
        call.channels.add(channel.uniqueid)
        self._channels[channel.uniqueid] = channel
        return channel

    def _reconcile(
        self, call: CallTrack, now: datetime, *, adopted: bool, snapshot: Mapping[str, Fields]
    ) -> None:
        channels = [self._channels[uid] for uid in call.channels if uid in self._channels]
        stamp = {"Timestamp": str(now.timestamp())}
        if adopted and not call.started:
            direction = self._adopted_direction(call, channels)
            if direction is None:
                return  # one phone in the dialplan alone (a feature code, voicemail): not a call yet
            dialled = call.origin.first_exten
            if direction is Direction.OUTBOUND and (
                dialled in ("", "s") or call.origin.kind is ChannelKind.TRUNK
            ):
                # The number as dialled is the dialled trunk leg's Exten (its CallerID is our own DID).
                dialled = next(c.first_exten for c in channels if c.kind is ChannelKind.TRUNK)
            self._start(call, direction, stamp, dialled=dialled, resynced=True)
            log.info("ami_call_adopted", call_id=call.call_id, direction=direction.value)
        self._start_inbound(call, stamp)  # a known call from a trunk still in the IVR
        if not call.started:
            return
        for channel in channels:
            if channel.is_extension and channel.state == AST_STATE_RINGING and channel is not call.origin:
                self._ring(channel, stamp)
        if not call.answered:
            bridged = [c for c in channels if c.bridge and c.state == AST_STATE_UP]
            bridges = {c.bridge for c in bridged}
            if any(sum(1 for c in bridged if c.bridge == b) > 1 for b in bridges):
                party = next(
                    (c for c in bridged if c.is_extension and c is not call.origin),
                    next((c for c in bridged if c.kind is ChannelKind.TRUNK), None),
                )
                if party is not None:
                    self._answer(call, party, call.origin, stamp)

    def _adopted_direction(self, call: CallTrack, channels: list[Channel]) -> Direction | None:
        """Read an unknown call's direction off its live channels; make its caller the origin."""
        origin = self._channels.get(call.call_id)  # the channel that began it, if still up
        trunks = [c for c in channels if c.kind is ChannelKind.TRUNK]
        phones = [c for c in channels if c.is_extension]
        if origin is not None and origin.kind is ChannelKind.TRUNK:
            call.origin = origin
            return Direction.INBOUND
        # The phone that began it may have left (it transferred the call): a trunk leg that did
        # not begin the call was dialled, so the call went out.
        call.origin = origin or (phones[0] if phones else channels[0])
        if trunks:
            return Direction.OUTBOUND
        return Direction.INTERNAL if len(channels) > 1 else None

    def _at(self, f: Fields) -> datetime:
        stamp = f.get("Timestamp")
        if stamp:
            try:
                return datetime.fromtimestamp(float(stamp), UTC)
            except ValueError:
                pass
        return self._clock()

    def _emit(self, event: CtiEvent) -> None:
        self._publish(event)


def _name(value: str) -> str:
    return "" if value in _UNKNOWN else value


def _duration(text: str) -> timedelta:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return timedelta(0)
    hours, minutes, seconds = (int(p) for p in parts)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def replay_fields(lines: Iterable[Mapping[str, object]]) -> Iterable[Fields]:
    """The event field maps of parsed trace lines (dir == event), for offline feeding."""
    for line in lines:
        if line.get("dir") == "event":
            fields = line["fields"]
            if isinstance(fields, dict):
                yield {k: v if isinstance(v, str) else str(v[-1]) for k, v in fields.items()}
