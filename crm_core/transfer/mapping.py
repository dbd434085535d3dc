"""Which column of a file feeds which CRM field: the fields of each import kind, and the mapping.

A mapping pairs column names with field names (``Телефон=phone``). Checking it names every problem
at once: a column the file does not have, a field the kind does not have, a single-valued field fed
by two columns, a required field nobody feeds. Phones and e-mails may take several columns (work,
mobile...), and one cell may hold several of them separated by commas or semicolons.

:func:`guess_mapping` proposes a mapping from the column names (English and Russian, Bitrix24's
export headers, and our own export's field names, so an export imports back unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..errors import CrmError
from ..rights import Entity

__all__ = [
    "FIELDS",
    "ColumnMapping",
    "Field",
    "ImportKind",
    "MappingError",
    "build_mapping",
    "field_names",
    "guess_mapping",
    "parse_pairs",
]


class ImportKind(StrEnum):
    CONTACTS = "contacts"
    COMPANIES = "companies"
    LEADS = "leads"
    PRODUCTS = "products"

    @property
    def entity(self) -> Entity:
        """The rights entity an import of this kind adds to."""
        return _ENTITIES[self]


_ENTITIES = {
    ImportKind.CONTACTS: Entity.CONTACT,
    ImportKind.COMPANIES: Entity.COMPANY,
    ImportKind.LEADS: Entity.LEAD,
    ImportKind.PRODUCTS: Entity.PRODUCT,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One importable field."""

    name: str
    label: str
    "What the web form shows."
    multiple: bool = False
    "Several columns may feed it, and a cell may hold several values (phones, e-mails)."
    aliases: tuple[str, ...] = ()
    "Column names (lower case) that mean this field, for :func:`guess_mapping`."


def _f(name: str, label: str, *aliases: str, multiple: bool = False) -> Field:
    return Field(name=name, label=label, multiple=multiple, aliases=(name, label.lower(), *aliases))


_PHONES = (
    _f("phone", "Phone", "phones", "телефон", "рабочий телефон", "work phone", "телефоны", multiple=True),
    _f("phone_mobile", "Mobile phone", "mobile", "мобильный", "мобильный телефон", "сотовый", multiple=True),
    _f("phone_home", "Home phone", "домашний телефон", multiple=True),
)
_EMAILS = (
    _f(
        "email", "E-mail", "e-mail", "emails", "mail", "почта", "рабочий e-mail", "work e-mail", multiple=True
    ),
    _f("email_home", "Home e-mail", "личный e-mail", "домашний e-mail", multiple=True),
)
_RESPONSIBLE = _f("responsible", "Responsible", "ответственный", "owner", "assigned", "manager")
_COMMENTS = _f("comments", "Comments", "comment", "комментарий", "комментарии", "notes", "примечание")

FIELDS: Mapping[ImportKind, tuple[Field, ...]] = {
    ImportKind.CONTACTS: (
        _f("name", "Full name", "фио", "контакт", "contact", "имя контакта"),
        _f("last_name", "Last name", "фамилия", "surname"),
        _f("first_name", "First name", "имя"),
        _f("middle_name", "Middle name", "отчество", "patronymic"),
        *_PHONES,
        *_EMAILS,
        _f("company", "Company", "компания", "company name", "организация"),
        _RESPONSIBLE,
        _COMMENTS,
    ),
    ImportKind.COMPANIES: (
        _f("title", "Company name", "company", "name", "название", "название компании", "компания"),
        *_PHONES,
        *_EMAILS,
        _RESPONSIBLE,
        _COMMENTS,
    ),
    ImportKind.LEADS: (
        _f("title", "Lead title", "название лида", "название", "lead"),
        _f("name", "Contact name", "фио", "имя", "контактное лицо", "full name"),
        _f("company_name", "Company name", "компания", "название компании", "company"),
        *_PHONES,
        *_EMAILS,
        _f("status", "Status", "стадия", "статус"),
        _f("source", "Source", "источник"),
        _f("amount", "Amount", "сумма", "opportunity"),
        _f("currency", "Currency", "валюта"),
        _RESPONSIBLE,
        _COMMENTS,
    ),
    ImportKind.PRODUCTS: (
        _f("name", "Product name", "название", "товар", "наименование", "product"),
        _f("section", "Section", "раздел", "category", "категория"),
        _f("price", "Price", "цена"),
        _f("currency", "Currency", "валюта"),
        _f("unit", "Unit", "единица измерения", "ед. изм.", "ед."),
        _f("vat_rate", "VAT rate", "vat", "vat rate %", "ндс", "ставка ндс"),
        _f("vat_included", "VAT included", "ндс включен в цену", "ндс включён в цену"),
        _f("active", "Active", "активен", "активность"),
        _f("external_id", "External id", "внешний код", "xml_id", "код 1с"),
        _f("description", "Description", "описание"),
    ),
}

_REQUIRED: Mapping[ImportKind, tuple[tuple[str, ...], ...]] = {
    # Each inner tuple: at least one of these fields must be mapped.
    ImportKind.CONTACTS: (("name", "last_name", "first_name"),),
    ImportKind.COMPANIES: (("title",),),
    ImportKind.LEADS: (("title", "name", "company_name"),),
    ImportKind.PRODUCTS: (("name",),),
}


class MappingError(CrmError):
    """The column mapping cannot be used; one line per problem."""

    error_id = "invalid-mapping"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def details(self) -> dict[str, object]:
        return {"problems": list(self.problems)}


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A checked mapping for one file: for each field, the column positions that feed it."""

    kind: ImportKind
    columns: Mapping[str, tuple[int, ...]]

    def pairs(self, headers: Sequence[str]) -> dict[str, str]:
        """Column name -> field name, as a person wrote it (to show or to reuse)."""
        return {headers[i]: name for name, positions in self.columns.items() for i in positions}


def field_names(kind: ImportKind) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS[kind])


def parse_pairs(items: Iterable[str]) -> dict[str, str]:
    """Parse ``COLUMN=FIELD`` command-line items (the column may itself contain ``=`` but the field not)."""
    pairs: dict[str, str] = {}
    problems = []
    for item in items:
        column, sep, name = item.rpartition("=")
        if not sep or not column.strip() or not name.strip():
            problems.append(f"{item!r}: write COLUMN=FIELD, e.g. 'Телефон=phone'")
            continue
        pairs[column.strip()] = name.strip()
    if problems:
        raise MappingError(problems)
    return pairs


def build_mapping(kind: ImportKind, headers: Sequence[str], pairs: Mapping[str, str]) -> ColumnMapping:
    """Check *pairs* (column name -> field name; an empty field skips the column) against *headers*."""
    fields = {f.name: f for f in FIELDS[kind]}
    position = {header: index for index, header in enumerate(headers)}
    folded = {header.casefold(): index for index, header in enumerate(headers)}
    problems: list[str] = []
    columns: dict[str, list[int]] = {}
    for column, name in pairs.items():
        if not name:
            continue
        index = position.get(column, folded.get(column.casefold()))
        if index is None:
            problems.append(f"column {column!r}: the file has no such column; it has {_list(headers)}")
        if name not in fields:
            problems.append(f"column {column!r}: {kind} have no field {name!r}; fields: {_list(fields)}")
        if index is not None and name in fields:
            columns.setdefault(name, []).append(index)
    for name, positions in columns.items():
        if len(positions) > 1 and not fields[name].multiple:
            fed_by = ", ".join(repr(headers[i]) for i in positions)
            problems.append(f"field {name!r} takes one column, but {fed_by} all feed it")
    for one_of in _REQUIRED[kind]:
        if not any(name in columns for name in one_of):
            problems.append(f"map a column to {' or '.join(repr(n) for n in one_of)}: {kind} need it")
    if problems:
        raise MappingError(problems)
    return ColumnMapping(kind=kind, columns={name: tuple(sorted(p)) for name, p in columns.items()})


def guess_mapping(kind: ImportKind, headers: Sequence[str]) -> dict[str, str]:
    """Propose column name -> field name for the columns whose names we recognise."""
    by_alias: dict[str, Field] = {}
    for f in FIELDS[kind]:
        for alias in f.aliases:
            by_alias.setdefault(alias.casefold(), f)
    guessed: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        # "Phone (2)" is the second "Phone" column of the file.
        base = header.rsplit(" (", 1)[0] if header.endswith(")") else header
        f = by_alias.get(header.casefold()) or by_alias.get(base.casefold())
        if f is None or (f.name in taken and not f.multiple):
            continue
        guessed[header] = f.name
        taken.add(f.name)
    return guessed


def _list(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)
