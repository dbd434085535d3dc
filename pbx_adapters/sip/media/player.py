"""Audio a leg plays instead of relayed sound: a call-progress tone or a WAV prompt.

The audio is fully encoded for the leg's codec when playing starts, so each 20 ms tick is a slice.
Prompt files are expected to be short (announcements, hold music loops): they are read whole.
"""

from __future__ import annotations

import wave
from pathlib import Path

from .errors import UnsupportedAudio
from .g711 import SAMPLE_RATE, Codec, audioop, encode
from .tones import Tone, tone_cycle

__all__ = ["FRAME_SAMPLES", "Player", "load_audio"]

FRAME_SAMPLES = 160
"20 ms at 8 kHz: the packetisation every desk phone defaults to."


def load_audio(source: Tone | Path, codec: Codec) -> bytes:
    """Return *source* encoded with *codec*, padded to whole 20 ms frames."""
    audio = tone_cycle(source, codec) if isinstance(source, Tone) else encode(codec, _read_wav(Path(source)))
    remainder = len(audio) % FRAME_SAMPLES
    if remainder:
        audio += encode(codec, bytes(2 * (FRAME_SAMPLES - remainder)))
    return audio


def _read_wav(path: Path) -> bytes:
    """Read a PCM WAV of any rate, width and channel count as 8 kHz 16-bit mono."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise UnsupportedAudio(f"cannot play {path}: {exc} (expected a PCM WAV file)") from exc
    if not frames:
        raise UnsupportedAudio(f"cannot play {path}: the file holds no audio")
    if width == 1:  # 8-bit WAV is unsigned; audioop works on signed samples
        frames = audioop.bias(frames, 1, -128)
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    if channels == 2:
        frames = audioop.tomono(frames, 2, 0.5, 0.5)
    elif channels != 1:
        raise UnsupportedAudio(f"cannot play {path}: {channels} channels (mono or stereo expected)")
    if rate != SAMPLE_RATE:
        frames, _ = audioop.ratecv(frames, 2, 1, rate, SAMPLE_RATE, None)
    return frames


class Player:
    """Hand out one encoded 20 ms frame per tick until the audio ends (or forever when looping)."""

    __slots__ = ("_audio", "_loop", "_offset")

    def __init__(self, audio: bytes, *, loop: bool) -> None:
        self._audio = audio
        self._loop = loop
        self._offset = 0

    def next_frame(self) -> bytes | None:
        """Return the next frame, or None once the audio has been played out."""
        if self._offset >= len(self._audio):
            if not self._loop:
                return None
            self._offset = 0
        frame = self._audio[self._offset : self._offset + FRAME_SAMPLES]
        self._offset += FRAME_SAMPLES
        return frame
