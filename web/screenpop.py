"""ScreenPopHub: the cti <-> CRM join for agents' screens, pushed over their WebSockets.

The hub is one more bus subscriber: it never blocks the PBX reader, and it looks a caller's card up
once per call with its own database session. Frames sent to the browser (see ``static/agent.js``):

- ``{"type": "hello", "extension"}`` once the socket is registered (pops can arrive from then on);
- ``{"type": "ringing", "call_id", "number", "name", "direction", "did", "card", "recording",
  "recording_mandatory"}``; a pop after a transfer or a pickup carries ``"transferred_by"`` or
  ``"picked_up": true`` too;
- ``{"type": "answered", "call_id", "by"}`` to every socket that got the pop for that call;
- ``{"type": "recording", "call_id", "on", "mandatory"}`` when the PBX starts or stops recording it;
- ``{"type": "transferred", "call_id", "by", "to", "to_name"}`` to every socket that got the pop
  (the transferer's page closes the call with it, the target's says who handed it over);
- ``{"type": "ended", "call_id", "disposition"}``;
- ``{"type": "call-backs"}`` when a call-back task of the agent was created (the call log wrote a
  missed call) or closed: the page reloads its list.

Recording state is followed here from ``RecordingStarted``/``RecordingStopped`` (the registry keeps
only the files); "mandatory" is the running dialplan's policy for the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import CrmSettings
from crm_core.lookup import Card, find_card
from crm_core.models import CallActivity, Task, User
from cti.bus import EventBus, Notice
from cti.events import (
    CallAnswered,
    CallEnded,
    CallPickedUp,
    CallRinging,
    CallStarted,
    CallTransferred,
    RecordingStarted,
    RecordingStopped,
)
from cti.model import Call, CallId, Direction
from cti.plan import RunningPlan
from cti.registry import CallRegistry

from .call_rights import recording_mandatory

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
        plan: RunningPlan | None = None,
        pbx_id: str = "main",
        lookup_timeout: float = 3.0,
        send_timeout: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._registry = registry
        self._plan = plan
        self._pbx_id = pbx_id
        self._lookup_timeout = lookup_timeout
        self._send_timeout = send_timeout
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._cards: dict[CallId, asyncio.Task[Frame | None]] = {}
        self._popped: dict[CallId, set[web.WebSocketResponse]] = {}
        self._tails: dict[CallId, asyncio.Task[None]] = {}
        "Per call, the task handling its latest notice (the next one waits for it)."
        self._recording: dict[CallId, set[str]] = {}
        "Per call, the files the PBX is recording into right now."
        self._chores: set[asyncio.Task[None]] = set()
        "Call-back notices under way (look-ups after the call log wrote a call)."
        self._running = False
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
            self._running = True
            self.started.set()
            try:
                async for notice in subscription:
                    self._dispatch(notice)
            finally:
                self._running = False
                # Wait for them to unwind: a look-up still closing its session when the database
                # is disposed after us would never finish.
                pending = [*self._cards.values(), *self._tails.values(), *self._chores]
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
            # Those who had the pop (the transferer among them) hear where it went; then the target's pop.
            frame = {
                "type": "transferred",
                "call_id": event.call_id,
                "by": event.by,
                "to": event.to,
                "to_name": await self._name_at(event.to),
            }
            await self._send(self._popped.get(event.call_id, set()), frame)
            await self._pop(call, [event.to], transferred_by=event.by)
        elif isinstance(event, RecordingStarted | RecordingStopped):
            files = self._recording.setdefault(event.call_id, set())
            if isinstance(event, RecordingStarted):
                files.add(event.file)
            else:
                files.discard(event.file)
            frame = {
                "type": "recording",
                "call_id": event.call_id,
                "on": bool(files),
                "mandatory": call is not None and self._mandatory(call),
            }
            await self._send(self._popped.get(event.call_id, set()), frame)
        elif isinstance(event, CallEnded):
            self._recording.pop(event.call_id, None)
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
            "recording": bool(self._recording.get(call.call_id)),
            "recording_mandatory": self._mandatory(call),
        }
        if transferred_by:
            frame["transferred_by"] = transferred_by
        if picked_up:
            frame["picked_up"] = True
        await self._send(targets, frame)

    def _mandatory(self, call: Call) -> bool:
        return self._plan is not None and recording_mandatory(self._plan.spec, call)

    async def _name_at(self, extension: str) -> str:
        """The name of the active user at *extension*, or "" (unknown, or the database failed)."""
        try:
            async with asyncio.timeout(self._lookup_timeout), self._sessionmaker() as session:
                name = await session.scalar(
                    select(User.name).where(User.extension == extension, User.is_active.is_(True))
                )
        except Exception as exc:  # the frame still goes out, with the extension alone
            log.warning("screenpop_name_failed", extension=extension, error=type(exc).__name__)
            return ""
        return name or ""

    def call_logged(self, call: Call) -> None:
        """The call log wrote *call* (``CallLogWriter``'s ``on_recorded``): tell whoever got a call-back."""
        if not self._running:
            return  # stopping: the writer drains after us
        chore = asyncio.create_task(self._call_backs_of(call), name=f"screenpop-call-backs-{call.call_id}")
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    async def _call_backs_of(self, call: Call) -> None:
        try:
            async with asyncio.timeout(self._lookup_timeout), self._sessionmaker() as session:
                rows = await session.scalars(
                    select(User.extension)
                    .join(Task, Task.responsible_id == User.id)
                    .join(CallActivity, CallActivity.id == Task.call_pk)
                    .where(CallActivity.pbx_id == self._pbx_id, CallActivity.call_id == call.call_id)
                    .where(Task.done.is_(False), User.extension.is_not(None))
                )
                extensions = {extension for extension in rows if extension}
        except Exception as exc:  # the page still reloads the list on its next connect
            log.warning("screenpop_call_backs_failed", call_id=call.call_id, error=type(exc).__name__)
            return
        for extension in extensions:
            await self.call_backs_changed(extension)

    async def call_backs_changed(self, extension: str) -> None:
        """Ask the pages at *extension* to reload their call-backs list."""
        await self._send(self._sockets.get(extension, set()), {"type": "call-backs"})

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
            self._recording.pop(call_id, None)
            lookup = self._cards.pop(call_id, None)
            if lookup is not None:
                lookup.cancel()
