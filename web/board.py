"""LiveBoard: the supervisors' view of the PBX right now, pushed over their WebSockets.

One more bus subscriber. A supervisor's socket first gets a snapshot (every call in progress and every
extension's state), then one frame per change; each socket sees only the calls its user may read
(``can_see``, built from the user's rights when the socket opens). Frames (see ``static/board.js``):

- ``{"type": "snapshot", "calls": [call...], "extensions": [extension...], "alerts": [...]}``;
- ``{"type": "call", "call": call}`` when a call starts or changes; ``{"type": "ended", "call_id"}``;
- ``{"type": "extension", "extension": extension}`` when a phone registers, rings, talks, frees, DND.

A slow browser never holds the others up: each send has a timeout, after which that socket is closed
(the page reconnects and gets a fresh snapshot).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiohttp import WSCloseCode, web

from cti.bus import EventBus
from cti.events import DeviceRegistered, DeviceUnregistered, DndChanged
from cti.model import Call, CallState
from cti.plan import RunningPlan
from cti.registry import CallRegistry, DeviceState

__all__ = ["CallFilter", "LiveBoard", "call_frame", "extension_frame"]

log = structlog.get_logger(__name__)

Frame = dict[str, Any]
CallFilter = Callable[[Call], bool]
"True when the socket's user may see this call."


def call_frame(call: Call) -> Frame:
    """A call as the board shows it: who, with whom, since when, in which state."""
    return {
        "call_id": call.call_id,
        "direction": call.direction.value,
        "caller": {
            "number": call.caller.number,
            "name": call.caller.name,
            "extension": call.caller.extension,
        },
        "dialled": call.dialled,
        "external_number": call.external_number,
        "did": call.did,
        "state": call.state.value,
        "ringing": list(call.ringing),
        "talking": list(call.talking),
        "answered_by": call.answered_by,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "conference": call.conference,
        "recording": bool(call.recordings) and call.state is not CallState.ENDED,
        "listeners": list(call.listeners),
    }


def extension_frame(extension: str, name: str, device: DeviceState | None, calls: Iterable[Call]) -> Frame:
    """One phone's state: registered, DND, and talking > ringing > idle from the calls in progress."""
    state = "idle"
    for call in calls:
        calling = call.caller.extension == extension
        if extension in call.talking or (calling and call.state is CallState.TALKING):
            state = "talking"
            break
        if extension in call.ringing:
            state = "ringing"
        elif calling and call.state is CallState.DIALING and state == "idle":
            state = "dialing"
    return {
        "extension": extension,
        "name": name,
        "registered": device.registered if device else False,
        "dnd": device.dnd if device else False,
        "state": state,
    }


class LiveBoard:
    """Keep supervisors' sockets with their filters, and push every change of calls and phones."""

    def __init__(self, registry: CallRegistry, plan: RunningPlan, *, send_timeout: float = 5.0) -> None:
        self._registry = registry
        self._plan = plan
        self._send_timeout = send_timeout
        self._sockets: dict[web.WebSocketResponse, CallFilter] = {}
        self.alerts: dict[str, str] = {}
        "Conditions a supervisor must see (a full recordings disk...): key -> message; set by others."
        self.started = asyncio.Event()

    @property
    def clients(self) -> int:
        return len(self._sockets)

    def snapshot(self, can_see: CallFilter) -> Frame:
        calls = [call for call in self._registry if call.state is not CallState.ENDED]
        return {
            "type": "snapshot",
            "calls": [call_frame(call) for call in calls if can_see(call)],
            "extensions": self._extensions(calls),
            "alerts": sorted(self.alerts.values()),
        }

    async def add(self, ws: web.WebSocketResponse, can_see: CallFilter) -> None:
        """Register *ws* and send it the board as it stands."""
        self._sockets[ws] = can_see
        await self._send(ws, self.snapshot(can_see))

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._sockets.pop(ws, None)

    async def close_all(self, *, code: int, message: bytes) -> None:
        for ws in list(self._sockets):
            await ws.close(code=code, message=message)
        self._sockets.clear()

    async def run(self, bus: EventBus) -> None:
        async with bus.subscribe("board", maxsize=10_000) as subscription:
            self.started.set()
            async for notice in subscription:
                if not self._sockets:
                    continue
                if isinstance(notice.event, DeviceRegistered | DeviceUnregistered | DndChanged):
                    await self._push_extensions([notice.event.extension])
                    continue
                call = notice.call
                if call is None:
                    continue
                if call.state is CallState.ENDED:
                    frame: Frame = {"type": "ended", "call_id": call.call_id}
                else:
                    frame = {"type": "call", "call": call_frame(call)}
                await self._fan_out(frame, call)
                await self._push_extensions(_extensions_of(call))

    async def _push_extensions(self, extensions: Iterable[str]) -> None:
        known = self._plan.spec.extensions
        calls = [call for call in self._registry if call.state is not CallState.ENDED]
        devices = {device.extension: device for device in self._registry.devices()}
        for extension in extensions:
            if extension not in known and extension not in devices:
                continue
            name = known[extension].name if extension in known else ""
            frame = {
                "type": "extension",
                "extension": extension_frame(extension, name, devices.get(extension), calls),
            }
            await self._fan_out(frame, None)

    async def _fan_out(self, frame: Frame, call: Call | None) -> None:
        targets = [ws for ws, can_see in self._sockets.items() if call is None or can_see(call)]
        await asyncio.gather(*(self._send(ws, frame) for ws in targets))

    async def _send(self, ws: web.WebSocketResponse, frame: Frame) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await ws.send_json(frame)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.info("board_client_dropped", reason=type(exc).__name__)
            self.discard(ws)
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"Too slow")

    def _extensions(self, calls: list[Call]) -> list[Frame]:
        known = self._plan.spec.extensions
        devices = {device.extension: device for device in self._registry.devices()}
        numbers = sorted(set(known) | set(devices), key=lambda number: (len(number), number))
        return [
            extension_frame(number, known[number].name if number in known else "", devices.get(number), calls)
            for number in numbers
        ]


def _extensions_of(call: Call) -> list[str]:
    found = list(call.extensions)
    if call.caller.extension and call.caller.extension not in found:
        found.append(call.caller.extension)
    return found
