"""Reading CSV (encodings, delimiters, quoting) and .xlsx files into rows with their line numbers."""

from __future__ import annotations

import codecs
import io
from datetime import date, datetime

import openpyxl
import pytest

from crm_core.transfer.readers import UnreadableFile, read_csv, read_file, read_table, read_xlsx


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    """A real workbook written by openpyxl, as Excel would save it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class TestCsvEncodings:
    def test_cp1251_with_semicolons_as_russian_excel_saves_it(self):
        """Windows-1251 text and ';' between cells are both detected."""
        data = "ФИО;Телефон;Компания\r\nСмирнова Анна;8 (916) 123-45-67;ООО «Ромашка»\r\n".encode("cp1251")
        table = read_csv("contacts.csv", data)
        assert "cp1251" == table.encoding
        assert ";" == table.delimiter
        assert ("ФИО", "Телефон", "Компания") == table.headers
        assert ("Смирнова Анна", "8 (916) 123-45-67", "ООО «Ромашка»") == table.rows[0].cells
        assert 2 == table.rows[0].line

    def test_utf8_bom_and_tabs(self):
        """A UTF-8 BOM (1C, Excel's "CSV UTF-8") is dropped, tabs are found."""
        data = codecs.BOM_UTF8 + "Имя\tE-mail\nАнна\tanna@example.com\n".encode()
        table = read_csv("x.csv", data)
        assert "utf-8-sig" == table.encoding
        assert "\t" == table.delimiter
        assert ("Имя", "E-mail") == table.headers

    def test_plain_utf8_with_commas(self):
        """Google Sheets' export: UTF-8 without BOM, commas."""
        table = read_csv("x.csv", "name,phone\nÄnne,+49 30 123456\n".encode())
        assert ("utf-8", ",") == (table.encoding, table.delimiter)
        assert ("Änne", "+49 30 123456") == table.rows[0].cells

    def test_utf16_with_bom(self):
        """Excel's "Unicode text" is UTF-16 with a BOM and tabs."""
        table = read_csv("x.txt", "name\tphone\r\nАнна\t+79161234567\r\n".encode("utf-16"))
        assert "utf-16" == table.encoding
        assert ("Анна", "+79161234567") == table.rows[0].cells

    def test_a_given_encoding_that_does_not_fit_is_refused_with_the_byte(self):
        """--encoding utf-8 on a cp1251 file: an error naming the byte, not mojibake."""
        with pytest.raises(UnreadableFile, match=r"not utf-8 text \(byte 1\)"):
            read_csv("x.csv", "Имя\n".encode("cp1251"), encoding="utf-8")

    def test_unknown_encoding_name(self):
        """A misspelt encoding is named in the error."""
        with pytest.raises(UnreadableFile, match="unknown encoding 'cp-9999'"):
            read_csv("x.csv", b"a\n", encoding="cp-9999")


class TestCsvShape:
    def test_a_quoted_cell_with_line_breaks_keeps_later_line_numbers_right(self):
        """A record spanning lines 2-3 is line 2; the next record is line 4."""
        data = b'name,comments\nAnna,"first\nsecond"\nBoris,ok\n'
        table = read_csv("x.csv", data)
        assert [2, 4] == [row.line for row in table.rows]
        assert "first\nsecond" == table.rows[0].cells[1]

    def test_blank_rows_are_skipped_but_counted_in_line_numbers(self):
        """Empty lines (and rows of empty cells) are not rows; lines keep counting."""
        table = read_csv("x.csv", b"name,phone\n\n,\nAnna,1\n")
        assert [4] == [row.line for row in table.rows]

    def test_short_rows_are_padded_and_long_rows_set_aside(self):
        """A missing trailing cell is empty; extra non-empty cells make the row a problem."""
        table = read_csv("x.csv", b"a,b,c\n1,2\n1,2,3,4\n1,2,3,\n")
        assert [("1", "2", ""), ("1", "2", "3")] == [row.cells for row in table.rows]
        assert [3] == [row.line for row in table.problems]

    def test_blank_and_repeated_headers_get_unique_names(self):
        """Two "Phone" columns stay apart; a blank header is named by its position."""
        table = read_csv("x.csv", b"Phone,,Phone\n1,2,3\n")
        assert ("Phone", "column 2", "Phone (2)") == table.headers

    def test_an_empty_file_is_refused(self):
        """No header row: a clear error, not an empty import."""
        with pytest.raises(UnreadableFile, match="the file is empty"):
            read_csv("empty.csv", b"\n\n")

    def test_cells_are_trimmed(self):
        """Spaces around cells (fixed-width exports) are not part of the value."""
        table = read_csv("x.csv", b" name , phone \n  Anna ,  1 \n")
        assert (("name", "phone"), ("Anna", "1")) == (table.headers, table.rows[0].cells)


class TestXlsx:
    def test_values_read_as_excel_shows_them(self):
        """Numbers typed as phones keep every digit; dates are ISO; empty cells are ''."""
        data = xlsx_bytes(
            [
                ["Name", "Phone", "Born", "Price", "Seen"],
                ["Anna", 79161234567, date(1990, 5, 17), 12.5, datetime(2026, 1, 2, 3, 4, 5)],
                [None, None, None, None, None],
                ["Boris", "+7 495 111-22-33", None, 3, None],
            ]
        )
        table = read_xlsx("book.xlsx", data)
        assert "xlsx" == table.format
        assert ("Anna", "79161234567", "1990-05-17", "12.5", "2026-01-02 03:04:05") == table.rows[0].cells
        assert ("Boris", "+7 495 111-22-33", "", "3", "") == table.rows[1].cells
        assert [2, 4] == [row.line for row in table.rows]

    def test_a_named_sheet(self):
        """--sheet picks a sheet; a wrong name lists the sheets there are."""
        workbook = openpyxl.Workbook()
        workbook.active.title = "Notes"
        workbook.create_sheet("Clients").append(["name"])
        workbook["Clients"].append(["Anna"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        table = read_xlsx("b.xlsx", buffer.getvalue(), sheet="Clients")
        assert ("Anna",) == table.rows[0].cells
        with pytest.raises(UnreadableFile, match="no sheet 'Nope'; sheets: Notes, Clients"):
            read_xlsx("b.xlsx", buffer.getvalue(), sheet="Nope")

    def test_read_table_goes_by_content_not_by_name(self):
        """A workbook named .csv is still read as a workbook; CSV named .xlsx is refused."""
        data = xlsx_bytes([["name"], ["Anna"]])
        assert "xlsx" == read_table("export.csv", data).format
        with pytest.raises(UnreadableFile, match=r"not an \.xlsx workbook"):
            read_table("old.xlsx", b"name\nAnna\n")

    def test_a_broken_workbook(self):
        """A zip that is not a workbook: a clear error."""
        with pytest.raises(UnreadableFile, match=r"broken\.xlsx: not a readable \.xlsx workbook"):
            read_xlsx("broken.xlsx", b"PK\x03\x04" + b"\0" * 100)


class TestReadFile:
    def test_reads_a_path_and_reports_a_missing_one(self, tmp_path):
        """The file's name is the table's name; a missing file names the OS reason."""
        path = tmp_path / "c.csv"
        path.write_bytes(b"name\nAnna\n")
        assert "c.csv" == read_file(path).name
        with pytest.raises(UnreadableFile, match="No such file or directory"):
            read_file(tmp_path / "missing.csv")
