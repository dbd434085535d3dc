"""One party's RTP endpoint on the PBX: a UDP port pair, symmetric RTP, DTMF, player, hold.

The hot path (``datagram_received``) does as little as Python allows: compare the source with the
latched one, read the payload-type byte, and hand the datagram, untouched, to whatever the leg is
wired to (a bridge's relay, a conference inbox, a recorder). Everything else happens off that path.
The socket is read with ``loop.add_reader`` rather than an asyncio datagram transport: the selector
loop's transport allocates a 256 KiB buffer for every datagram (about half of its per-packet cost),
and its unbounded send buffer is the wrong answer for RTP, where a packet that cannot be sent now
is better dropped than sent late.

Symmetric RTP (RFC 4961 practice): the address in the peer's SDP is often wrong (a phone behind NAT,
or baresip announcing its external interface), so the leg sends where the peer's packets really come
from. Before the first packet it sends to the SDP address, unless the engine is ``latch_only`` (tests,
loopback labs), where it sends nowhere until the peer has spoken. Once latched, another source must
send ``RELATCH_AFTER`` packets in a row before the leg moves to it: a NAT rebinding wins within a
fraction of a second, a stray packet never does, and a spoofer must out-send the phone (the RTP
bleed mitigation of rtpproxy and rtpengine; SRTP is the real cure and is out of scope here).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from .dtmf import DtmfDetector
from .errors import MediaNotReady
from .g711 import Codec
from .player import FRAME_SAMPLES, Player, load_audio
from .rtp import MIN_PACKET, build
from .tones import Tone

if TYPE_CHECKING:
    from .engine import MediaEngine

__all__ = ["RELATCH_AFTER", "Address", "MediaLeg"]

log = structlog.get_logger(__name__)

Address = tuple[str, int]
RECEIVE_SIZE = 4096
"Larger than any G.711 or telephone-event packet; a longer datagram is not RTP for us."
RELATCH_AFTER = 10
"Consecutive packets (200 ms of audio) a new source needs to take over a latched leg."


class LegOwner(Protocol):
    """What a leg is part of (a bridge or a conference): told when the leg changes or goes away."""

    def leg_changed(self, leg: MediaLeg) -> None: ...

    def leg_closed(self, leg: MediaLeg) -> None: ...


class MediaLeg:
    """An RTP endpoint for one party of a call, opened by :meth:`MediaEngine.open_leg`."""

    def __init__(
        self,
        engine: MediaEngine,
        host: str,
        port: int,
        sockets: tuple[socket.socket, socket.socket],
        *,
        latch_only: bool,
    ) -> None:
        self.local_host = host
        self.local_port = port
        self.on_dtmf: Callable[[str], None] | None = None
        "Called once per key press ('0'-'9', '*', '#', 'A'-'D'), from the event loop."
        self.codec: Codec | None = None
        self.dtmf_pt: int | None = None
        self.remote: Address | None = None
        "The address from the peer's SDP (where we send until the peer's own packets tell better)."
        self.packets_received = 0
        self.packets_sent = 0
        self.send_errors = 0
        self._engine = engine
        self._sock, self._rtcp = sockets
        self._latch_only = latch_only
        self._source: Address | None = None
        self._candidate: Address | None = None
        self._candidate_count = 0
        self._held = False
        self._closed = False
        self._player: Player | None = None
        self._target: Address | None = None
        "Where anything we send goes now; None: nowhere (unknown, latch pending, held or closed)."
        self._relay_to: Address | None = None
        "Where relayed or mixed audio goes: the target, unless a player has the leg."
        self._audio_pt = -1
        self._sink: Callable[[bytes], None] | None = None
        "Receives every audio datagram from the peer (a relay, a conference inbox)."
        self._dtmf_sink: Callable[[bytes], None] | None = None
        self._record: Callable[[bytes], None] | None = None
        self._detector = DtmfDetector(self._key_pressed)
        self.owner: LegOwner | None = None
        # Our own outgoing stream, for audio we generate (tones, prompts, conference mixes).
        self._ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._marker = True

    def __repr__(self) -> str:
        return f"<MediaLeg {self.local_host}:{self.local_port} source={self._source} remote={self.remote}>"

    @property
    def engine(self) -> MediaEngine:
        """The engine that opened this leg."""
        return self._engine

    @property
    def source(self) -> Address | None:
        """The address the peer's packets come from (where we send once known), if any yet."""
        return self._source

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    # -- set-up from the signalling side --------------------------------------------------------

    def configure(self, remote: Address | None, codec: Codec, dtmf_pt: int | None) -> None:
        """Apply the negotiated session: the peer's SDP address, the codec and the telephone-event type.

        Called again on every re-INVITE. A new SDP address drops the latch (the peer moved); the same
        address keeps it, so a phone that always announces a wrong address stays reachable. The
        unspecified address (``c=IN IP4 0.0.0.0``, RFC 2543 hold) is no address and changes nothing.
        """
        if self._closed:
            raise MediaNotReady(f"RTP leg {self.local_port} is closed")
        if remote is not None and remote[0] in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
            remote = self.remote
        if remote is not None and self.remote is not None and remote != self.remote:
            self._source = None
        self.remote = remote
        self.codec = codec
        self.dtmf_pt = dtmf_pt
        self._audio_pt = codec.payload_type
        self._update_target()
        if self.owner is not None:
            self.owner.leg_changed(self)

    def hold(self, on: bool) -> None:
        """Stop (or resume) sending anything to the peer; what it sends is still received."""
        self._held = on
        self._marker = True
        self._update_target()

    def play(self, tone: Tone | Path, *, loop: bool = False) -> None:
        """Play a call-progress tone or a WAV file to the peer instead of relayed audio."""
        if self._closed or self.codec is None:
            raise MediaNotReady(f"RTP leg {self.local_port} must be configured (codec known) before playing")
        self._player = Player(load_audio(tone, self.codec), loop=loop)
        self._marker = True
        self._update_target()
        self._engine.ticker.add(self._play_tick)

    def stop_playing(self) -> None:
        """Stop the player (if any); relayed audio resumes."""
        if self._player is not None:
            self._player = None
            self._engine.ticker.discard(self._play_tick)
            self._update_target()

    @property
    def playing(self) -> bool:
        """True while a tone or file is playing."""
        return self._player is not None

    def close(self) -> None:
        """Leave any bridge or conference, close the ports and give them back to the engine."""
        if self._closed:
            return
        self.stop_playing()
        if self.owner is not None:
            self.owner.leg_closed(self)
        self._closed = True
        self._update_target()
        self._engine.loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._rtcp.close()
        self._engine.release(self)
        log.debug(
            "rtp_leg_closed",
            port=self.local_port,
            received=self.packets_received,
            sent=self.packets_sent,
            send_errors=self.send_errors,
        )

    # -- wiring, for bridges and conferences ----------------------------------------------------

    def wire(
        self, sink: Callable[[bytes], None] | None, dtmf_sink: Callable[[bytes], None] | None = None
    ) -> None:
        """Set where this leg's audio and telephone-event datagrams go (None: nowhere)."""
        self._sink = sink
        self._dtmf_sink = dtmf_sink

    def set_recorder(self, record: Callable[[bytes], None] | None) -> None:
        """Send a copy of every audio datagram to *record* (None stops)."""
        self._record = record

    def send_relayed(self, packet: bytes) -> None:
        """Send a relayed (or mixed) packet to the peer, unless held or a player has the leg."""
        target = self._relay_to
        if target is not None:
            self._send(packet, target)

    def send_generated(self, payload: bytes, *, from_player: bool = False) -> None:
        """Send one 20 ms frame of our own audio (a mix, or the player's) in the leg's own RTP stream."""
        if self._player is not None and not from_player:
            return  # the player has the leg; a conference mix waits
        target = self._target if from_player else self._relay_to
        self._timestamp += FRAME_SAMPLES
        if target is None or self.codec is None:
            self._marker = True
            return
        self._seq += 1
        packet = build(
            self.codec.payload_type, self._seq, self._timestamp, self._ssrc, payload, marker=self._marker
        )
        self._marker = False
        self._send(packet, target)

    # -- the socket ---------------------------------------------------------------------------

    def start_reading(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have *loop* call us whenever a datagram waits (the engine does this once)."""
        loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, addr = self._sock.recvfrom(RECEIVE_SIZE)
        except OSError:  # a spurious wake-up, or an ICMP error queued on the socket
            return
        self.datagram_received(data, addr)

    def _send(self, packet: bytes, target: Address) -> None:
        try:
            self._sock.sendto(packet, target)
        except OSError as exc:  # a full socket buffer, or the network refused: this packet is lost
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning(
                    "rtp_send_failed", port=self.local_port, target=f"{target[0]}:{target[1]}", error=str(exc)
                )
        else:
            self.packets_sent += 1

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Take one datagram from the peer: the hot path."""
        if addr != self._source and not self._accept_source(addr):
            return
        self._candidate = None
        if len(data) <= MIN_PACKET:
            return
        self.packets_received += 1
        payload_type = data[1] & 0x7F
        if payload_type == self._audio_pt:
            if self._record is not None:
                self._record(data)
            if self._sink is not None:
                self._sink(data)
        elif payload_type == self.dtmf_pt:
            self._detector.feed(data)
            if self._dtmf_sink is not None:
                self._dtmf_sink(data)

    # -- internals ------------------------------------------------------------------------------

    def _accept_source(self, addr: Address) -> bool:
        if self._source is not None:
            if addr != self._candidate:
                self._candidate, self._candidate_count = addr, 0
            self._candidate_count += 1
            if self._candidate_count < RELATCH_AFTER:
                return False
        log.info(
            "rtp_latched",
            port=self.local_port,
            source=f"{addr[0]}:{addr[1]}",
            previous=self._source,
            sdp=self.remote,
        )
        self._source = addr
        self._update_target()
        return True

    def _update_target(self) -> None:
        target = self._source
        if target is None and not self._latch_only:
            target = self.remote
        self._target = None if self._held or self._closed else target
        self._relay_to = None if self._player is not None else self._target

    def _play_tick(self) -> None:
        player = self._player
        if player is None:
            return
        frame = player.next_frame()
        if frame is None:
            self.stop_playing()
            self._marker = True
        else:
            self.send_generated(frame, from_player=True)

    def _key_pressed(self, key: str) -> None:
        log.debug("dtmf_received", port=self.local_port)  # never the key: callers type PINs and card numbers
        if self.on_dtmf is not None:
            try:
                self.on_dtmf(key)
            except Exception:  # the signalling side's bug must not break the media path
                log.exception("dtmf_callback_failed", port=self.local_port)
