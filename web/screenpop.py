"""ScreenPopHub: the cti <-> CRM join for agents' screens, pushed over their WebSockets.

The hub is one more bus subscriber: it never blocks the PBX reader, and it looks a caller's card up
once per call with its own database session. Frames sent to the browser (see ``static/agent.js``):

- ``{"type": "hello", "extension"}`` once the socket is registered (pops can arrive from then on);
- ``{"type": "ringing", "call_id", "number", "name", "direction", "did", "card"}``; a pop after a
  transfer or a pickup carries ``"transferred_by"`` or ``"picked_up": true`` too;
- ``{"type": "answered", "call_id", "by"}`` to every socket that got the pop for that call;
- ``{"type": "ended", "call_id", "disposition"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CrmSettings
from crm_core.lookup import Card, find_card
from cti.bus import EventBus, Notice
from cti.events import CallAnswered, CallEnded, CallPickedUp, CallRinging, CallStarted, CallTransferred
from cti.model import Call, CallId, Direction
from cti.registry import CallRegistry

__all__ = ["ScreenPopHub", "card_payload"]

log = structlog.get_logger(__name__)

Frame = dict[str, Any]
_MAX_CALLS = 5_000
"Calls remembered at once; more means CallEnded notices were lost (bus overflow), so forget the oldest."


def card_payload(card: Card) -> Frame:
    """The card as the page shows it, with a link to its CRM page."""
    return {
        "entity": card.entity,
        "id": card.id,
        "title": card.title,
        "company": card.company,
        "responsible": card.responsible,
        "url": f"/crm/{card.entity}/{card.id}",
    }


class ScreenPopHub:
    """Keep agents' sockets by extension and pop the caller's card when their phone rings."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: CrmSettings,
        registry: CallRegistry,
        *,
        lookup_timeout: float = 3.0,
        send_timeout: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._registry = registry
        self._lookup_timeout = lookup_timeout
        self._send_timeout = send_timeout
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._cards: dict[CallId, asyncio.Task[Frame | None]] = {}
        self._popped: dict[CallId, set[web.WebSocketResponse]] = {}
        self._tails: dict[CallId, asyncio.Task[None]] = {}
        "Per call, the task handling its latest notice (the next one waits for it)."
        self.started = asyncio.Event()
        "Set once the hub's bus subscription exists."

    @property
    def clients(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def add(self, extension: str, ws: web.WebSocketResponse) -> None:
        """Register *ws* for *extension*, say hello, and pop the calls ringing or talking there now."""
        self._sockets.setdefault(extension, set()).add(ws)
        log.info("screenpop_client_added", extension=extension, clients=self.clients)
        await self._send([ws], {"type": "hello", "extension": extension})
        for call in self._registry:
            if extension in call.ringing or extension in call.talking:
                await self._pop(call, [extension])
                if call.answered_by is not None:
                    frame = {"type": "answered", "call_id": call.call_id, "by": call.answered_by}
                    await self._send([ws], frame)

    def discard(self, extension: str, ws: web.WebSocketResponse) -> None:
        self._sockets.get(extension, set()).discard(ws)
        if not self._sockets.get(extension):
            self._sockets.pop(extension, None)
        for sockets in self._popped.values():
            sockets.discard(ws)
        log.info("screenpop_client_removed", extension=extension, clients=self.clients)

    async def close_all(self, *, code: int, message: bytes) -> None:
        closing = [ws.close(code=code, message=message) for group in self._sockets.values() for ws in group]
        await asyncio.gather(*closing, return_exceptions=True)

    async def run(self, bus: EventBus) -> None:
        """Follow the bus until cancelled; one bad notice is logged and skipped.

        Notices of one call are handled in order; different calls concurrently, so a slow card
        look-up for one caller never delays another caller's pop.
        """
        async with bus.subscribe("screenpop") as subscription:
            self.started.set()
            try:
                async for notice in subscription:
                    self._dispatch(notice)
            finally:
                # Wait for them to unwind: a look-up still closing its session when the database
                # is disposed after us would never finish.
                pending = [*self._cards.values(), *self._tails.values()]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    def _dispatch(self, notice: Notice) -> None:
        call_id: CallId | None = getattr(notice.event, "call_id", None)
        if call_id is None:
            return  # phones registering, DND: nothing to pop
        previous = self._tails.get(call_id)
        task = asyncio.create_task(self._handle_after(previous, notice), name=f"screenpop-{call_id}")
        self._tails[call_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(call_id) is done:
                del self._tails[call_id]

        task.add_done_callback(forget)

    async def _handle_after(self, previous: asyncio.Task[None] | None, notice: Notice) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its own failure is logged by itself
        try:
            await self.handle(notice)
        except Exception:
            log.exception("screenpop_failed", cti_event=type(notice.event).__name__)

    async def handle(self, notice: Notice) -> None:
        event, call = notice.event, notice.call
        if isinstance(event, CallStarted) and call is not None:
            self._lookup_task(call)  # by the time a phone rings, the card is usually there
        elif isinstance(event, CallRinging) and call is not None:
            await self._pop(call, event.extensions)
        elif isinstance(event, CallPickedUp | CallAnswered):
            if isinstance(event, CallPickedUp) and call is not None:
                # Whoever picks a ringing call up (*11, 40) needs the card more than anyone.
                await self._pop(call, [event.by], picked_up=True)
            frame = {"type": "answered", "call_id": event.call_id, "by": event.by}
            await self._send(self._popped.get(event.call_id, set()), frame)
        elif isinstance(event, CallTransferred) and call is not None:
            await self._pop(call, [event.to], transferred_by=event.by)
        elif isinstance(event, CallEnded):
            sockets = self._popped.pop(event.call_id, set())
            lookup = self._cards.pop(event.call_id, None)
            if lookup is not None:
                lookup.cancel()
            frame = {"type": "ended", "call_id": event.call_id, "disposition": event.disposition.value}
            await self._send(sockets, frame)

    async def _pop(
        self,
        call: Call,
        extensions: Sequence[str],
        *,
        transferred_by: str = "",
        picked_up: bool = False,
    ) -> None:
        popped = self._popped.get(call.call_id, set())
        targets = [ws for ext in extensions for ws in self._sockets.get(ext, ()) if ws not in popped]
        if not targets:
            return
        self._popped.setdefault(call.call_id, set()).update(targets)
        self._forget_oldest()
        frame: Frame = {
            "type": "ringing",
            "call_id": call.call_id,
            "number": call.external_number or call.caller.number,
            "name": call.caller.name,
            "direction": call.direction.value,
            "did": call.did,
            "card": await self._card(call),
        }
        if transferred_by:
            frame["transferred_by"] = transferred_by
        if picked_up:
            frame["picked_up"] = True
        await self._send(targets, frame)

    def _lookup_task(self, call: Call) -> asyncio.Task[Frame | None]:
        lookup = self._cards.get(call.call_id)
        if lookup is None:
            lookup = asyncio.create_task(self._lookup(call), name=f"screenpop-lookup-{call.call_id}")
            self._cards[call.call_id] = lookup
        return lookup

    async def _card(self, call: Call) -> Frame | None:
        lookup = self._lookup_task(call)
        try:
            return await asyncio.shield(lookup)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled ourselves
            return None  # the call ended while its card was being looked up

    async def _lookup(self, call: Call) -> Frame | None:
        number = call.external_number or call.caller.number
        if call.direction is Direction.INTERNAL or not number:
            return None  # a colleague or a withheld number: nothing to look up
        try:
            async with asyncio.timeout(self._lookup_timeout), self._sessionmaker() as session:
                card = await find_card(
                    session,
                    number,
                    region=self._settings.default_region,
                    own_numbers=self._settings.own_numbers,
                )
        except Exception as exc:  # the pop still goes out, just without a card
            log.warning(
                "screenpop_lookup_failed", call_id=call.call_id, error=type(exc).__name__, detail=str(exc)
            )
            return None
        return card_payload(card) if card is not None else None

    async def _send(self, sockets: Iterable[web.WebSocketResponse], frame: Frame) -> None:
        await asyncio.gather(*(self._send_one(ws, frame) for ws in list(sockets) if not ws.closed))

    async def _send_one(self, ws: web.WebSocketResponse, frame: Frame) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await ws.send_json(frame)
        except Exception as exc:  # a dead or stuck browser must not hold up the others
            log.info("screenpop_send_failed", call_id=frame.get("call_id"), error=type(exc).__name__)

    def _forget_oldest(self) -> None:
        while len(self._popped) > _MAX_CALLS:
            call_id = next(iter(self._popped))
            self._popped.pop(call_id)
            lookup = self._cards.pop(call_id, None)
            if lookup is not None:
                lookup.cancel()
