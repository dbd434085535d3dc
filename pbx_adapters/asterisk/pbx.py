"""AsteriskPbx: one AMI link plus the channel tracker, as the cti PbxControl port."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from config.settings import Settings
from cti.errors import NoSuchCall, PbxActionFailed
from cti.events import CtiEvent
from cti.model import CallId

from .ami import AmiConnection, AmiEvent
from .tracker import ChannelTracker

__all__ = ["AsteriskPbx"]

log = structlog.get_logger(__name__)


class AsteriskPbx:
    """Observe and drive one Asterisk; publishes only cti events.

    After every login (the first, and each one after a reconnect) the live state is re-read with
    ``CoreShowChannels``: calls that ended while the link was down are closed, calls that began
    are adopted, and the call ids stay the same, so nothing is lost, doubled or logged twice.
    """

    def __init__(self, settings: Settings, publish: Callable[[CtiEvent], object]) -> None:
        self._settings = settings
        self.tracker = ChannelTracker(
            publish,
            region=settings.crm.default_region,
            extension_pattern=settings.ami.extension_pattern,
        )
        self.ami = AmiConnection(settings.ami, self._on_event, on_login=self._resync)

    @property
    def connected(self) -> bool:
        return self.ami.connected

    async def start(self) -> None:
        await self.ami.start()

    async def stop(self) -> None:
        await self.ami.stop()

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        action = {
            "Action": "Originate",
            "Channel": f"PJSIP/{from_extension}",
            "Exten": to_number,
            "Context": "from-internal",
            "Priority": "1",
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = caller_id
        await self.ami.send(action)

    async def hangup(self, call_id: CallId) -> None:
        """Hang up every channel of the call (normal clearing).

        Hanging up one leg usually tears down the others before their turn: those answer "No such
        channel", which is the outcome we asked for.
        """
        names = self.tracker.channel_names(call_id)
        if not names:
            raise NoSuchCall(call_id)
        refused: list[PbxActionFailed] = []
        for name in names:
            try:
                await self.ami.send({"Action": "Hangup", "Channel": name, "Cause": "16"})
            except PbxActionFailed as exc:
                refused.append(exc)
        if len(refused) == len(names):
            raise refused[0]

    def _on_event(self, fields: AmiEvent) -> None:
        self.tracker.feed(fields)

    def _resync(self) -> None:
        self.tracker.resync_begin()
        self.ami.collect(
            {"Action": "CoreShowChannels"},
            self.tracker.resync_channel,
            self.tracker.resync_end,
            self._resync_refused,
        )

    def _resync_refused(self, message: str) -> None:
        # Without the snapshot, calls that ended while the link was down cannot be told apart from
        # live ones; they stay open until their channels show up again. Say what to fix.
        self.tracker.resync_cancel()
        log.error("ami_resync_refused", message=message, hint="give the AMI user read=call,reporting or all")
