"""Recordings: RTP from each party placed on one timeline, written as WAV off the loop.

The relay's only recording work per packet is a list append. Every ``FLUSH_INTERVAL`` a recorder
decodes its batch and places the packets by RTP timestamp, anchored to their arrival time, so
jitter does not smear the audio and gaps (lost packets, silence suppression, hold) become silence of
the right length. Runs of consecutive packets are decoded in one call. An anchor is re-taken when
the sender's SSRC changes or its clock strays more than ``REANCHOR`` from ours (a new stream after
a transfer or a re-INVITE). Audio is written ``HOLD_BACK`` behind real time so packets that arrive
late still land in place.

The :class:`RecordingScheduler` spreads the recorders over the ten 20 ms ticks of each flush
interval and hands the writer thread one batch per tick: the loop never does all recordings'
work in one burst (which would delay relayed packets), and the writer wakes 50 times a second
however many calls are recorded.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from array import array
from pathlib import Path

import structlog

from .g711 import SAMPLE_RATE, Codec, decode
from .rtp import FIXED_HEADER, MIN_PACKET, header_length, payload_end
from .ticker import TICK, Ticker
from .wavwriter import WavFile, WavWriter

__all__ = ["FLUSH_INTERVAL", "MixRecorder", "PacketTrack", "RecordingScheduler", "StereoRecorder"]

log = structlog.get_logger(__name__)

FLUSH_INTERVAL = 0.2
SLOTS = round(FLUSH_INTERVAL / TICK)
HOLD_BACK = SAMPLE_RATE // 2
"Frames (500 ms) kept open behind real time for packets that arrive (or are read) late."
REANCHOR = SAMPLE_RATE
"A stream whose timestamps stray this far (1 s) from its arrival times is placed anew."
_CODECS = {codec.payload_type: codec for codec in Codec}


class PacketTrack:
    """One party's packets, placed as 16-bit PCM on the recording's timeline."""

    __slots__ = ("_anchor_frame", "_anchor_ts", "_ssrc", "packets", "pending")

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        "Appended to by the relay's hot path; drained at every flush."
        self.pending = bytearray()
        "PCM from the recording's written frame onward (two bytes per frame)."
        self._ssrc: int | None = None
        self._anchor_ts = 0
        self._anchor_frame = 0

    def place(self, now_frame: int, written: int) -> None:
        """Decode the queued packets into ``pending``; *written* is the frame ``pending`` starts at."""
        batch = self.packets.copy()
        self.packets.clear()
        runs = self._runs(batch)
        after = sum(len(payload) for _, _, _, payload in runs)  # G.711: one byte per sample
        for codec, timestamp, ssrc, payload in runs:
            after -= len(payload)
            arrival = now_frame - after - len(payload)  # the batch's last packet arrived just now
            self._put(decode(codec, payload), self._frame_of(timestamp, ssrc, arrival) - written)

    @staticmethod
    def _runs(batch: list[bytes]) -> list[tuple[Codec, int, int, bytes]]:
        """Group packets that continue each other (same stream and codec, next timestamp)."""
        runs: list[tuple[Codec, int, int, bytes]] = []
        parts: list[bytes] = []
        unpack = FIXED_HEADER.unpack_from
        run_type = run_ssrc = next_ts = start = -1
        for packet in batch:
            if len(packet) <= MIN_PACKET:
                continue
            first, second, _, timestamp, ssrc = unpack(packet)
            # 0x80: no padding, extension or CSRCs, the usual case, so the payload starts at 12.
            payload = (
                packet[MIN_PACKET:] if first == 0x80 else packet[header_length(packet) : payload_end(packet)]
            )
            if timestamp != next_ts or ssrc != run_ssrc or second & 0x7F != run_type:
                if parts:
                    runs.append((_CODECS[run_type], start, run_ssrc, b"".join(parts)))
                    parts = []
                run_type, run_ssrc, start = second & 0x7F, ssrc, timestamp
                if run_type not in _CODECS:
                    run_type = -1
                    continue
            parts.append(payload)
            next_ts = (timestamp + len(payload)) & 0xFFFFFFFF
        if parts:
            runs.append((_CODECS[run_type], start, run_ssrc, b"".join(parts)))
        return runs

    def _frame_of(self, timestamp: int, ssrc: int, arrival: int) -> int:
        if ssrc == self._ssrc:
            delta = (timestamp - self._anchor_ts) & 0xFFFFFFFF
            if delta >= 0x80000000:
                delta -= 0x100000000
            frame = self._anchor_frame + delta
            if abs(frame - arrival) <= REANCHOR:
                return frame
        self._ssrc, self._anchor_ts, self._anchor_frame = ssrc, timestamp, arrival
        return arrival

    def _put(self, pcm: bytes, offset: int) -> None:
        if offset < 0:  # later than the hold-back: keep only what is still open
            pcm = pcm[-2 * offset :]
            offset = 0
        if not pcm:
            return
        start = 2 * offset
        stop = start + len(pcm)
        if len(self.pending) < stop:
            self.pending.extend(bytes(stop - len(self.pending)))
        self.pending[start:stop] = pcm

    def take(self, frames: int) -> bytes:
        """Remove and return exactly *frames* frames of PCM (silence where nothing arrived)."""
        size = 2 * frames
        chunk = bytes(self.pending[:size])
        del self.pending[:size]
        if len(chunk) < size:
            chunk += bytes(size - len(chunk))
        return chunk


class _Recorder(ABC):
    """One recording: turns what arrived since the last flush into frames for its file."""

    def __init__(self, file: WavFile, started: float) -> None:
        self.file = file
        self.slot = 0
        self._started = started
        self._written = 0

    @property
    def path(self) -> Path:
        """Where the recording is written."""
        return self.file.path

    def _frame_at(self, now: float) -> int:
        return int((now - self._started) * SAMPLE_RATE)

    @abstractmethod
    def flush(self, now: float, *, final: bool) -> bytes:
        """Return the frames ready to be written at loop time *now* (all of them when *final*)."""


class StereoRecorder(_Recorder):
    """Two parties, left and right, time-aligned from their RTP packets."""

    def __init__(self, file: WavFile, started: float) -> None:
        super().__init__(file, started)
        self.left = PacketTrack()
        self.right = PacketTrack()

    def flush(self, now: float, *, final: bool) -> bytes:
        """Place both tracks and return the interleaved frames up to the hold-back."""
        frame = self._frame_at(now)
        for track in (self.left, self.right):
            track.place(frame, self._written)
        if final:
            end = max(frame, self._written + max(len(self.left.pending), len(self.right.pending)) // 2)
        else:
            end = frame - HOLD_BACK
        frames = end - self._written
        if frames <= 0:
            return b""
        self._written = end
        stereo = array("h", bytes(4 * frames))
        stereo[0::2] = array("h", self.left.take(frames))
        stereo[1::2] = array("h", self.right.take(frames))
        return stereo.tobytes()


class MixRecorder(_Recorder):
    """One mono channel fed with already mixed 16-bit frames (a conference room)."""

    def __init__(self, file: WavFile, started: float) -> None:
        super().__init__(file, started)
        self._frames = bytearray()

    def feed(self, pcm: bytes) -> None:
        """Append one mixed frame."""
        self._frames += pcm

    def flush(self, now: float, *, final: bool) -> bytes:
        """Return every frame fed since the last flush."""
        frames = bytes(self._frames)
        self._frames.clear()
        return frames


class RecordingScheduler:
    """Flush every recorder once per ``FLUSH_INTERVAL``, a tenth of them on each 20 ms tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ticker: Ticker, writer: WavWriter) -> None:
        self._loop = loop
        self._ticker = ticker
        self._writer = writer
        self._slots: list[dict[_Recorder, None]] = [{} for _ in range(SLOTS)]
        self._tick_number = 0
        self._count = 0

    @property
    def active(self) -> int:
        """How many recordings are running."""
        return self._count

    def stereo(self, path: Path) -> StereoRecorder:
        """Start a two-party recording at *path*."""
        recorder = StereoRecorder(self._writer.open(path, channels=2), self._loop.time())
        self._add(recorder)
        return recorder

    def mix(self, path: Path) -> MixRecorder:
        """Start a mono recording at *path* fed with mixed frames."""
        recorder = MixRecorder(self._writer.open(path, channels=1), self._loop.time())
        self._add(recorder)
        return recorder

    def finish(self, recorder: _Recorder) -> Path:
        """Write what is left, close the file with its final header and return its path."""
        slot = self._slots[recorder.slot]
        if recorder in slot:
            del slot[recorder]
            self._count -= 1
            if not self._count:
                self._ticker.discard(self._tick)
            recorder.file.write(recorder.flush(self._loop.time(), final=True))
            if not recorder.file.close():
                log.warning("recording_close_slow", path=str(recorder.path))
        return recorder.path

    def finish_all(self) -> list[Path]:
        """Finish every running recording (the engine is stopping)."""
        return [self.finish(recorder) for slot in self._slots for recorder in list(slot)]

    def _add(self, recorder: _Recorder) -> None:
        recorder.slot = min(range(SLOTS), key=lambda slot: len(self._slots[slot]))
        self._slots[recorder.slot][recorder] = None
        self._count += 1
        if self._count == 1:
            self._ticker.add(self._tick)

    def _tick(self) -> None:
        slot = self._slots[self._tick_number % SLOTS]
        self._tick_number += 1
        if not slot:
            return
        now = self._loop.time()
        batch: list[tuple[WavFile, bytes | None, None]] = []
        for recorder in slot:
            try:
                pcm = recorder.flush(now, final=False)
            except Exception:  # a recording bug must not stop the others or the relay
                log.exception("recording_flush_failed", path=str(recorder.path))
                continue
            if pcm:
                batch.append((recorder.file, pcm, None))
        self._writer.write_batch(batch)
