"""One row of a file -> one card's values: parsing, checking, and what each import kind is made of.

A :class:`RowParser` turns the cells of a row into a :class:`Record` (the card's own columns, its
phones and e-mails, its company or section by name) or raises :class:`RowFailed` naming the column
and the reason. Users, lead dictionaries and the exclusion lists are read once per import
(:class:`Lookups`), so parsing a row costs no query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import normalise

from ..models import (
    Company,
    Contact,
    EmailKind,
    ExcludedEmail,
    ExcludedNumber,
    Lead,
    LeadSourceItem,
    LeadStatusItem,
    PhoneKind,
    User,
)
from ..models.catalog import Product
from ..models.keys import company_key, person_key
from ..rights import Entity
from .mapping import ColumnMapping, ImportKind
from .report import MatchKey
from .values import BadValue, parse_bool, parse_currency, parse_decimal, parse_email, parse_rate, split_multi

__all__ = ["NOUNS", "SPECS", "KindSpec", "Lookups", "Record", "RowFailed", "RowParser"]


class RowFailed(Exception):
    """This row cannot be imported: *reason*, about *column* when one cell is at fault."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


@dataclass(slots=True)
class Record:
    """One parsed row on its way into the database."""

    line: int
    values: dict[str, Any]
    "Column values of the card's own table (name, title, price...)."
    phones: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    "(e164, raw, extension, kind)"
    emails: list[tuple[str, str, str]] = field(default_factory=list)
    "(key, as written, kind)"
    company: str | None = None
    "A contact's company title, or a product's section name."
    target: int | None = None
    "The existing card this row merges into."
    into: Record | None = None
    "The earlier row of the file this row merges into."
    id: int | None = None

    def name_key(self, kind: ImportKind) -> str | None:
        """The NAME match key, computed as the model computes its stored key."""
        if kind is ImportKind.CONTACTS:
            return person_key(self.values["name"])
        if kind is ImportKind.LEADS:
            return person_key(self.values.get("name"))
        if kind is ImportKind.COMPANIES:
            return company_key(self.values["title"])
        return " ".join(self.values["name"].split())

    def keys(self, kind: ImportKind, match_on: Iterable[MatchKey]) -> list[tuple[MatchKey, str]]:
        """This row's (key kind, value) pairs for duplicate matching."""
        found: list[tuple[MatchKey, str]] = []
        for key in match_on:
            if key is MatchKey.PHONE:
                found += [(key, phone[0]) for phone in self.phones]
            elif key is MatchKey.EMAIL:
                found += [(key, email[0]) for email in self.emails]
            elif key is MatchKey.NAME:
                value = self.name_key(kind)
                if value:
                    found.append((key, value))
            elif self.values.get("external_id"):
                found.append((key, self.values["external_id"]))
        return found

    def absorb(self, other: Record) -> None:
        """Merge a later row of the file into this one (fill empty fields, add phones and e-mails)."""
        for name, value in other.values.items():
            if value not in (None, "") and self.values.get(name) in (None, ""):
                self.values[name] = value
        known_phones = {p[0] for p in self.phones}
        self.phones += [p for p in other.phones if p[0] not in known_phones]
        known_emails = {e[0] for e in self.emails}
        self.emails += [e for e in other.emails if e[0] not in known_emails]
        if self.company is None:
            self.company = other.company


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What one import kind writes to: its table, rights entity and match-key column."""

    model: Any
    entity: Entity
    owner_type: str | None
    "``phone.owner_type``/``email.owner_type`` of this kind's cards; None for products."
    key_column: Any
    "The column holding the NAME match key."
    text_limits: dict[str, int]


SPECS: dict[ImportKind, KindSpec] = {
    ImportKind.CONTACTS: KindSpec(Contact, Entity.CONTACT, "contact", Contact.name_key, {"name": 200}),
    ImportKind.COMPANIES: KindSpec(Company, Entity.COMPANY, "company", Company.title_key, {"title": 200}),
    ImportKind.LEADS: KindSpec(
        Lead, Entity.LEAD, "lead", Lead.name_key, {"title": 200, "name": 200, "company_name": 200}
    ),
    ImportKind.PRODUCTS: KindSpec(
        Product,
        Entity.PRODUCT,
        None,
        Product.name,
        {"name": 300, "unit": 20, "external_id": 100, "section": 200},
    ),
}
NOUNS = {
    ImportKind.CONTACTS: "contact",
    ImportKind.COMPANIES: "company",
    ImportKind.LEADS: "lead",
    ImportKind.PRODUCTS: "product",
}
_PHONE_KINDS = {"phone": PhoneKind.WORK, "phone_mobile": PhoneKind.MOBILE, "phone_home": PhoneKind.HOME}
_EMAIL_KINDS = {"email": EmailKind.WORK, "email_home": EmailKind.HOME}


class Lookups:
    """Users, dictionaries and exclusion lists, read once per import."""

    def __init__(self) -> None:
        self.users: dict[str, int | None] = {}
        "login or name (case-folded) -> id; None when a name is shared by two users."
        self.inactive: set[int] = set()
        self.statuses: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.excluded_numbers: set[str] = set()
        self.excluded_emails: set[str] = set()

    async def load(
        self, session: AsyncSession, kind: ImportKind, *, own_numbers: Iterable[str] = (), region: str = "RU"
    ) -> None:
        """Read what parsing and checking the rows of *kind* need.

        The excluded numbers are the ``excluded_number`` table plus *own_numbers*
        (``crm.own_numbers``, read in *region* as the call log reads them).
        """
        users = (await session.execute(select(User.id, User.login, User.name, User.is_active))).all()
        logins = {login.casefold(): user_id for user_id, login, _name, _active in users}
        for user_id, _login, name, active in users:
            folded = name.casefold()
            if folded not in logins:  # a login always means its own user, whoever is named like it
                self.users[folded] = None if folded in self.users else user_id
            if not active:
                self.inactive.add(user_id)
        self.users.update(logins)
        if kind is ImportKind.LEADS:
            for model, target in ((LeadStatusItem, self.statuses), (LeadSourceItem, self.sources)):
                for code, name in await session.execute(select(model.code, model.name)):
                    target[code.casefold()] = code
                    target.setdefault(name.casefold(), code)
        if kind is not ImportKind.PRODUCTS:
            self.excluded_numbers = set(await session.scalars(select(ExcludedNumber.e164)))
            self.excluded_numbers |= {
                e164 for e164 in (normalise(n, region).e164 for n in own_numbers) if e164
            }
            self.excluded_emails = set(await session.scalars(select(ExcludedEmail.email)))


class RowParser:
    """Cells -> :class:`Record`, or :class:`RowFailed` naming the column and the reason."""

    def __init__(
        self,
        kind: ImportKind,
        mapping: ColumnMapping,
        headers: Sequence[str],
        lookups: Lookups,
        region: str,
    ) -> None:
        self.kind = kind
        self.mapping = mapping
        self.headers = headers
        self.lookups = lookups
        self.region = region
        self.limits = SPECS[kind].text_limits

    def _cell(self, cells: Sequence[str], name: str) -> tuple[str, str | None]:
        """The first non-empty cell feeding single-valued field *name*, and its column."""
        for index in self.mapping.columns.get(name, ()):
            if cells[index]:
                return cells[index], self.headers[index]
        return "", None

    def _text(self, cells: Sequence[str], name: str) -> str | None:
        text, column = self._cell(cells, name)
        if not text:
            return None
        limit = self.limits.get(name)
        if limit is not None and len(text) > limit:
            raise RowFailed(f"longer than {limit} characters", column)
        return text

    def _typed(self, cells: Sequence[str], name: str, parse: Callable[[str], Any]) -> Any:
        text, column = self._cell(cells, name)
        if not text:
            return None
        try:
            return parse(text)
        except BadValue as exc:
            raise RowFailed(str(exc), column) from None

    def parse(self, line: int, cells: Sequence[str]) -> Record:
        record = Record(line=line, values={})
        self._contacts_of(record, cells)
        values = record.values
        responsible = self._responsible(cells)
        if responsible is not None:
            values["responsible_id"] = responsible
        kind = self.kind
        if kind is ImportKind.CONTACTS:
            name = self._text(cells, "name")
            if name is None:
                parts = [self._text(cells, f) for f in ("last_name", "first_name", "middle_name")]
                name = " ".join(part for part in parts if part) or None
            if name is None:
                raise RowFailed("no name: the name columns are empty", self._column_of("name"))
            if len(name) > 200:
                raise RowFailed("the name is longer than 200 characters", self._column_of("name"))
            values["name"] = name
            record.company = self._text(cells, "company")
        elif kind is ImportKind.COMPANIES:
            title = self._text(cells, "title")
            if title is None:
                raise RowFailed("no company name", self._column_of("title"))
            values["title"] = title
        elif kind is ImportKind.LEADS:
            name, company_name = self._text(cells, "name"), self._text(cells, "company_name")
            title = self._text(cells, "title") or company_name or name
            if title is None:
                raise RowFailed("no title, name or company name", self._column_of("title"))
            values.update(title=title, name=name, company_name=company_name)
            for field_name, known, what in (
                ("status", self.lookups.statuses, "lead status"),
                ("source", self.lookups.sources, "lead source"),
            ):
                text, column = self._cell(cells, field_name)
                if text:
                    code = known.get(text.casefold())
                    if code is None:
                        raise RowFailed(
                            f"{text!r} is not a {what}; use one of {', '.join(sorted(set(known.values())))}",
                            column,
                        )
                    values[field_name] = code
            amount = self._typed(cells, "amount", lambda t: parse_decimal(t, places=2))
            if amount is not None:
                values.update(amount=amount, amount_manual=True)  # typed: rows added later must not reset it
        else:
            name = self._text(cells, "name")
            if name is None:
                raise RowFailed("no product name", self._column_of("name"))
            values["name"] = name
            record.company = self._text(cells, "section")
            for field_name in ("unit", "external_id", "description"):
                text = self._text(cells, field_name)
                if text is not None:
                    values[field_name] = text
            price = self._typed(cells, "price", lambda t: parse_decimal(t, places=4))
            if price is not None:
                values["price"] = price
            text, column = self._cell(cells, "vat_rate")
            if text:
                try:
                    values["vat_rate"] = parse_rate(text)
                except BadValue as exc:
                    raise RowFailed(str(exc), column) from None
            for field_name in ("vat_included", "active"):
                flag = self._typed(cells, field_name, parse_bool)
                if flag is not None:
                    values[field_name] = flag
        if kind in (ImportKind.LEADS, ImportKind.PRODUCTS):
            currency = self._typed(cells, "currency", parse_currency)
            if currency is not None:
                values["currency"] = currency
        comments = self._text(cells, "comments")
        if comments is not None:
            values["comments"] = comments
        return record

    def _column_of(self, name: str) -> str | None:
        positions = self.mapping.columns.get(name, ())
        return self.headers[positions[0]] if positions else None

    def _responsible(self, cells: Sequence[str]) -> int | None:
        text, column = self._cell(cells, "responsible")
        if not text:
            return None
        folded = text.casefold()
        if folded not in self.lookups.users:
            raise RowFailed(f"no user with login or name {text!r}", column)
        user_id = self.lookups.users[folded]
        if user_id is None:
            raise RowFailed(f"two users are named {text!r}: write the login instead", column)
        if user_id in self.lookups.inactive:
            raise RowFailed(f"user {text!r} is disabled", column)
        return user_id

    def _contacts_of(self, record: Record, cells: Sequence[str]) -> None:
        for name, phone_kind in _PHONE_KINDS.items():
            for index in self.mapping.columns.get(name, ()):
                for text in split_multi(cells[index]):
                    parsed = normalise(text, self.region)
                    if parsed.e164 is None:
                        raise RowFailed(f"{text!r} is not a phone number", self.headers[index])
                    if len(text) > 64:
                        raise RowFailed("the phone is longer than 64 characters", self.headers[index])
                    if all(p[0] != parsed.e164 for p in record.phones):
                        record.phones.append((parsed.e164, text, parsed.extension, phone_kind))
        for name, email_kind in _EMAIL_KINDS.items():
            for index in self.mapping.columns.get(name, ()):
                for text in split_multi(cells[index]):
                    try:
                        key = parse_email(text)
                    except BadValue as exc:
                        raise RowFailed(str(exc), self.headers[index]) from None
                    if all(e[0] != key for e in record.emails):
                        record.emails.append((key, text, email_kind))
