"""NullPbx: the PBX link for ``pbx.mode: none`` (CRM and pages only, no telephony)."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from cti.errors import PbxUnavailable
from cti.events import CtiEvent

__all__ = ["NullPbx"]


class NullPbx:
    """Implements ``cti.ports.PbxControl``; never connected, refuses every command."""

    def __init__(self, settings: Settings, publish: Callable[[CtiEvent], object]) -> None:
        self._settings = settings
        self._publish = publish

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def connected(self) -> bool:
        return False

    async def _refuse(self, *args: object, **kwargs: object) -> None:
        raise PbxUnavailable("No PBX is configured (pbx.mode: none)")

    originate = hangup = blind_transfer = attended_transfer = pickup = _refuse
    move_to_conference = add_to_conference = start_recording = stop_recording = spy = _refuse
