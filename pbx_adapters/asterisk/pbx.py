"""AsteriskPbx: one AMI link plus the channel tracker, as the cti PbxControl port."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from config.settings import Settings
from cti.events import CtiEvent

from .ami import AmiConnection, AmiEvent
from .control import AsteriskControl
from .tracker import ChannelTracker

__all__ = ["AsteriskPbx"]

log = structlog.get_logger(__name__)


class AsteriskPbx(AsteriskControl):
    """Observe and drive one Asterisk; publishes only cti events.

    The call commands of the PbxControl port come from :class:`AsteriskControl`; this class adds
    the link's life cycle and the re-sync after each login.

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
        self.ami = AmiConnection(settings.ami, self._on_event, on_login=self._logged_in)
        super().__init__(self.ami, self.tracker, settings.ami)
        self._login_listeners: list[Callable[[], None]] = []

    @property
    def connected(self) -> bool:
        return self.ami.connected

    async def start(self) -> None:
        await self.ami.start()

    async def stop(self) -> None:
        await self.ami.stop()

    def on_login(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call *listener* after every login (the first and each after a reconnect); returns its remover."""
        self._login_listeners.append(listener)
        return lambda: self._login_listeners.remove(listener) if listener in self._login_listeners else None

    def _logged_in(self) -> None:
        self._resync()
        for listener in tuple(self._login_listeners):
            try:
                listener()
            except Exception:
                log.exception("ami_login_listener_failed")

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
