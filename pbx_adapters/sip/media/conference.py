"""A conference mixer: rooms, ad-hoc three-way calls, and a supervisor's listen / whisper / barge.

Every 20 ms tick takes one frame from each member (decoded to linear), and sends each member the
sum of what it may hear, never its own voice. Who hears whom:

- ``talk``: heard by everyone (a room member, or a supervisor barging in);
- ``listen``: heard by nobody, hears everyone who talks (a supervisor spying);
- ``whisper``: heard only by ``whisper_to`` (coaching an agent), hears everyone who talks.

Members that hear the same set share one mix, so a room of N talkers costs N mixes, and any number
of listeners one more. A member's inbox holds at most ``MAX_BUFFERED`` frames: a burst after
network jitter is smoothed, a backlog never grows into delay.

Recordings hold what the room says (every talking member, mixed once per tick): one for the whole
room, and one per member (``for_leg``) from the moment it starts until that member leaves, so each
member's call can carry its own file of the part it was in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog

from .errors import LegBusy, MediaError, MediaNotReady
from .g711 import Codec, add, decode, encode
from .player import FRAME_SAMPLES
from .recorder import MixRecorder
from .rtp import MIN_PACKET, header_length, payload_end

if TYPE_CHECKING:
    from .engine import MediaEngine
    from .leg import MediaLeg

__all__ = ["Conference", "MemberMode"]

log = structlog.get_logger(__name__)

MemberMode = Literal["talk", "listen", "whisper"]
FRAME_BYTES = 2 * FRAME_SAMPLES
MAX_BUFFERED = 3
"Frames (60 ms) a member may be ahead of the mixer before the oldest are dropped."
_SILENCE = bytes(FRAME_BYTES)
_CODECS = {codec.payload_type: codec for codec in Codec}


@dataclass(eq=False, slots=True)
class _Member:
    leg: MediaLeg
    mode: MemberMode
    whisper_to: MediaLeg | None
    inbox: deque[bytes] = field(default_factory=lambda: deque(maxlen=2 * MAX_BUFFERED))
    pcm: bytearray = field(default_factory=bytearray)

    def next_frame(self) -> bytes | None:
        """Decode what arrived and return one 20 ms linear frame, if there is one."""
        while self.inbox:
            packet = self.inbox.popleft()
            codec = _CODECS.get(packet[1] & 0x7F)
            if codec is not None and len(packet) > MIN_PACKET:
                self.pcm += decode(codec, packet[header_length(packet) : payload_end(packet)])
        if len(self.pcm) < FRAME_BYTES:
            return None
        excess = len(self.pcm) - MAX_BUFFERED * FRAME_BYTES
        if excess > 0:
            del self.pcm[:excess]
        frame = bytes(self.pcm[:FRAME_BYTES])
        del self.pcm[:FRAME_BYTES]
        return frame

    def hears(self, other: _Member) -> bool:
        """Whether *other*'s voice belongs in this member's mix."""
        if other is self:
            return False
        return other.mode == "talk" or (other.mode == "whisper" and other.whisper_to is self.leg)


class Conference:
    """A mixing room; legs join with :meth:`add` and leave with :meth:`remove` or by closing."""

    def __init__(self, engine: MediaEngine, name: str) -> None:
        self.name = name
        self._engine = engine
        self._members: dict[MediaLeg, _Member] = {}
        self._recorders: dict[MediaLeg | None, MixRecorder] = {}
        "Running recordings: the whole room's under None, a member's under its leg."
        self._finished: dict[MediaLeg | None, Path] = {}
        "Recordings finished by the room (a member left, the room closed) not yet collected."
        self._closed = False

    def __repr__(self) -> str:
        return f"<Conference {self.name!r} members={len(self._members)}>"

    @property
    def members(self) -> int:
        """How many legs are in the room."""
        return len(self._members)

    def add(self, leg: MediaLeg, *, mode: MemberMode = "talk", whisper_to: MediaLeg | None = None) -> None:
        """Bring *leg* into the room, or change how an existing member takes part."""
        if self._closed:
            raise MediaNotReady(f"conference {self.name!r} is closed")
        if mode not in ("talk", "listen", "whisper"):
            raise MediaError(f"conference mode must be talk, listen or whisper, not {mode!r}")
        if mode == "whisper" and whisper_to is None:
            raise MediaError("a whispering member needs whisper_to: the leg that hears the whisper")
        if leg.closed:
            raise MediaNotReady(f"RTP leg {leg.local_port} is closed")
        if leg.owner is not None and leg.owner is not self:
            raise LegBusy(f"RTP leg {leg.local_port} is already in {leg.owner!r}; take it out first")
        member = self._members.get(leg)
        if member is None:
            member = _Member(leg, mode, whisper_to)
            self._members[leg] = member
            leg.owner = self
            leg.wire(member.inbox.append)
            if len(self._members) == 1:
                self._engine.ticker.add(self._tick)
        else:
            member.mode, member.whisper_to = mode, whisper_to
        log.info("conference_member_added", conference=self.name, port=leg.local_port, mode=mode)

    def remove(self, leg: MediaLeg) -> None:
        """Take *leg* out of the room (it stays open)."""
        member = self._members.pop(leg, None)
        if member is None:
            return
        leg.wire(None)
        leg.owner = None
        if leg in self._recorders:
            self._finished[leg] = self._finish(leg)
        if not self._members:
            self._engine.ticker.discard(self._tick)
        log.info("conference_member_removed", conference=self.name, port=leg.local_port)

    def start_recording(self, path: Path, *, for_leg: MediaLeg | None = None) -> None:
        """Record what the room says (every talking member, mixed) to a mono 8 kHz 16-bit WAV.

        With *for_leg* the recording is that member's: several run at once, each from its own start
        until :meth:`stop_recording` for that leg, or until the member leaves the room.
        """
        if self._closed:
            raise MediaNotReady(f"conference {self.name!r} is closed")
        if for_leg is not None and for_leg not in self._members:
            raise MediaError(f"RTP leg {for_leg.local_port} is not in conference {self.name!r}")
        running = self._recorders.get(for_leg)
        if running is not None:
            whose = "the room" if for_leg is None else f"RTP leg {for_leg.local_port}"
            raise MediaError(f"conference {self.name!r} is already recording {whose} to {running.path}")
        recorder = self._engine.recordings.mix(Path(path))
        self._recorders[for_leg] = recorder
        self._finished.pop(for_leg, None)
        port = None if for_leg is None else for_leg.local_port
        log.info("recording_started", path=str(recorder.path), conference=self.name, port=port)

    def stop_recording(self, *, for_leg: MediaLeg | None = None) -> Path | None:
        """Finish the room's (or *for_leg*'s) recording and return its path (None if none ran).

        A member's recording that the room already finished (the member left, the room closed) is
        returned here once.
        """
        if for_leg not in self._recorders:
            return self._finished.pop(for_leg, None)
        return self._finish(for_leg)

    def _finish(self, key: MediaLeg | None) -> Path:
        recorder = self._recorders.pop(key)
        path = self._engine.recordings.finish(recorder)
        port = None if key is None else key.local_port
        log.info("recording_stopped", path=str(path), conference=self.name, port=port)
        return path

    def close(self) -> None:
        """Take every member out and finish every recording."""
        if self._closed:
            return
        for key in list(self._recorders):
            self._finished[key] = self._finish(key)
        for leg in list(self._members):
            self.remove(leg)
        self._closed = True

    # -- LegOwner -------------------------------------------------------------------------------

    def leg_changed(self, leg: MediaLeg) -> None:
        """Nothing to re-wire: frames are decoded by their own payload type."""

    def leg_closed(self, leg: MediaLeg) -> None:
        """A member hung up."""
        self.remove(leg)

    # -- the mixer ------------------------------------------------------------------------------

    def _tick(self) -> None:
        members = list(self._members.values())
        frames: dict[_Member, bytes] = {}
        for member in members:
            if member.mode == "listen":
                member.inbox.clear()  # heard by nobody: no need to decode
                continue
            frame = member.next_frame()
            if frame is not None:
                frames[member] = frame
        mixes: dict[tuple[int, ...], bytes] = {}
        for listener in members:
            codec = listener.leg.codec
            if codec is None:
                continue
            heard = [speaker for speaker in frames if listener.hears(speaker)]
            key = tuple(id(speaker) for speaker in heard)
            mix = mixes.get(key)
            if mix is None:
                mix = _SILENCE
                for speaker in heard:
                    mix = add(mix, frames[speaker])
                mixes[key] = mix
            listener.leg.send_generated(encode(codec, mix))
        if self._recorders:
            room = _SILENCE
            for speaker, frame in frames.items():
                if speaker.mode == "talk":
                    room = add(room, frame)
            for recorder in self._recorders.values():
                recorder.feed(room)
