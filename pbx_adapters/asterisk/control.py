"""AsteriskControl: the CTI's call commands as AMI actions (the PbxControl port's verbs).

Each verb finds the channels it needs through the tracker (so it acts on the call as it stands
now), sends one or a few actions with the link's timeout, and turns what goes wrong into cti
errors: ``NoSuchCall`` when the call is not live, ``PbxActionFailed`` when Asterisk says no or
the call has no channel of the needed kind, ``PbxUnavailable`` when the link is down or silent.
"""

from __future__ import annotations

from config.settings import AmiSettings
from cti.errors import NoSuchCall, PbxActionFailed
from cti.model import CallId

from .ami import AmiConnection
from .tracker import ChannelTracker

__all__ = ["AsteriskControl", "SpyMode"]

from cti.ports import SpyMode

_SPY_OPTIONS: dict[str, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
"ChanSpy options: q quiet (no beep), w whisper to the spied phone, B barge (talk to both), E end with it."


class AsteriskControl:
    def __init__(self, ami: AmiConnection, tracker: ChannelTracker, settings: AmiSettings) -> None:
        self._ami = ami
        self._tracker = tracker
        self._context = settings.context
        self._tech = settings.technology

    def _phone(self, extension: str) -> str:
        return f"{self._tech}/{extension}"

    def _require_call(self, call_id: CallId) -> None:
        if not self._tracker.channel_names(call_id):
            raise NoSuchCall(call_id)

    def _agent(self, call_id: CallId, by: str | None, verb: str) -> str:
        self._require_call(call_id)
        channel = self._tracker.agent_channel(call_id, by)
        if channel is None:
            who = f"extension {by}" if by else "any of our phones"
            raise PbxActionFailed(verb, f"{who} is not on call {call_id}")
        return channel

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        """Ring the agent's phone first; when it answers, Asterisk dials *to_number* from it."""
        action = {
            "Action": "Originate",
            "Channel": self._phone(from_extension),
            "Exten": to_number,
            "Context": self._context,
            "Priority": "1",
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = caller_id
        await self._ami.send(action)

    async def hangup(self, call_id: CallId) -> None:
        """Hang up every channel of the call (normal clearing).

        Hanging up one leg usually tears down the others before their turn: those answer "No such
        channel", which is the outcome we asked for.
        """
        names = self._tracker.channel_names(call_id)
        if not names:
            raise NoSuchCall(call_id)
        refused: list[PbxActionFailed] = []
        for name in names:
            try:
                await self._ami.send({"Action": "Hangup", "Channel": name, "Cause": "16"})
            except PbxActionFailed as exc:
                refused.append(exc)
        if len(refused) == len(names):
            raise refused[0]

    async def blind_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        """Send the other party to *to_extension* at once (the agent leaves the call)."""
        channel = self._agent(call_id, by, "BlindTransfer")
        await self._ami.send(
            {"Action": "BlindTransfer", "Channel": channel, "Exten": to_extension, "Context": self._context}
        )

    async def attended_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        """Put the other party on hold and call *to_extension* from the agent's phone.

        The agent talks to the target first; hanging up completes the transfer (or, while the
        target still rings, makes it blonde). Atxfer works by injecting the feature code as DTMF,
        which Asterisk mixes with any digit the agent keyed in the last second (trace 06c).
        """
        channel = self._agent(call_id, by, "Atxfer")
        await self._ami.send(
            {"Action": "Atxfer", "Channel": channel, "Exten": to_extension, "Context": self._context}
        )

    async def pickup(self, call_id: CallId, by_extension: str) -> None:
        """Ring *by_extension*; when it answers, it takes the call ringing elsewhere."""
        self._require_call(call_id)
        ringing = self._tracker.ringing_channel(call_id)
        if ringing is None:
            raise PbxActionFailed("Pickup", f"call {call_id} is not ringing at any phone")
        await self._ami.send(
            {
                "Action": "Originate",
                "Channel": self._phone(by_extension),
                "Application": "PickupChan",
                "Data": ringing,
                "Async": "true",
            }
        )

    async def move_to_conference(self, call_id: CallId, room: str) -> None:
        """Send every party of the call into conference *room* (a ConfBridge extension)."""
        self._require_call(call_id)
        first, *rest = self._tracker.party_channels(call_id)
        action = {
            "Action": "Redirect",
            "Channel": first,
            "Exten": room,
            "Context": self._context,
            "Priority": "1",
        }
        if rest:
            action |= {
                "ExtraChannel": rest[0],
                "ExtraExten": room,
                "ExtraContext": self._context,
                "ExtraPriority": "1",
            }
        await self._ami.send(action)
        for channel in rest[1:]:
            await self._ami.send(
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Exten": room,
                    "Context": self._context,
                    "Priority": "1",
                }
            )

    async def add_to_conference(self, room: str, extension: str) -> None:
        """Ring *extension*; when it answers it joins *room*."""
        await self._ami.send(
            {
                "Action": "Originate",
                "Channel": self._phone(extension),
                "Exten": room,
                "Context": self._context,
                "Priority": "1",
                "Async": "true",
            }
        )

    async def start_recording(self, call_id: CallId, file: str) -> None:
        """Record both directions of the agent's leg into *file* (MixMonitor, option b: bridged only)."""
        channel = self._agent(call_id, None, "MixMonitor")
        await self._ami.send({"Action": "MixMonitor", "Channel": channel, "File": file, "Options": "b"})

    async def stop_recording(self, call_id: CallId) -> None:
        channel = self._agent(call_id, None, "StopMixMonitor")
        await self._ami.send({"Action": "StopMixMonitor", "Channel": channel})

    async def spy(
        self, call_id: CallId, supervisor: str, mode: SpyMode = "listen", *, on: str | None = None
    ) -> None:
        """Ring the supervisor's phone; when answered it listens to (or whispers to, or barges
        into) the agent's leg of the call. Never a party of the call: the tracker shows a listener."""
        channel = self._agent(call_id, on, "ChanSpy")
        await self._ami.send(
            {
                "Action": "Originate",
                "Channel": self._phone(supervisor),
                "Application": "ChanSpy",
                "Data": f"{channel},{_SPY_OPTIONS[mode]}",
                "Async": "true",
            }
        )
