"""SipPbx: the embedded PBX as the cti ``PbxControl`` port, assembled from its parts.

Start order: the media engine (RTP ports), the SIP endpoint (UDP/TCP), then the running plan is
applied (HA1s for the registrar, trunk addresses and registrations). Every plan swap re-applies
it; an extension that lost its secret or left the plan loses its registrations at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import structlog

from config.dialplan_spec import DialplanSpec
from config.settings import Settings, SipSettings
from cti.errors import PbxUnavailable
from cti.events import CtiEvent
from cti.plan import PlanSnapshot, RunningPlan

from .auth import Authenticator, AuthGuard, GuardLimits
from .blf import Blf
from .calls import CallManager
from .control import SipControl
from .digest import DigestServer, ha1
from .endpoint import SipEndpoint
from .features import Features
from .liveness import RtpWatchdog
from .media import MediaEngine
from .registrar import Registrar, RegistrarLimits
from .transaction import Timers
from .trunk import Trunks

__all__ = ["SipPbx", "primary_address"]

log = structlog.get_logger(__name__)

EXPIRE_EVERY = 5.0
"Seconds between two housekeeping rounds: expired registrations, silent calls."


def primary_address() -> str:
    """The address this host reaches the outside from (no packet is sent: UDP connect only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class SipPbx(SipControl):
    """Registrar + B2BUA + trunks + media, publishing cti events."""

    def __init__(
        self,
        settings: Settings,
        publish: Callable[[CtiEvent], object],
        *,
        plan: RunningPlan | None = None,
        timers: Timers | None = None,
    ) -> None:
        sip: SipSettings = settings.sip
        self.settings = settings
        self.running = plan or RunningPlan()
        advertise = sip.advertise or (primary_address() if sip.host in ("0.0.0.0", "") else sip.host)  # noqa: S104
        self.endpoint = SipEndpoint(sip.host, sip.port, tcp=sip.tcp, timers=timers, advertise=advertise)
        self.engine = MediaEngine(sip.host, sip.rtp_port_min, sip.rtp_port_max, latch_only=sip.latch_only)
        self.digest = DigestServer(sip.realm)
        guard = AuthGuard(GuardLimits(sip.max_auth_failures, sip.failure_window, sip.block_seconds))
        self.auth = Authenticator(self.digest, guard)
        limits = RegistrarLimits(
            min_expires=sip.min_expires, max_expires=sip.max_expires, max_contacts=sip.max_contacts
        )
        self.registrar = Registrar(self.auth, self._emit, limits)
        self.endpoint.handlers["REGISTER"] = self.registrar.handle
        self.calls = CallManager(
            self.endpoint,
            self.engine,
            self.registrar,
            self.auth,
            lambda: self.running.spec,
            self._emit,
            # Absolute (the recordings pipeline takes only absolute paths from a PBX), and apart from
            # the store's own tree: this is the PBX's spool, the pipeline copies from it.
            Path(settings.recordings.directory).resolve() / "sip-spool",
        )
        self.features = Features(self.calls)
        self.trunks = Trunks(self.endpoint, self.calls)
        self.blf = Blf(self.endpoint, self.auth, self.calls)
        self.watchdog = RtpWatchdog(self.calls, sip.rtp_timeout)
        # A blocked address is ignored entirely, except the carrier's: a stranger guessing passwords
        # from the carrier's network must not cut the trunk.
        self.endpoint.blocked = lambda host: guard.blocked(host) and self.trunks.identify(host) is None
        self._publish = publish
        self._started = False
        self._unsubscribe: Callable[[], None] = lambda: None
        self._tasks: set[asyncio.Task[None]] = set()
        self._expiry: asyncio.Task[None] | None = None

    def _emit(self, event: CtiEvent) -> None:
        """Publish to the CTI, then let the busy lamps follow the same fact."""
        self._publish(event)
        self.blf.observe(event)

    def follow(self, running: RunningPlan) -> None:
        """Use *running* (the daemon's plan) and re-apply it on every swap."""
        self.running = running

    @property
    def connected(self) -> bool:
        return self._started

    @property
    def address(self) -> tuple[str, int]:
        """Where phones register: the advertised host and the bound SIP port."""
        local = self.endpoint.local
        return local.host, local.port

    async def start(self) -> None:
        await self.engine.start()
        try:
            await self.endpoint.start()
        except OSError as exc:
            await self.engine.stop()
            sip = self.settings.sip
            raise PbxUnavailable(
                f"cannot listen for SIP on {sip.host}:{sip.port}: {exc.strerror or exc} "
                "(another PBX on that port? set sip.port or CTI_SIP_PORT)"
            ) from exc
        self._started = True
        await self._apply(self.running.spec)
        self._unsubscribe = self.running.subscribe(self._swapped)
        self._expiry = asyncio.get_running_loop().create_task(self._expire(), name="sip-housekeeping")
        log.info("sip_pbx_started", address=f"{self.address[0]}:{self.address[1]}")

    async def stop(self) -> None:
        self._unsubscribe()
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        await self.calls.stop()
        await self.trunks.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.stop()
        await self.engine.stop()
        self._started = False

    def _swapped(self, _old: PlanSnapshot, new: PlanSnapshot) -> None:
        task = asyncio.get_running_loop().create_task(self._apply(new.spec), name="sip-apply-plan")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, plan: DialplanSpec) -> None:
        realm = self.digest.realm
        self.auth.ha1s = {
            number: ha1(number, realm, ext.secret)
            for number, ext in plan.extensions.items()
            if ext.secret and not ext.disabled
        }
        for extension in list(self.registrar.registered()):
            if extension not in self.auth.ha1s:
                self.registrar.drop(extension)
        await self.trunks.apply(plan)
        log.info("sip_plan_applied", extensions=len(self.auth.ha1s), trunks=len(plan.trunks))

    async def _expire(self) -> None:
        timeout = self.settings.sip.rtp_timeout
        every = min(EXPIRE_EVERY, timeout / 2) if timeout > 0 else EXPIRE_EVERY
        while True:
            await asyncio.sleep(every)
            self.registrar.expire()
            self.watchdog.check()
