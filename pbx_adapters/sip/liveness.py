"""Hang up calls whose phone went silent: a phone that loses power or network sends no BYE.

Every connected call carries audio both ways all the time (G.711 sends silence too), so a leg that
received no RTP for ``timeout`` seconds while not on hold is gone. Without this, such a call would
hold its relay ports, its recording and the colleague's line forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from .calls import CallManager
    from .legs import Leg

__all__ = ["RtpWatchdog"]

log = structlog.get_logger(__name__)


class RtpWatchdog:
    def __init__(
        self, calls: CallManager, timeout: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.calls = calls
        self.timeout = timeout
        self._clock = clock
        self._seen: dict[Leg, tuple[int, float]] = {}
        "Per leg: the packet count last seen, and since when it has not moved."

    def check(self) -> None:
        """Look at every connected call once; hang up those with a silent, un-held leg."""
        if self.timeout <= 0:
            return
        now = self._clock()
        alive: set[Leg] = set()
        for session in list(self.calls.sessions.values()):
            if session.bridge is None:
                continue  # ringing, or in a feature (transfer, listen-in) that plays or mixes
            for leg in (session.a, session.b):
                if leg is None or not leg.up or leg.held:
                    continue
                alive.add(leg)
                count = leg.media.packets_received
                seen = self._seen.get(leg)
                if seen is None or seen[0] != count:
                    self._seen[leg] = (count, now)
                elif now - seen[1] >= self.timeout:
                    log.warning(
                        "sip_rtp_timeout", call_id=session.call_id, party=leg.number, seconds=self.timeout
                    )
                    session.hangup_all()
                    break
        for leg in [leg for leg in self._seen if leg not in alive]:
            del self._seen[leg]
