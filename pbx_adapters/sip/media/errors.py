"""What can go wrong on the media side, in words an operator can act on."""

from __future__ import annotations

__all__ = ["LegBusy", "MediaError", "MediaNotReady", "PortsExhausted", "RecordingFailed", "UnsupportedAudio"]


class MediaError(Exception):
    """Base of every media-side error the signalling layer may catch."""


class PortsExhausted(MediaError):
    """Every even RTP port of the configured range is taken."""


class MediaNotReady(MediaError):
    """An operation needs something not done yet (engine not started, leg not configured, leg closed)."""


class LegBusy(MediaError):
    """A leg is already bridged or in a conference, and a leg carries one conversation at a time."""


class UnsupportedAudio(MediaError):
    """A file to play is not audio we can send (not a PCM WAV, or unreadable)."""


class RecordingFailed(MediaError):
    """A recording file cannot be created."""
