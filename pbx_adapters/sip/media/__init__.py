"""Media for the embedded PBX: RTP relay, recording, DTMF, tones and prompts, conference mixing.

The signalling side opens a :class:`MediaLeg` per party from the :class:`MediaEngine`, configures it
from the negotiated SDP, and joins legs with :func:`bridge` (two parties) or a :class:`Conference`.
"""

from __future__ import annotations

from .bridge import Bridge, bridge
from .conference import Conference, MemberMode
from .engine import MediaEngine
from .errors import LegBusy, MediaError, MediaNotReady, PortsExhausted, RecordingFailed, UnsupportedAudio
from .g711 import Codec
from .leg import MediaLeg
from .tones import Tone

__all__ = [
    "Bridge",
    "Codec",
    "Conference",
    "LegBusy",
    "MediaEngine",
    "MediaError",
    "MediaLeg",
    "MediaNotReady",
    "MemberMode",
    "PortsExhausted",
    "RecordingFailed",
    "Tone",
    "UnsupportedAudio",
    "bridge",
]
