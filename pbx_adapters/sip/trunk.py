"""The carrier's SIP trunks: registration (digest, refreshed before expiry), calls out through
them, and recognising calls in from them by source address only.

A From header is no proof of anything, so an INVITE is the carrier's only when it comes from an
address of the trunk's ``host`` or ``allow_from`` (resolved when the plan is applied). Calls out
present the caller ID of the route (or the trunk's), and answer the carrier's 401/407 with the
trunk's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from config.dialplan_spec import DialplanSpec, Trunk
from cti.routing import External

from .dialog import Dialog, new_tag
from .digest import answer_challenge
from .endpoint import SipEndpoint
from .legs import OutboundLeg
from .message import SipMessage
from .transport import Peer

if TYPE_CHECKING:
    from .calls import CallManager
    from .session import Session

__all__ = ["TrunkState", "Trunks"]

log = structlog.get_logger(__name__)

REGISTER_EXPIRES = 300
RETRY_AFTER = 30.0


@dataclass(slots=True)
class TrunkState:
    name: str
    spec: Trunk
    peer: Peer | None = None
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    registered: bool = False
    task: asyncio.Task[None] | None = None


class Trunks:
    """Every trunk of the running plan; re-read by :meth:`apply` on every plan swap."""

    def __init__(self, endpoint: SipEndpoint, manager: CallManager) -> None:
        self.endpoint = endpoint
        self.manager = manager
        self.trunks: dict[str, TrunkState] = {}
        manager.trunks = self

    async def apply(self, plan: DialplanSpec) -> None:
        """Resolve the trunks' addresses and (re)start their registrations."""
        await self.stop()
        loop = asyncio.get_running_loop()
        for name, spec in plan.trunks.items():
            state = TrunkState(name, spec)
            try:
                infos = await loop.getaddrinfo(spec.host, spec.port, type=socket.SOCK_DGRAM)
                address = str(infos[0][4][0])
                state.peer = Peer("tcp" if spec.transport == "tcp" else "udp", address, spec.port)
                state.networks.extend(ipaddress.ip_network(info[4][0]) for info in infos)
            except OSError as exc:
                log.warning("sip_trunk_unresolved", trunk=name, host=spec.host, error=str(exc))
            for allowed in spec.allow_from:
                with contextlib.suppress(ValueError):
                    state.networks.append(ipaddress.ip_network(allowed.strip("[]"), strict=False))
            self.trunks[name] = state
            if spec.registers and state.peer is not None:
                state.task = loop.create_task(self._keep_registered(state), name=f"sip-trunk-{name}")

    async def stop(self) -> None:
        for state in self.trunks.values():
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.task
        self.trunks = {}

    def identify(self, host: str) -> str | None:
        """The trunk whose addresses include *host*, else None."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        for name, state in self.trunks.items():
            if any(address in network for network in state.networks):
                return name
        return None

    # -- calls out -------------------------------------------------------------------------------

    async def place(self, session: Session, target: External) -> OutboundLeg | None:
        for via in target.via:
            state = self.trunks.get(via.trunk)
            if state is None or state.peer is None:
                continue
            spec = state.spec
            number = via.caller_id or spec.caller_id or session.caller.number
            media = await self.manager.engine.open_leg()
            leg = OutboundLeg(
                self.endpoint,
                media,
                number=target.number,
                extension=None,
                target=f"sip:{target.dial}@{spec.host}:{spec.port}",
                to=f"<sip:{target.dial}@{spec.host}>",
                from_=f"<sip:{number}@{spec.host}>",
                peer=state.peer,
            )
            if spec.username and spec.secret:
                leg.credentials = (spec.username, spec.secret)
            return leg
        return None

    # -- registration ----------------------------------------------------------------------------

    async def _keep_registered(self, state: TrunkState) -> None:
        assert state.peer is not None
        spec = state.spec
        aor = f"<sip:{spec.username}@{spec.host}>"
        dialog = Dialog.calling(
            target=f"sip:{spec.host}:{spec.port}",
            to=aor,
            from_=aor,
            peer=state.peer,
            local=self.endpoint.local,
        )
        dialog.local_tag = new_tag()
        while True:
            expires = await self._register(state, dialog)
            if expires:
                await asyncio.sleep(max(expires * 0.8, 10))
            else:
                await asyncio.sleep(RETRY_AFTER)

    async def _register(self, state: TrunkState, dialog: Dialog) -> int:
        """One REGISTER (answering a challenge once); the granted expiry, 0 on failure."""
        spec = state.spec
        request = self._register_request(dialog, spec)
        response = await self.endpoint.send(request, dialog.peer).final
        if response.status in (401, 407) and spec.username and spec.secret:
            proxy = response.status == 407
            challenge = response.header("Proxy-Authenticate" if proxy else "WWW-Authenticate")
            request = self._register_request(dialog, spec)
            answer = answer_challenge(
                challenge, method="REGISTER", uri=request.uri, username=spec.username, secret=spec.secret
            )
            request.add("Proxy-Authorization" if proxy else "Authorization", answer)
            response = await self.endpoint.send(request, dialog.peer).final
        if 200 <= response.status < 300:
            granted = _granted(response) or REGISTER_EXPIRES
            if not state.registered:
                log.info("sip_trunk_registered", trunk=state.name, expires=granted)
            state.registered = True
            return granted
        state.registered = False
        log.warning(
            "sip_trunk_registration_failed", trunk=state.name, status=response.status, reason=response.reason
        )
        return 0

    def _register_request(self, dialog: Dialog, spec: Trunk) -> SipMessage:
        request = dialog.request("REGISTER")
        request.set(
            "Contact", self.endpoint.local.contact(dialog.peer.transport, user=spec.username or "pbx")
        )
        request.add("Expires", str(REGISTER_EXPIRES))
        return request


def _granted(response: SipMessage) -> int:
    for contact in response.header_values("Contact"):
        for part in contact.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "expires" and value.isdigit():
                return int(value)
    expires = response.header("Expires")
    return int(expires) if expires.isdigit() else 0
