"""Demo and first-install data: users, own numbers, companies, contacts and leads from one mapping.

The whole mapping is checked before anything is written; every problem is reported at once, each
naming its place (``contacts[0].company: no company titled 'X' in the seed``). Applying the same
seed again adds nothing: rows are matched by login, number, title, or name within the company.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import NormalisedNumber, normalise

from .errors import SeedError
from .models import (
    Company,
    Contact,
    ExcludedNumber,
    ExclusionReason,
    Lead,
    LeadSource,
    LeadStatus,
    Phone,
    PhoneOwner,
    Role,
    User,
)
from .users import hash_password

__all__ = ["SECTIONS", "apply_seed"]

log = structlog.get_logger(__name__)

SECTIONS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # section: (required keys, optional keys) of each item; own_numbers is a list of strings
    "own_numbers": (frozenset(), frozenset()),
    "users": (frozenset({"login", "name"}), frozenset({"extension", "password", "role"})),
    "companies": (frozenset({"title"}), frozenset({"phones", "responsible"})),
    "contacts": (frozenset({"name"}), frozenset({"phones", "company", "responsible"})),
    "leads": (
        frozenset({"title"}),
        frozenset({"phones", "status", "source", "name", "company_name", "responsible"}),
    ),
}


@dataclass(frozen=True, slots=True)
class _Item:
    where: str
    "``section[index]``, for messages."
    values: dict[str, Any]
    phones: tuple[NormalisedNumber, ...]


class _Checker:
    """Collects every problem of a seed, then the clean items by section."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.problems: list[str] = []
        self.own: list[str] = []
        self.items: dict[str, list[_Item]] = {name: [] for name in SECTIONS}

    def fail(self, where: str, problem: str) -> None:
        self.problems.append(f"{where}: {problem}")

    def number(self, where: str, value: Any) -> NormalisedNumber | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(where, f"must be a phone number as text (got {type(value).__name__})")
            return None
        parsed = normalise(value, self.region)
        if parsed.e164 is None:
            self.fail(where, f"not a phone number: {value!r}")
            return None
        return parsed

    def check(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            self.fail("seed", f"must be a mapping of sections (got {type(data).__name__})")
            return
        for section, items in data.items():
            if section not in SECTIONS:
                self.fail(str(section), f"unknown section (expected one of {', '.join(sorted(SECTIONS))})")
            elif not isinstance(items, list):
                self.fail(section, f"must be a list (got {type(items).__name__})")
            elif section == "own_numbers":
                for index, value in enumerate(items):
                    parsed = self.number(f"own_numbers[{index}]", value)
                    if parsed is not None and parsed.e164 is not None:
                        self.own.append(parsed.e164)
            else:
                for index, item in enumerate(items):
                    self._item(section, index, item)

    def _item(self, section: str, index: int, item: Any) -> None:
        where = f"{section}[{index}]"
        if not isinstance(item, Mapping):
            self.fail(where, f"must be a mapping (got {type(item).__name__})")
            return
        required, optional = SECTIONS[section]
        values: dict[str, Any] = {}
        ok = True
        for key in required - item.keys():
            self.fail(f"{where}.{key}", "required")
            ok = False
        for key, value in item.items():
            if key not in required | optional:
                self.fail(f"{where}.{key}", "unknown key")
                ok = False
            elif key == "phones":
                continue
            elif key == "extension" and isinstance(value, int) and not isinstance(value, bool):
                values[key] = str(value)
            elif not isinstance(value, str) or not value.strip():
                self.fail(f"{where}.{key}", f"must be non-empty text (got {value!r})")
                ok = False
            else:
                values[key] = value.strip()
        phones: list[NormalisedNumber] = []
        raw_phones = item.get("phones", [])
        if not isinstance(raw_phones, list):
            self.fail(f"{where}.phones", f"must be a list (got {type(raw_phones).__name__})")
            ok = False
        else:
            for n, value in enumerate(raw_phones):
                parsed = self.number(f"{where}.phones[{n}]", value)
                ok = ok and parsed is not None
                if parsed is not None:
                    phones.append(parsed)
        for key, allowed in (
            ("role", tuple(Role)),
            ("status", tuple(LeadStatus)),
            ("source", tuple(LeadSource)),
        ):
            if key in values and values[key] not in allowed:
                self.fail(f"{where}.{key}", f"{values[key]!r} is not one of {', '.join(allowed)}")
                ok = False
        if ok:
            self.items[section].append(_Item(where, values, tuple(phones)))

    def cross_check(self, known_logins: set[str], taken_extensions: dict[str, str]) -> None:
        """Check references between sections, duplicates, and clashes with existing users."""
        logins: dict[str, str] = {}
        extensions: dict[str, str] = {}
        for item in self.items["users"]:
            login, extension = item.values["login"], item.values.get("extension")
            if login in logins:
                self.fail(f"{item.where}.login", f"{login!r} is already used by {logins[login]}")
            logins.setdefault(login, item.where)
            if extension is None:
                continue
            if extension in extensions:
                self.fail(
                    f"{item.where}.extension", f"{extension!r} is already used by {extensions[extension]}"
                )
            extensions.setdefault(extension, item.where)
            owner = taken_extensions.get(extension)
            if owner is not None and owner != login:
                self.fail(f"{item.where}.extension", f"{extension!r} already belongs to user {owner!r}")
        titles: dict[str, str] = {}
        for item in self.items["companies"]:
            title = item.values["title"]
            if title in titles:
                self.fail(f"{item.where}.title", f"{title!r} is already used by {titles[title]}")
            titles.setdefault(title, item.where)
        for item in self.items["contacts"]:
            company = item.values.get("company")
            if company is not None and company not in titles:
                self.fail(f"{item.where}.company", f"no company titled {company!r} in the seed")
        for section in ("companies", "contacts", "leads"):
            for item in self.items[section]:
                login = item.values.get("responsible")
                if login is not None and login not in logins and login not in known_logins:
                    self.fail(f"{item.where}.responsible", f"no user with login {login!r}")

    def references(self) -> tuple[set[str], set[str]]:
        """Logins and extensions the seed mentions, to look up in the database."""
        logins = {i.values["login"] for i in self.items["users"]}
        for section in ("companies", "contacts", "leads"):
            logins |= {i.values["responsible"] for i in self.items[section] if "responsible" in i.values}
        extensions = {i.values["extension"] for i in self.items["users"] if "extension" in i.values}
        return logins, extensions


async def apply_seed(session: AsyncSession, data: Mapping[str, Any], *, region: str = "RU") -> None:
    """Validate *data* fully, then add what the database lacks; raise :class:`SeedError` first.

    Phones are read with *region* (numbers written without a country code). The caller commits.
    """
    checker = _Checker(region)
    checker.check(data)
    logins, extensions = checker.references()
    existing_users: dict[str, int] = {}
    taken: dict[str, str] = {}
    if logins or extensions:
        rows = await session.execute(
            select(User.id, User.login, User.extension).where(
                or_(User.login.in_(logins), User.extension.in_(extensions))
            )
        )
        for user_id, login, extension in rows:
            existing_users[login] = user_id
            if extension is not None:
                taken[extension] = login
    checker.cross_check(set(existing_users), taken)
    if checker.problems:
        raise SeedError(checker.problems)
    await _write(session, checker, existing_users)


async def _write(session: AsyncSession, checker: _Checker, user_ids: dict[str, int]) -> None:
    added = dict.fromkeys(("own_numbers", "users", "companies", "contacts", "leads"), 0)
    own = set(await session.scalars(select(ExcludedNumber.e164).where(ExcludedNumber.e164.in_(checker.own))))
    for e164 in dict.fromkeys(checker.own):
        if e164 not in own:
            session.add(ExcludedNumber(e164=e164, reason=ExclusionReason.OWN_NUMBER))
            added["own_numbers"] += 1
    for item in checker.items["users"]:
        v = item.values
        if v["login"] in user_ids:
            continue
        password = v.get("password")
        user = User(
            login=v["login"],
            name=v["name"],
            extension=v.get("extension"),
            role=v.get("role", Role.AGENT),
            password_hash=hash_password(password) if password else None,
        )
        session.add(user)
        await session.flush()
        user_ids[user.login] = user.id
        added["users"] += 1
    company_ids: dict[str, int] = {}
    for item in checker.items["companies"]:
        title = item.values["title"]
        found = await session.scalar(select(Company.id).where(Company.title == title).order_by(Company.id))
        if found is None:
            company = Company(title=title, responsible_id=user_ids.get(item.values.get("responsible", "")))
            found = await _add(session, company, PhoneOwner.COMPANY, item.phones)
            added["companies"] += 1
        company_ids[title] = found
    for item in checker.items["contacts"]:
        name, company_id = item.values["name"], company_ids.get(item.values.get("company", ""))
        same = select(Contact.id).where(
            Contact.name == name, Contact.company_id.is_not_distinct_from(company_id)
        )
        if await session.scalar(same) is not None:
            continue
        contact = Contact(
            name=name, company_id=company_id, responsible_id=user_ids.get(item.values.get("responsible", ""))
        )
        await _add(session, contact, PhoneOwner.CONTACT, item.phones)
        added["contacts"] += 1
    for item in checker.items["leads"]:
        v = item.values
        if await session.scalar(select(Lead.id).where(Lead.title == v["title"])) is not None:
            continue
        lead = Lead(
            title=v["title"],
            name=v.get("name"),
            company_name=v.get("company_name"),
            status=v.get("status", LeadStatus.NEW),
            source=v.get("source", LeadSource.OTHER),
            responsible_id=user_ids.get(v.get("responsible", "")),
        )
        await _add(session, lead, PhoneOwner.LEAD, item.phones)
        added["leads"] += 1
    await session.flush()
    log.info("seed_applied", **added)


async def _add(
    session: AsyncSession,
    card: Company | Contact | Lead,
    owner: PhoneOwner,
    phones: tuple[NormalisedNumber, ...],
) -> int:
    session.add(card)
    await session.flush()
    for phone in phones:
        session.add(
            Phone(
                owner_type=owner, owner_id=card.id, raw=phone.raw, e164=phone.e164, extension=phone.extension
            )
        )
    return card.id
