"""What a played trace leaves live in Asterisk: channels, bridges and variables.

`AmiTraceServer` folds every event it plays into a `LiveState`, so the list and query actions a
client sends after a reconnect (``CoreShowChannels``, ``BridgeList``, ``Status``, ``Getvar``) get
the answers the real Asterisk would have given at that point of the recording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .trace import Fields, TraceLine, first_value

__all__ = ["BRIDGE_KEYS", "CHANNEL_KEYS", "LiveChannel", "LiveState", "duration", "header", "var_name"]

# The channel snapshot every channel event carries, in Asterisk's order.
CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
BRIDGE_KEYS = (
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
    "BridgeVideoSource",
)


def header(fields: Mapping[str, str | list[str]], key: str) -> str:
    """Header lookup as Asterisk does it: the key's case does not matter."""
    if key in fields:
        return first_value(fields, key)
    lowered = key.lower()
    for name in fields:
        if name.lower() == lowered:
            return first_value(fields, name)
    return ""


def var_name(name: str) -> str:
    # "__REC_FILE" (inherited by every descendant channel) is read back as REC_FILE, as in Asterisk.
    return name.lstrip("_")


def duration(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass(slots=True)
class LiveChannel:
    snapshot: dict[str, str]
    created: float
    application: str = ""
    application_data: str = ""
    bridge: str = ""
    variables: dict[str, str] = field(default_factory=dict)


class LiveState:
    """Channels and bridges as the events so far describe them (what Asterisk would list now)."""

    def __init__(self) -> None:
        self.channels: dict[str, LiveChannel] = {}  # by Uniqueid, in creation order
        self.bridges: dict[str, dict[str, str]] = {}  # by BridgeUniqueid
        self.globals: dict[str, str] = {}

    def by_name(self, name: str) -> LiveChannel | None:
        for channel in self.channels.values():
            if channel.snapshot.get("Channel") == name:
                return channel
        return None

    def apply(self, line: TraceLine) -> None:
        fields = line.fields
        event = line.get("Event")
        if event == "Newchannel":
            snapshot = {key: first_value(fields, key) for key in CHANNEL_KEYS}
            self.channels[snapshot["Uniqueid"]] = LiveChannel(snapshot=snapshot, created=line.t)
        elif event == "BridgeCreate":
            self.bridges[line.get("BridgeUniqueid")] = {
                key: first_value(fields, key) for key in BRIDGE_KEYS if key in fields
            }
        self._refresh_snapshots(fields)
        uniqueid = line.get("Uniqueid")
        channel = self.channels.get(uniqueid)
        if event == "VarSet":
            name, value = var_name(line.get("Variable")), line.get("Value")
            if channel is not None:
                channel.variables[name] = value
            elif not uniqueid:
                self.globals[name] = value
        elif channel is None:
            pass
        elif event == "Newexten":
            channel.application = line.get("Application")
            channel.application_data = line.get("AppData")
        elif event == "Rename":
            channel.snapshot["Channel"] = line.get("Newname") or channel.snapshot["Channel"]
        elif event == "BridgeEnter":
            channel.bridge = line.get("BridgeUniqueid")
        elif event == "BridgeLeave" and channel.bridge == line.get("BridgeUniqueid"):
            channel.bridge = ""
        elif event == "Hangup":
            del self.channels[uniqueid]
        if event == "BridgeDestroy":
            gone = line.get("BridgeUniqueid")
            self.bridges.pop(gone, None)
            for other in self.channels.values():
                if other.bridge == gone:
                    other.bridge = ""

    def _refresh_snapshots(self, fields: Fields) -> None:
        # Most AMI events carry full snapshots of the channels and bridges they are about, under a
        # prefix (Dest*, Transferer*, Spyee*, To*/From* for bridges...): keep the latest. Partial
        # blobs (OriginateResponse's Exten is the originate target) are not snapshots: skip them.
        for key in fields:
            if key.endswith("BridgeUniqueid"):
                prefix = key.removesuffix("BridgeUniqueid")
                bridge = self.bridges.get(first_value(fields, key))
                if bridge is not None and prefix + "BridgeType" in fields:
                    for name in BRIDGE_KEYS:
                        if prefix + name in fields:
                            bridge[name] = first_value(fields, prefix + name)
            elif key.endswith("Uniqueid"):
                prefix = key.removesuffix("Uniqueid")
                channel = self.channels.get(first_value(fields, key))
                if channel is not None and prefix + "ChannelStateDesc" in fields:
                    for name in CHANNEL_KEYS:
                        if prefix + name in fields:
                            channel.snapshot[name] = first_value(fields, prefix + name)
