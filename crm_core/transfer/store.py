"""The database side of an import: duplicate look-ups in bulk, multi-row inserts, merges.

Every look-up takes a whole chunk of rows and is one indexed query per key (``phone.e164``,
``email.value_key``, ``contact.name_key``...); every insert is one multi-row statement per chunk and
table (``INSERT ... RETURNING id`` on PostgreSQL; see :meth:`CardStore._insert_many` for SQLite).
The ORM's per-object flush would cost a round trip per card; this keeps an import at thousands of
rows per second. The match keys the models keep
(``name_key``, ``title_key``, ``value_key``) are computed here with the same functions the models
use, since Core inserts bypass the models' validators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Company, ContactCompany, Email, LeadStatus, Phone
from ..models.catalog import Product, ProductSection
from ..models.keys import company_key, person_key
from ..rights import Action, Entity, Principal
from .mapping import ImportKind
from .report import ImportReport, MatchKey, RowIssue
from .rows import NOUNS, KindSpec, Record

__all__ = ["CardStore"]


class CardStore:
    """The database side of one import: duplicate look-ups, inserts and merges for one kind."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        kind: ImportKind,
        spec: KindSpec,
        owner_id: int | None,
    ) -> None:
        self.session = session
        self.principal = principal
        self.owner_id = owner_id
        "Responsible of the companies the import creates for its contacts."
        self.kind = kind
        self.spec = spec
        self.table: Table = spec.model.__table__
        self.companies: dict[str, int | None] = {}
        "Company key (or section name) -> id; None while it is still to be created."
        self.company_titles: dict[str, str] = {}

    def describe(self, target_id: int, responsible: int | None) -> str:
        """``contact #12`` for a card the user may read, else ``an existing contact`` (no id leaks)."""
        noun = NOUNS[self.kind]
        if self.spec.owner_type is None or self.principal.can(self.spec.entity, Action.READ, responsible):
            return f"{noun} #{target_id}"
        return f"an existing {noun}"

    def may_update(self, responsible: int | None) -> bool:
        """May the user merge a row into a card of this *responsible*?"""
        owner = responsible if self.spec.owner_type is not None else None
        return self.principal.can(self.spec.entity, Action.UPDATE, owner)

    async def find_existing(
        self, batch: Sequence[Record], match: Iterable[MatchKey]
    ) -> dict[tuple[MatchKey, str], tuple[int, int | None]]:
        """Key -> (card id, its responsible) for the keys of *batch* found in the database (oldest card)."""
        model, owner_type = self.spec.model, self.spec.owner_type
        responsible = getattr(model, "responsible_id", None)
        owner_column = responsible if responsible is not None else model.id  # products: unused
        found: dict[tuple[MatchKey, str], tuple[int, int | None]] = {}
        for key in match:
            values = {value for record in batch for k, value in record.keys(self.kind, (key,)) if k is key}
            if not values:
                continue
            if key is MatchKey.PHONE:
                stmt = (
                    select(Phone.e164, model.id, owner_column)
                    .join(model, model.id == Phone.owner_id)
                    .where(Phone.owner_type == owner_type, Phone.e164.in_(values))
                )
            elif key is MatchKey.EMAIL:
                stmt = (
                    select(Email.value_key, model.id, owner_column)
                    .join(model, model.id == Email.owner_id)
                    .where(Email.owner_type == owner_type, Email.value_key.in_(values))
                )
            elif key is MatchKey.NAME:
                stmt = select(self.spec.key_column, model.id, owner_column).where(
                    self.spec.key_column.in_(values)
                )
            else:
                stmt = select(Product.external_id, Product.id, Product.id).where(
                    Product.external_id.in_(values)
                )
            for value, card_id, owner in (await self.session.execute(stmt.order_by(model.id))).all():
                found.setdefault((key, value), (card_id, owner if responsible is not None else None))
        return found

    async def check_companies(self, records: Sequence[Record], report: ImportReport) -> None:
        """Find the companies (contacts) or sections (products) the rows name; count the missing ones."""
        if self.kind not in (ImportKind.CONTACTS, ImportKind.PRODUCTS):
            return
        wanted: dict[str, str] = {}
        for record in records:
            if record.company:
                wanted.setdefault(self._company_key(record.company), record.company)
        if not wanted:
            return
        if self.kind is ImportKind.CONTACTS:
            rows = await self.session.execute(
                select(Company.title_key, Company.id)
                .where(Company.title_key.in_(wanted))
                .order_by(Company.id)
            )
        else:
            rows = await self.session.execute(
                select(ProductSection.name, ProductSection.id).order_by(ProductSection.id)
            )
        for key, company_id in rows.all():
            key = self._company_key(key) if self.kind is ImportKind.PRODUCTS else key
            if key in wanted:
                self.companies.setdefault(key, company_id)
        if self.kind is ImportKind.PRODUCTS:
            await self._refuse_required_fields(records, report)
        missing = [key for key in wanted if key not in self.companies]
        entity = Entity.COMPANY if self.kind is ImportKind.CONTACTS else Entity.PRODUCT
        owner = self.owner_id if self.kind is ImportKind.CONTACTS else None
        if missing and not self.principal.can(entity, Action.ADD, owner):
            what = "companies" if self.kind is ImportKind.CONTACTS else "product sections"
            for record in records:
                if record.company and self._company_key(record.company) in missing:
                    report.errors.append(
                        RowIssue(record.line, f"{record.company!r} does not exist and you may not add {what}")
                    )
            return
        for key in missing:
            self.companies[key] = None
            self.company_titles[key] = wanted[key]
        report.created_companies = len(missing)

    async def _refuse_required_fields(self, records: Sequence[Record], report: ImportReport) -> None:
        """A product put into a section with required custom fields would break them: a bad row.

        The import carries no custom field values; such products are added in the product form.
        """
        ids = {section_id for section_id in self.companies.values() if section_id is not None}
        if not ids:
            return
        required = {
            section_id: [field["code"] for field in fields or () if field.get("required")]
            for section_id, fields in await self.session.execute(
                select(ProductSection.id, ProductSection.fields).where(ProductSection.id.in_(ids))
            )
        }
        for record in records:
            section_id = self.companies.get(self._company_key(record.company)) if record.company else None
            codes = required.get(section_id) if section_id is not None else None
            if codes:
                report.errors.append(
                    RowIssue(
                        record.line,
                        f"section {record.company!r} requires the custom fields {', '.join(codes)}, "
                        "which an import cannot fill: add this product in the product form",
                    )
                )

    def _company_key(self, text: str) -> str:
        if self.kind is ImportKind.CONTACTS:
            return company_key(text) or text.casefold()
        return " ".join(text.casefold().split())

    async def create_companies(self) -> None:
        """Insert the companies (or sections) :meth:`check_companies` found missing."""
        missing = [key for key, company_id in self.companies.items() if company_id is None]
        if not missing:
            return
        if self.kind is ImportKind.CONTACTS:
            params = [
                {
                    "title": self.company_titles[key],
                    "title_key": company_key(self.company_titles[key]),
                    "responsible_id": self.owner_id,
                }
                for key in missing
            ]
            table = Company.__table__
        else:
            params = [{"name": self.company_titles[key], "fields": []} for key in missing]
            table = ProductSection.__table__
        ids = await self._insert_many(table, params)
        self.companies.update(zip(missing, ids, strict=True))

    async def _insert_many(self, table: Table, params: list[dict[str, Any]]) -> list[int]:
        """Insert *params* in one go and return their new ids, in order."""
        if not params:
            return []
        if self.session.get_bind().dialect.name != "sqlite":
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list((await self.session.execute(stmt, params)).scalars())
        # SQLite does not promise RETURNING's order for several rows, and SQLAlchemy then falls
        # back to one statement per row (ten times slower). It does promise how it picks a new
        # row's id, the largest id + 1; and from its first row on, this transaction holds the only
        # write lock of the database, so no other row can come between ours: ours are the last n.
        await self.session.execute(insert(table), params)
        last = await self.session.scalar(select(func.max(table.c.id)))
        first = last - len(params) + 1
        mine = await self.session.scalar(
            select(func.count()).select_from(table).where(table.c.id.between(first, last))
        )
        if mine != len(params) or first < 1:
            raise RuntimeError(f"{table.name}: the ids of the inserted rows are not {first}..{last}")
        return list(range(first, last + 1))

    def _row_values(self, record: Record) -> dict[str, Any]:
        values = dict(record.values)
        kind = self.kind
        if kind is ImportKind.CONTACTS:
            values["name_key"] = person_key(values["name"])
            values["company_id"] = (
                self.companies.get(self._company_key(record.company)) if record.company else None
            )
        elif kind is ImportKind.COMPANIES:
            values["title_key"] = company_key(values["title"])
        elif kind is ImportKind.LEADS:
            values["name_key"] = person_key(values.get("name"))
            values["company_key"] = company_key(values.get("company_name"))
            values.setdefault("status", LeadStatus.NEW.value)
        else:
            values.pop("responsible_id", None)
            values["section_id"] = (
                self.companies.get(self._company_key(record.company)) if record.company else None
            )
        return values

    async def insert(self, batch: Sequence[Record]) -> None:
        """Insert new cards with their phones, e-mails and company links."""
        rows = [self._row_values(record) for record in batch]
        columns = set().union(*(row.keys() for row in rows))
        # One statement for the batch needs one set of columns: absent ones take the column default.
        params = [{name: row.get(name, _default(self.table, name)) for name in columns} for row in rows]
        ids = await self._insert_many(self.table, params)
        for record, card_id in zip(batch, ids, strict=True):
            record.id = card_id
        await self._add_channels([(record.id, record) for record in batch if record.id is not None])
        if self.kind is ImportKind.CONTACTS:
            links = [
                {"contact_id": record.id, "company_id": row["company_id"]}
                for record, row in zip(batch, params, strict=True)
                if row.get("company_id") is not None
            ]
            if links:
                await self.session.execute(insert(ContactCompany.__table__), links)

    async def _add_channels(self, cards: Sequence[tuple[int, Record]]) -> None:
        owner_type = self.spec.owner_type
        if owner_type is None:
            return
        phones = [
            {
                "owner_type": owner_type,
                "owner_id": card_id,
                "raw": raw,
                "e164": e164,
                "extension": ext,
                "kind": kind,
            }
            for card_id, record in cards
            for e164, raw, ext, kind in record.phones
        ]
        emails = [
            {"owner_type": owner_type, "owner_id": card_id, "value": value, "value_key": key, "kind": kind}
            for card_id, record in cards
            for key, value, kind in record.emails
        ]
        if phones:
            await self.session.execute(insert(Phone.__table__), phones)
        if emails:
            await self.session.execute(insert(Email.__table__), emails)

    async def merge(self, batch: Sequence[Record]) -> None:
        """Fill the empty fields of the matched cards and add the phones and e-mails they lack."""
        owner_type = self.spec.owner_type
        ids = [record.target for record in batch]
        current = {
            row.id: row
            for row in (await self.session.execute(select(self.table).where(self.table.c.id.in_(ids)))).all()
        }
        have_phones: set[tuple[int, str]] = set()
        have_emails: set[tuple[int, str]] = set()
        if owner_type is not None:
            have_phones = set(
                await self.session.execute(
                    select(Phone.owner_id, Phone.e164).where(
                        Phone.owner_type == owner_type, Phone.owner_id.in_(ids)
                    )
                )
            )
            have_emails = set(
                await self.session.execute(
                    select(Email.owner_id, Email.value_key).where(
                        Email.owner_type == owner_type, Email.owner_id.in_(ids)
                    )
                )
            )
        additions: list[tuple[int, Record]] = []
        links: list[dict[str, int]] = []
        for record in batch:
            target = record.target
            assert target is not None
            row = current[target]
            changes = {
                name: value
                for name, value in self._row_values(record).items()
                if value not in (None, "")
                and name != "responsible_id"
                and _is_empty(getattr(row, name, None))
                and name in self.table.c
            }
            if changes:
                await self.session.execute(
                    update(self.table).where(self.table.c.id == target).values(**changes)
                )
            if self.kind is ImportKind.CONTACTS and changes.get("company_id") is not None:
                links.append({"contact_id": target, "company_id": changes["company_id"]})
            extra = Record(line=record.line, values={})
            extra.phones = [p for p in record.phones if (target, p[0]) not in have_phones]
            extra.emails = [e for e in record.emails if (target, e[0]) not in have_emails]
            have_phones |= {(target, p[0]) for p in extra.phones}
            have_emails |= {(target, e[0]) for e in extra.emails}
            additions.append((target, extra))
        await self._add_channels(additions)
        if links:
            known = set(
                await self.session.execute(
                    select(ContactCompany.contact_id, ContactCompany.company_id).where(
                        ContactCompany.contact_id.in_([link["contact_id"] for link in links])
                    )
                )
            )
            new = [link for link in links if (link["contact_id"], link["company_id"]) not in known]
            if new:
                await self.session.execute(insert(ContactCompany.__table__), new)


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


def _default(table: Table, name: str) -> Any:
    """The Python-side default of a column (what the ORM would have set), for a partial batch row."""
    column = table.c[name]
    default = column.default
    if default is None or not getattr(default, "is_scalar", False):
        return None
    return default.arg
