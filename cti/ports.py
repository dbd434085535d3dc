"""What cti needs from a PBX, as Protocols; adapters implement them, tests fake them."""

from __future__ import annotations

from typing import Protocol

from .model import CallId

__all__ = ["PbxControl"]


class PbxControl(Protocol):
    """A running PBX link: started and stopped by the composition root, commanded by the CTI."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        """Ring *from_extension* first; when it answers, dial *to_number* (click-to-call)."""
        ...

    async def hangup(self, call_id: CallId) -> None: ...
