"""What contacts, companies and leads share: rights, responsible users, channels, list and delete.

Each card service names its model and entity and says how to turn rows into output; this base does
the rest the same way for all three, so a rule (who may see what, how phones are validated, what a
delete removes) is written once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import structlog
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from ..crud import ListQuery, Page
from ..errors import NotFound
from ..models import Email, Phone, User
from ..models.keys import email_key
from ..query import fetch_page, split_key
from ..rights import Action, Entity, Principal
from .channels import Channels, load_channels, replace_emails, replace_phones
from .errors import BadValue
from .exclusions import refuse_excluded
from .owned import delete_owned

__all__ = ["CardService", "check_user"]

log = structlog.get_logger(__name__)

OutT = TypeVar("OutT", bound=BaseModel)
_CHANNEL_FILTERS = ("phone", "email")
"List filters on a card's phones and e-mails rather than its columns."
RowT = TypeVar("RowT")


async def check_user(session: AsyncSession, field: str, user_id: int | None) -> None:
    """Raise :class:`BadValue` unless *user_id* is None or an active user."""
    if user_id is None:
        return
    active = await session.scalar(select(User.is_active).where(User.id == user_id))
    if active is None:
        raise BadValue(field, user_id, f"no user with id {user_id}")
    if not active:
        raise BadValue(field, user_id, f"user {user_id} is disabled")


class CardService(ABC, Generic[RowT, OutT]):
    """The shared half of a card service; subclasses set the class attributes and ``_out``."""

    entity: ClassVar[Entity]
    model: ClassVar[type]
    path: ClassVar[str]
    filterable: ClassVar[Mapping[str, type]]
    sortable: ClassVar[Sequence[str]]

    def __init__(self, region: str = "RU", own_numbers: Sequence[str] = ()) -> None:
        self.region = region
        "How numbers written without a country code are read (``crm.default_region``)."
        self.own_numbers = tuple(own_numbers)
        "The company's own numbers (``crm.own_numbers``): refused like the exclusion list."

    # -- the Resource protocol -------------------------------------------------------------------

    async def list(self, session: AsyncSession, principal: Principal, query: ListQuery) -> Page[OutT]:
        """The cards the principal may read, filtered, sorted and paged.

        Besides the card's own fields, ``phone=`` (any spelling, matched as E.164) and ``email=``
        (any case) find the cards having that number or address.
        """
        stmt = select(self.model).where(
            principal.visible(self.entity, Action.READ, self.model.responsible_id)
        )
        stmt, rest = self._channel_filters(stmt, query)
        columns = {k: v for k, v in self.filterable.items() if k not in _CHANNEL_FILTERS}
        rows, total = await fetch_page(
            session, stmt, self.model, rest, filterable=columns, sortable=self.sortable
        )
        return Page(
            items=await self._out_for(session, principal, rows),
            total=total,
            offset=query.offset,
            limit=query.limit,
        )

    async def get(self, session: AsyncSession, principal: Principal, id: int) -> OutT:
        row = await self.row(session, principal, id, Action.READ)
        return (await self._out_for(session, principal, [row]))[0]

    async def delete(self, session: AsyncSession, principal: Principal, id: int) -> None:
        """Delete the card with its phones, e-mails, bindings and rows; calls stay, unlinked."""
        row = await self.row(session, principal, id, Action.DELETE)
        removed = await delete_owned(session, self.entity.value, [id])
        await session.delete(row)
        await session.flush()
        log.info("card_deleted", entity=self.entity.value, id=id, by=principal.login, removed=removed)

    # -- helpers for subclasses ------------------------------------------------------------------

    async def row(self, session: AsyncSession, principal: Principal, id: int, action: Action) -> Any:
        """The card *id* if the principal may *action* it; :class:`NotFound` or ``Forbidden`` otherwise."""
        row = await session.get(self.model, id)
        if row is None:
            raise NotFound(self.entity.value, id)
        principal.require(self.entity, action, row.responsible_id)
        return row

    async def responsible_for_new(
        self, session: AsyncSession, principal: Principal, wanted: int | None
    ) -> int | None:
        """Check the ADD right for a card owned by *wanted* (default: the principal) and return the owner."""
        responsible_id = wanted if wanted is not None else principal.user_id
        principal.require(self.entity, Action.ADD, responsible_id)
        await check_user(session, "responsible_id", responsible_id)
        return responsible_id

    async def write_channels(
        self, session: AsyncSession, card_id: int, data: BaseModel, *, create: bool
    ) -> None:
        """Replace the card's phones and e-mails with those sent; an excluded one refuses the lot."""
        fields = data.model_fields_set
        phones = [p.value for p in data.phones or []] if create or "phones" in fields else []
        emails = [e.value for e in data.emails or []] if create or "emails" in fields else []
        await refuse_excluded(
            session, phones=phones, emails=emails, own_numbers=self.own_numbers, region=self.region
        )
        if create or "phones" in fields:
            await replace_phones(session, self.entity.value, card_id, data.phones or [], region=self.region)
        if create or "emails" in fields:
            await replace_emails(session, self.entity.value, card_id, data.emails or [])

    async def channels(self, session: AsyncSession, ids: Sequence[int]) -> dict[int, Channels]:
        return await load_channels(session, self.entity.value, ids)

    @abstractmethod
    async def _out_many(self, session: AsyncSession, rows: Sequence[Any]) -> list[OutT]:
        """The cards as the API shows them, channels included, in the order of *rows*."""

    async def _out_for(self, session: AsyncSession, principal: Principal, rows: Sequence[Any]) -> list[OutT]:
        """The cards as *principal* reads them; a card listing other records (a lead's deals) overrides
        this to show only the records the principal may read."""
        return await self._out_many(session, rows)

    def _channel_filters(self, stmt: Select, query: ListQuery) -> tuple[Select, ListQuery]:
        """Apply ``phone=``/``email=`` (not columns of the card) and pass the other filters on."""
        rest = dict(query.filters)
        for key in list(rest):
            field, op = split_key(key)
            if field in _CHANNEL_FILTERS and op != "eq":
                raise BadValue(key, rest[key], f"{field} takes one exact value (no operator)")
        phone = rest.pop("phone", None)
        if phone is not None:
            e164 = normalise(phone, self.region).e164
            if e164 is None:
                raise BadValue("phone", phone, f"{phone!r} is not a phone number")
            owners = select(Phone.owner_id).where(Phone.owner_type == self.entity.value, Phone.e164 == e164)
            stmt = stmt.where(self.model.id.in_(owners))
        email = rest.pop("email", None)
        if email is not None:
            key = email_key(email)
            if key is None:
                raise BadValue("email", email, f"{email!r} is not an e-mail address")
            owners = select(Email.owner_id).where(
                Email.owner_type == self.entity.value, Email.value_key == key
            )
            stmt = stmt.where(self.model.id.in_(owners))
        return stmt, ListQuery(filters=rest, sort=query.sort, offset=query.offset, limit=query.limit)
