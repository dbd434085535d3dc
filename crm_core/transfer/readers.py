"""Read a spreadsheet someone exported from another CRM: CSV in whatever encoding, or Excel .xlsx.

Files come from Excel on Russian Windows (cp1251, ``;`` between cells), from Google Sheets (UTF-8,
``,``), from 1C (UTF-8 with a BOM, tabs) and from Bitrix24's own export, so the encoding and the
delimiter are detected rather than asked for. Every row keeps the line it came from, because the
dry run names the line a person must fix: the header is line 1, and a CSV record spanning several
lines (a quoted comment with line breaks) is named by the line it starts on.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import CrmError

__all__ = [
    "DELIMITERS",
    "SourceRow",
    "SourceTable",
    "UnreadableFile",
    "read_csv",
    "read_file",
    "read_table",
    "read_xlsx",
]

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50
_XLSX_MAGIC = b"PK\x03\x04"


class UnreadableFile(CrmError):
    """The file is not a CSV or .xlsx we can read; the message says what is wrong with it."""

    error_id = "unreadable-file"

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem

    def details(self) -> dict[str, object]:
        return {"file": self.name, "problem": self.problem}


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row: the line (CSV) or row number (Excel) it came from, and its cells as text."""

    line: int
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SourceTable:
    """A whole file: unique column names and the non-blank rows below the header."""

    name: str
    headers: tuple[str, ...]
    "Blank headers become ``column 3``; a repeated ``Phone`` becomes ``Phone (2)``."
    rows: tuple[SourceRow, ...]
    format: str
    "``csv`` or ``xlsx``."
    encoding: str | None = None
    delimiter: str | None = None
    problems: tuple[SourceRow, ...] = field(default=())
    "Rows with more non-empty cells than there are columns (reported by the importer)."


def _unique_headers(raw: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    headers = []
    for index, text in enumerate(raw, start=1):
        name = " ".join(text.split()) or f"column {index}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        headers.append(name)
    return tuple(headers)


def _build(name: str, records: Iterator[tuple[int, list[str]]], *, format: str, **facts: Any) -> SourceTable:
    """Take the first non-blank record as the header; pad short rows, set aside too-long ones."""
    headers: tuple[str, ...] | None = None
    rows: list[SourceRow] = []
    problems: list[SourceRow] = []
    for line, cells in records:
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if headers is None:
            while cells and not cells[-1]:
                cells.pop()
            headers = _unique_headers(cells)
            continue
        width = len(headers)
        if len(cells) > width and any(cells[width:]):
            problems.append(SourceRow(line, tuple(cells)))
            continue
        cells = cells[:width] + [""] * (width - len(cells))
        rows.append(SourceRow(line, tuple(cells)))
    if headers is None:
        raise UnreadableFile(name, "the file is empty: expected a header row with the column names")
    return SourceTable(
        name=name, headers=headers, rows=tuple(rows), format=format, problems=tuple(problems), **facts
    )


def _decode(name: str, data: bytes, encoding: str | None) -> tuple[str, str]:
    """Return (text, encoding): a BOM decides, then strict UTF-8, then cp1251 (Russian Excel)."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise UnreadableFile(name, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise UnreadableFile(name, f"not {encoding} text (byte {exc.start + 1})") from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: try the legacy encodings below
        return data.decode("utf-8"), "utf-8"
    # cp1251 maps every byte but 0x98; a file that is neither is better refused than garbled.
    try:
        return data.decode("cp1251"), "cp1251"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            name, f"neither UTF-8 nor Windows-1251 text (byte {exc.start + 1}); save it as UTF-8 CSV"
        ) from None


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most, equally wide, columns."""
    sample = "\n".join(text.splitlines()[:_SNIFF_LINES])
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        if not widths or widths[0] < 2:
            continue
        # Rows as wide as the header count; a delimiter only found inside a few cells scores low.
        score = (sum(width == widths[0] for width in widths), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(
    name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None
) -> SourceTable:
    """Read CSV *data*; *encoding* and *delimiter* are detected when not given."""
    text, used = _decode(name, data, encoding)
    delimiter = delimiter or _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def records() -> Iterator[tuple[int, list[str]]]:
        start = 1
        try:
            for cells in reader:
                yield start, cells
                start = reader.line_num + 1
        except csv.Error as exc:
            raise UnreadableFile(name, f"line {start}: {exc}") from None

    return _build(name, records(), format="csv", encoding=used, delimiter=delimiter)


def _cell_text(value: Any) -> str:
    """An Excel cell as a person would read it (phones typed as numbers lose no digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time | Decimal | int):
        return value.isoformat() if isinstance(value, date | time) else str(value)
    return str(value)


def read_xlsx(name: str, data: bytes, *, sheet: str | None = None) -> SourceTable:
    """Read the first sheet (or *sheet*) of an .xlsx workbook, values as Excel shows them."""
    import openpyxl  # a second or so to import: only when a workbook is read
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(name, f"not a readable .xlsx workbook ({exc})") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise UnreadableFile(name, f"no sheet {sheet!r}; sheets: {', '.join(workbook.sheetnames)}")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        records = (
            (index, [_cell_text(value) for value in values])
            for index, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
        )
        return _build(name, records, format="xlsx")
    finally:
        workbook.close()


def read_table(
    name: str,
    data: bytes,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> SourceTable:
    """Read *data* as .xlsx when it is a zip workbook (whatever its name says), else as CSV."""
    if data.startswith(_XLSX_MAGIC):
        return read_xlsx(name, data, sheet=sheet)
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise UnreadableFile(name, "not an .xlsx workbook (an old .xls? save it as .xlsx or CSV)")
    return read_csv(name, data, encoding=encoding, delimiter=delimiter)


def read_file(path: Path, **options: Any) -> SourceTable:
    """Read the file at *path* (see :func:`read_table`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(str(path), exc.strerror or str(exc)) from None
    return read_table(path.name, data, **options)
