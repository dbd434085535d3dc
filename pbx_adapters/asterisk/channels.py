"""AMI-side bookkeeping: channels and the calls they belong to (Asterisk vocabulary stays here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

__all__ = ["AST_STATE_RINGING", "AST_STATE_UP", "CallTrack", "Channel", "ChannelKind", "classify"]

AST_STATE_DOWN = 0
AST_STATE_RING = 4
AST_STATE_RINGING = 5
AST_STATE_UP = 6


class ChannelKind(Enum):
    EXTENSION = "extension"
    TRUNK = "trunk"
    LOCAL = "local"
    """Local/...;1 and ;2 halves: dialplan plumbing, never a party."""


def classify(name: str, extension_pattern: re.Pattern[str]) -> tuple[ChannelKind, str]:
    """``PJSIP/101-0000000a`` -> (EXTENSION, "101"); ``PJSIP/trunk-00000002`` -> (TRUNK, "trunk")."""
    tech, _, rest = name.partition("/")
    if tech == "Local":
        return ChannelKind.LOCAL, rest.partition("@")[0]
    endpoint = rest.rsplit("-", 1)[0] if "-" in rest else rest
    if extension_pattern.match(endpoint):
        return ChannelKind.EXTENSION, endpoint
    return ChannelKind.TRUNK, endpoint


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    kind: ChannelKind
    endpoint: str
    call_id: str
    caller_num: str = ""
    caller_name: str = ""
    first_exten: str = ""
    "The Exten of Newchannel: what a phone dialled, or the DID a trunk call came in on."
    dialled: str = ""
    "For a trunk leg we dialled: the number in the dial string."
    dialled_by: str | None = None
    "The channel whose Dial created this one (a Local ``;2`` half for a transfer's target)."
    state: int = AST_STATE_DOWN
    ringing: bool = False
    answered: bool = False
    bridge: str | None = None
    recording_file: str | None = None
    "Where MixMonitor writes (from Newexten AppData, VarSet MIXMONITOR_FILENAME or Cdr)."
    recording: bool = False
    recording_announced: bool = False
    pickup_code: str = ""
    "The code a CtiPickup UserEvent named for this (picking) channel."

    @property
    def is_extension(self) -> bool:
        return self.kind is ChannelKind.EXTENSION


@dataclass(slots=True)
class CallTrack:
    """What the tracker knows of one Linkedid while its channels live."""

    call_id: str
    created_at: datetime
    origin: Channel
    channels: set[str] = field(default_factory=set)
    started: bool = False
    direction: str | None = None
    originated: bool = False
    "Made by an AMI Originate: the first leg rings our agent's phone, which is not the call yet."
    answered: bool = False
    ever_rang: bool = False
    last_rang: str | None = None
    busy: bool = False
    failed: bool = False
    talking: set[str] = field(default_factory=set)
    recordings: set[str] = field(default_factory=set)
    last_cause: int | None = None
