"""NullPbx: the PBX link for ``pbx.mode: none`` (CRM and pages only, no telephony)."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from cti.errors import PbxUnavailable
from cti.events import CtiEvent
from cti.model import CallId

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

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        raise PbxUnavailable("No PBX is configured (pbx.mode: none)")

    async def hangup(self, call_id: CallId) -> None:
        raise PbxUnavailable("No PBX is configured (pbx.mode: none)")
