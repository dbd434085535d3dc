"""Who may see and steer which live call: the CRM's call rights applied to the PBX's calls.

A live call has no responsible column; its owners are the users at the extensions it touched. A user
always reaches the calls on their own phone. Beyond that, the ``call`` rights of their roles decide:
read to see a call on the board, update to hang it up or transfer it, and listening in (listen,
whisper, barge) also needs the supervisor or admin role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from crm_core.access import load_principal
from crm_core.models import User
from crm_core.rights import Action, Entity, Principal
from cti.model import Call

from . import keys
from .auth import request_user

__all__ = ["SPY_ROLES", "CallRights", "load_call_rights"]

SPY_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class CallRights:
    principal: Principal
    role: str
    extension: str | None
    owners: Mapping[str, int]
    "Extension -> id of the user at it (active users with an extension)."

    def is_party(self, call: Call) -> bool:
        return self.extension is not None and (
            self.extension in call.extensions or self.extension == call.caller.extension
        )

    def _allows(self, call: Call, action: Action) -> bool:
        owners = {self.owners[ext] for ext in (*call.extensions, call.caller.extension) if ext in self.owners}
        if not owners:
            return self.principal.can(Entity.CALL, action, None)
        return any(self.principal.can(Entity.CALL, action, owner) for owner in owners)

    def can_see(self, call: Call) -> bool:
        return self.is_party(call) or self._allows(call, Action.READ)

    def can_control(self, call: Call) -> bool:
        return self.is_party(call) or self._allows(call, Action.UPDATE)

    def can_listen_in(self, call: Call) -> bool:
        return self.role in SPY_ROLES and self.extension is not None and self._allows(call, Action.READ)


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
