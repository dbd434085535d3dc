"""What cti needs from a PBX, as Protocols; adapters implement them, tests fake them."""

from __future__ import annotations

from typing import Literal, Protocol

from .model import CallId

__all__ = ["PbxControl", "SpyMode"]

SpyMode = Literal["listen", "whisper", "barge"]


class PbxControl(Protocol):
    """A running PBX link: started and stopped by the composition root, commanded by the CTI.

    Every command either succeeds or raises a :mod:`cti.errors` error (``NoSuchCall``,
    ``PbxActionFailed``, ``PbxUnavailable``) within the PBX's action timeout: never a hang.
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    async def originate(self, from_extension: str, to_number: str, *, caller_id: str = "") -> None:
        """Ring *from_extension* first; when it answers, dial *to_number* (click-to-call)."""
        ...

    async def hangup(self, call_id: CallId) -> None: ...

    async def blind_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None: ...

    async def attended_transfer(self, call_id: CallId, to_extension: str, *, by: str | None = None) -> None:
        """Transfer with announcement: the agent talks to the target first, hangs up to complete."""
        ...

    async def pickup(self, call_id: CallId, by_extension: str) -> None:
        """Take a call ringing elsewhere onto *by_extension*'s phone."""
        ...

    async def move_to_conference(self, call_id: CallId, room: str) -> None: ...

    async def add_to_conference(self, room: str, extension: str) -> None: ...

    async def start_recording(self, call_id: CallId, file: str) -> None: ...

    async def stop_recording(self, call_id: CallId) -> None: ...

    async def spy(
        self, call_id: CallId, supervisor: str, mode: SpyMode = "listen", *, on: str | None = None
    ) -> None:
        """Ring the supervisor's phone to listen to, whisper to or barge into the call."""
        ...
