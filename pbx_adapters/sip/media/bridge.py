"""Two legs joined: each party's packets relayed to the other, optionally recorded in stereo.

When both legs speak the same codec the datagram is forwarded byte for byte (sequence numbers,
timestamps and SSRC are the sender's, as any RTP relay does). When they differ, the payload goes
through a 256-byte translation table (see ``g711``) and only the payload-type byte of the header
changes. Telephone-events are passed on too (an IVR behind the trunk needs them), renumbered to the
other side's negotiated payload type, or dropped when the other side negotiated none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from .errors import LegBusy, MediaError, MediaNotReady
from .g711 import transcode_table
from .leg import MediaLeg
from .recorder import RecordingScheduler, StereoRecorder
from .rtp import header_length, payload_end, with_payload_type

__all__ = ["Bridge", "bridge"]

log = structlog.get_logger(__name__)


def _audio_relay(source: MediaLeg, target: MediaLeg) -> Callable[[bytes], None] | None:
    if source.codec is None or target.codec is None:
        return None
    table = transcode_table(source.codec, target.codec)
    if table is None:
        return target.send_relayed
    payload_type = target.codec.payload_type
    send = target.send_relayed

    def transcode(packet: bytes) -> None:
        start = header_length(packet)
        # The P bit is cleared: the padding is not copied, so it no longer exists.
        first = bytes((packet[0] & 0xDF, (packet[1] & 0x80) | payload_type))
        send(first + packet[2:start] + packet[start : payload_end(packet)].translate(table))

    return transcode


def _event_relay(source: MediaLeg, target: MediaLeg) -> Callable[[bytes], None] | None:
    if source.dtmf_pt is None or target.dtmf_pt is None:
        return None
    if source.dtmf_pt == target.dtmf_pt:
        return target.send_relayed
    payload_type = target.dtmf_pt
    send = target.send_relayed
    return lambda packet: send(with_payload_type(packet, payload_type))


class Bridge:
    """A two-party conversation between legs *a* and *b* (create it with :func:`bridge`)."""

    def __init__(self, a: MediaLeg, b: MediaLeg, *, recordings: RecordingScheduler) -> None:
        if a is b:
            raise MediaError(f"cannot bridge RTP leg {a.local_port} with itself")
        for leg in (a, b):
            if leg.closed:
                raise MediaNotReady(f"RTP leg {leg.local_port} is closed")
            if leg.owner is not None:
                raise LegBusy(f"RTP leg {leg.local_port} is already in {leg.owner!r}; take it out first")
        self.a = a
        self.b = b
        self._recordings = recordings
        self._recorder: StereoRecorder | None = None
        self._finished: Path | None = None
        self._active = True
        a.owner = b.owner = self
        self._wire()
        log.debug("rtp_bridged", a=a.local_port, b=b.local_port)

    def __repr__(self) -> str:
        return f"<Bridge {self.a.local_port}<->{self.b.local_port}>"

    @property
    def active(self) -> bool:
        """True until :meth:`unbridge` (or a leg closing) ends the bridge."""
        return self._active

    @property
    def recording(self) -> Path | None:
        """The file being recorded to, if any."""
        return self._recorder.path if self._recorder is not None else None

    def start_recording(self, path: Path) -> None:
        """Record both parties to *path*: WAV, 8 kHz, 16-bit, left = a, right = b, written as it goes."""
        if not self._active:
            raise MediaNotReady(f"{self!r} is no longer active; nothing to record")
        if self._recorder is not None:
            raise MediaError(f"{self!r} is already recording to {self._recorder.path}")
        recorder = self._recordings.stereo(Path(path))
        self._recorder = recorder
        self._finished = None
        self.a.set_recorder(recorder.left.packets.append)
        self.b.set_recorder(recorder.right.packets.append)
        log.info("recording_started", path=str(recorder.path), a=self.a.local_port, b=self.b.local_port)

    def stop_recording(self) -> Path | None:
        """Finish the recording and return its path (None if nothing was recorded).

        A recording ended by :meth:`unbridge` or a closing leg is returned by the next call.
        """
        if self._recorder is None:
            finished, self._finished = self._finished, None
            return finished
        recorder, self._recorder = self._recorder, None
        self.a.set_recorder(None)
        self.b.set_recorder(None)
        path = self._recordings.finish(recorder)
        log.info("recording_stopped", path=str(path))
        return path

    def unbridge(self) -> None:
        """Stop relaying (and recording); both legs stay open for their next use."""
        if not self._active:
            return
        if self._recorder is not None:
            self._finished = self.stop_recording()
        self._active = False
        for leg in (self.a, self.b):
            leg.wire(None)
            leg.owner = None
        log.debug("rtp_unbridged", a=self.a.local_port, b=self.b.local_port)

    # -- LegOwner -------------------------------------------------------------------------------

    def leg_changed(self, leg: MediaLeg) -> None:
        """Re-wire after a re-INVITE changed a codec or the telephone-event type."""
        self._wire()

    def leg_closed(self, leg: MediaLeg) -> None:
        """A leg went away: the bridge ends (the other leg stays open)."""
        self.unbridge()

    def _wire(self) -> None:
        self.a.wire(_audio_relay(self.a, self.b), _event_relay(self.a, self.b))
        self.b.wire(_audio_relay(self.b, self.a), _event_relay(self.b, self.a))


def bridge(a: MediaLeg, b: MediaLeg) -> Bridge:
    """Relay audio both ways between *a* and *b*; transcode when their codecs differ."""
    return Bridge(a, b, recordings=a.engine.recordings)
