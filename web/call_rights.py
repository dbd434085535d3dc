"""Who may see and steer which live call: the CRM's call rights applied to the PBX's calls.

A live call has no responsible column. To *see* it, its owners are the users at every extension it
touched (rang, answered, was transferred to). To *steer* it (hang up, transfer, conference,
recording), only whoever is on it **now** counts: an extension ringing or talking, or the calling
extension until it hands the call away. An agent whose phone only rang in a group that a colleague
answered, or who transferred the call away, is no longer a party; supervisors keep the ``call``
update right of their role over the current parties. Listening in (listen, whisper, barge) also
needs the supervisor or admin role. Recording the dialplan makes mandatory is never stopped here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from config.dialplan_spec import DialplanSpec
from crm_core.access import load_principal
from crm_core.models import User
from crm_core.rights import Action, Entity, Principal
from cti.model import Call, CallState, Direction

from . import keys
from .auth import request_user

__all__ = ["SPY_ROLES", "CallRights", "load_call_rights", "parties_now", "recording_mandatory"]

SPY_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class CallRights:
    principal: Principal
    role: str
    extension: str | None
    owners: Mapping[str, int]
    "Extension -> id of the user at it (active users with an extension)."

    def is_party(self, call: Call) -> bool:
        """On the call now: ringing or talking at the user's extension, or calling from it."""
        return self.extension is not None and self.extension in parties_now(call)

    def took_part(self, call: Call) -> bool:
        """The call touched the user's extension at some point (what seeing it needs)."""
        return self.extension is not None and (
            self.extension in call.extensions or self.extension == call.caller.extension
        )

    def _allows(self, call: Call, action: Action, extensions: tuple[str, ...]) -> bool:
        owners = {self.owners[ext] for ext in extensions if ext in self.owners}
        if not owners:
            return self.principal.can(Entity.CALL, action, None)
        return any(self.principal.can(Entity.CALL, action, owner) for owner in owners)

    def can_see(self, call: Call) -> bool:
        touched = (*call.extensions, *((call.caller.extension,) if call.caller.extension else ()))
        return self.took_part(call) or self._allows(call, Action.READ, touched)

    def can_control(self, call: Call) -> bool:
        return self.is_party(call) or self._allows(call, Action.UPDATE, parties_now(call))

    def can_listen_in(self, call: Call) -> bool:
        return (
            self.role in SPY_ROLES
            and self.extension is not None
            and self._allows(call, Action.READ, parties_now(call))
        )


def parties_now(call: Call) -> tuple[str, ...]:
    """Our extensions on *call* right now: ringing, talking, and the caller's until it hands the call on.

    The adapters say when a phone stops ringing (``RingingStopped``, e.g. for the rest of a ring
    group once one answers) and a transfer drops the transferer from ``talking``; the calling
    extension is not in ``talking`` (it placed the call), so it counts until it transfers the call.
    """
    if call.state is CallState.ENDED:
        return ()
    parties = [*call.ringing, *call.talking]
    caller = call.caller.extension
    if caller and caller not in parties and not any(t.by == caller for t in call.transfers):
        parties.append(caller)
    return tuple(dict.fromkeys(parties))


def recording_mandatory(spec: DialplanSpec, call: Call) -> bool:
    """True when the dialplan records *call* always (an extension's own mode, else the direction's)."""
    for extension in call.extensions:
        mode = spec.extensions[extension].recording.value if extension in spec.extensions else "inherit"
        if mode == "always":
            return True
    policy = {
        Direction.INBOUND: spec.recording.inbound,
        Direction.OUTBOUND: spec.recording.outbound,
        Direction.INTERNAL: spec.recording.internal,
    }[call.direction]
    return policy == "always"


async def load_call_rights(request: web.Request) -> CallRights:
    """The logged-in user's rights over live calls, read from the database once."""
    user = request_user(request)
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, user.id)
        rows = await session.execute(
            select(User.extension, User.id).where(User.extension.is_not(None), User.is_active.is_(True))
        )
        owners = {extension: user_id for extension, user_id in rows.all()}
    return CallRights(principal=principal, role=user.role, extension=user.extension, owners=owners)
