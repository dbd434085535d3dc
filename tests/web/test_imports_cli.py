"""``cti crm import`` and ``cti crm export`` on a real seeded SQLite database."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import Contact, Product, User
from crm_core.transfer.report import Progress
from web import cli, cli_crm
from web.cli_crm import ProgressBar

CSV = (
    "ФИО;Телефон;E-mail;Ответственный\n"
    "Иванов Пётр;8 (903) 111-22-33;petr@example.com;ivanov\n"
    "Ольга;+7 903 111-22-44;;\n"
)


@pytest.fixture(autouse=True)
def _no_cached_logging(monkeypatch):
    """The CLI configures logging for production (cached loggers); tests keep theirs."""
    monkeypatch.setattr(cli_crm, "configure_logging", lambda **_kwargs: None)


@pytest.fixture(name="config")
def _config(tmp_path, settings) -> Path:
    """A settings file naming the seeded copy of the web tests' database."""
    path = tmp_path / "cti.yaml"
    path.write_text(
        "pbx: {mode: none}\n"
        f"database: {{url: '{settings.database.url}'}}\n"
        "crm: {default_responsible: petrov}\n",
        encoding="utf-8",
    )
    return path


def scalar(config_settings, stmt):
    async def read():
        engine = make_engine(config_settings.database.url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await session.scalar(stmt)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def contacts(settings) -> int:
    return scalar(settings, select(func.count()).select_from(Contact))


class TestImportCommand:
    def test_a_cp1251_file_is_imported_with_a_progress_line(self, tmp_path, config, settings, capsys):
        """Detected encoding, guessed mapping, one line per phase on a non-terminal stderr."""
        path = tmp_path / "clients.csv"
        path.write_bytes(CSV.encode("cp1251"))
        before = contacts(settings)
        assert 0 == cli.main(["crm", "import", "contacts", str(path), "--config", str(config)])
        out, err = capsys.readouterr()
        assert "imported contacts: 2 created, 0 merged, 0 skipped\n" == out
        assert "clients.csv: 2 rows; columns: ФИО -> name, Телефон -> phone, E-mail -> email" in err
        assert "check: 2/2 rows\nwrite: 2/2 rows\n" in err
        assert before + 2 == contacts(settings)
        owner = scalar(settings, select(Contact.responsible_id).where(Contact.name == "Ольга"))
        petrov = scalar(settings, select(User.id).where(User.login == "petrov"))
        assert petrov == owner

    def test_a_bad_row_is_printed_and_nothing_is_imported(self, tmp_path, config, settings, capsys):
        """Exit 1; the line, the column and the reason; the database unchanged."""
        path = tmp_path / "bad.csv"
        path.write_text(CSV + "Зоя;12;;\n", encoding="utf-8")
        before = contacts(settings)
        assert 1 == cli.main(["crm", "import", "contacts", str(path), "--config", str(config)])
        out, _err = capsys.readouterr()
        assert "nothing was imported: 1 bad rows (fix them and run again), 0 skipped\n" in out
        assert "error: line 4 (Телефон): '12' is not a phone number\n" in out
        assert before == contacts(settings)

    def test_dry_run_with_an_explicit_mapping_and_dedupe(self, tmp_path, config, settings, capsys):
        """--map corrects the guess, --dedupe skip reports the seeded contact's number."""
        path = tmp_path / "c.csv"
        path.write_text("Клиент,Номер\nАнна Смирнова,8 (916) 123-45-67\n", encoding="utf-8")
        args = ["crm", "import", "contacts", str(path), "--config", str(config), "--dry-run"]
        assert 0 == cli.main([*args, "--map", "Клиент=name", "--map", "Номер=phone"])
        out, _err = capsys.readouterr()
        assert out.startswith("dry run, nothing written: 0 to create, 0 to merge, 1 skipped\n")
        assert "skipped: line 2: duplicate of contact #" in out

    def test_json_report(self, tmp_path, config, capsys):
        """--json prints the whole report for scripts; a bad row still exits 1."""
        path = tmp_path / "c.csv"
        path.write_text("ФИО,Телефон\nЗоя,12\n", encoding="utf-8")
        assert 1 == cli.main(["crm", "import", "contacts", str(path), "--config", str(config), "--json"])
        report = json.loads(capsys.readouterr().out)
        assert (False, 1, [{"line": 2, "column": "Телефон", "reason": "'12' is not a phone number"}]) == (
            report["committed"],
            report["error_count"],
            report["errors"],
        )

    def test_an_xlsx_of_products(self, tmp_path, config, settings, capsys):
        """A workbook: prices typed as numbers stay exact."""
        workbook = openpyxl.Workbook()
        workbook.active.append(["Наименование", "Цена", "Внешний код"])
        workbook.active.append(["Кабель", 12.5, "A-1"])
        path = tmp_path / "products.xlsx"
        workbook.save(path)
        assert 0 == cli.main(["crm", "import", "products", str(path), "--config", str(config)])
        price = scalar(settings, select(Product.price).where(Product.external_id == "A-1"))
        assert "12.5000" == str(price)

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--map", "Нет такой=name"], "column 'Нет такой': the file has no such column"),
            (["--match", "shoe_size"], "--match: contacts match on email, name, phone, not 'shoe_size'"),
            (["--responsible", "nobody"], "--responsible: no user with login 'nobody'"),
        ],
    )
    def test_usage_errors_exit_2(self, tmp_path, config, capsys, extra, message):
        """A mapping, match key or login that cannot be used: exit 2 and why."""
        path = tmp_path / "c.csv"
        path.write_text(CSV, encoding="utf-8")
        assert 2 == cli.main(["crm", "import", "contacts", str(path), "--config", str(config), *extra])
        assert message in capsys.readouterr().err


class TestExportCommand:
    def test_export_to_a_file_in_cp1251(self, tmp_path, config, capsys):
        """Russian Excel's encoding and delimiter on request; a filter picks the rows."""
        source = tmp_path / "clients.csv"
        source.write_text(CSV, encoding="utf-8")
        assert 0 == cli.main(["crm", "import", "contacts", str(source), "--config", str(config)])
        out = tmp_path / "contacts.csv"
        args = [
            "crm",
            "export",
            "contacts",
            "--config",
            str(config),
            "--out",
            str(out),
            "--encoding",
            "cp1251",
        ]
        assert 0 == cli.main([*args, "--filter", "name__contains=Ольга", "--delimiter", ";"])
        lines = out.read_bytes().decode("cp1251").splitlines()
        assert 2 == len(lines)
        assert lines[0].startswith("id;name;phone;")
        assert ";Ольга;+7 903 111-22-44;" in lines[1]

    def test_an_agent_may_not_export(self, tmp_path, config, capsys):
        """--as ivanov: the agent role has no export right; exit 1 and nothing written."""
        out = tmp_path / "x.csv"
        args = ["crm", "export", "contacts", "--config", str(config), "--as", "ivanov", "--out", str(out)]
        assert 1 == cli.main(args)
        assert "cti crm export: You may not export this contact\n" == capsys.readouterr().err
        assert b"" == out.read_bytes()

    def test_a_bad_filter(self, config, capsys):
        """An unknown filter field is named with the filterable ones."""
        assert 1 == cli.main(["crm", "export", "contacts", "--config", str(config), "--filter", "x=1"])
        assert "cannot filter on 'x'" in capsys.readouterr().err


class TestProgressBar:
    def test_a_terminal_gets_one_redrawn_line(self):
        """Carriage returns while running, a newline at the end of each phase."""

        class Terminal(io.StringIO):
            def isatty(self):
                return True

        stream = Terminal()
        bar = ProgressBar(stream, interval=0)
        bar(Progress("check", 1, 4))
        bar(Progress("check", 4, 4))
        assert f"\r[{'#' * 8}{'.' * 22}]  25% check 1/4\r[{'#' * 30}] 100% check 4/4\n" == stream.getvalue()
