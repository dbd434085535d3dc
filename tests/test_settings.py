"""Settings: defaults, environment overrides, and errors that name the place and the problem."""

from __future__ import annotations

import pytest

from config.settings import SettingsError, load_settings


class TestLoadSettings:
    def test_the_shipped_file_loads(self):
        """
        config/cti.yaml as shipped is valid and points at a local Asterisk and SQLite.
        """
        from tests.conftest import ROOT

        settings = load_settings(ROOT / "config" / "cti.yaml", environ={})

        assert 5038 == settings.ami.port
        assert settings.database.url.startswith("sqlite+aiosqlite:///")

    def test_environment_overrides_the_file(self, tmp_path):
        """
        CTI_* variables win over the file.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("web:\n  port: 8080\n")

        settings = load_settings(
            path,
            environ={
                "CTI_WEB_PORT": "9090",
                "CTI_DATABASE_URL": "postgresql+asyncpg://u@h/db",
                "CTI_AMI_SECRET": "123",
            },
        )

        assert 9090 == settings.web.port
        assert "postgresql+asyncpg://u@h/db" == settings.database.url
        assert "123" == settings.ami.secret.get_secret_value()

    def test_errors_name_file_line_column_key_and_problem(self, tmp_path):
        """
        Each bad key is reported as FILE:LINE:COLUMN: key: problem.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("ami:\n  port: abc\n  hots: x\n")

        with pytest.raises(SettingsError) as info:
            load_settings(path, environ={})

        lines = str(info.value).splitlines()
        assert lines[0].startswith(f"{path}:2:3: ami.port: ")
        assert f"{path}:3:3: ami.hots: unknown key (a typo?)" == lines[1]

    def test_secret_values_never_appear_in_errors(self, tmp_path):
        """
        A wrong-typed secret is reported without its value.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("ami:\n  secret: [hunter2]\n")

        with pytest.raises(SettingsError) as info:
            load_settings(path, environ={})

        assert "hunter2" not in str(info.value)

    def test_bad_yaml_names_the_position(self, tmp_path):
        """
        A YAML syntax error stops with the file and position.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("ami: [\n")

        with pytest.raises(SettingsError, match=r"cti.yaml:\d+:\d+: not valid YAML"):
            load_settings(path, environ={})

    def test_bad_environment_value_names_the_variable(self):
        """
        An override that does not fit names the variable.
        """
        with pytest.raises(SettingsError, match=r"CTI_WEB_PORT \(environment\): web\.port"):
            load_settings(None, environ={"CTI_WEB_PORT": "eighty"})

    def test_an_explicit_missing_file_is_an_error(self, tmp_path):
        """
        --config pointing nowhere is an error, not silent defaults.
        """
        with pytest.raises(SettingsError, match="no such settings file"):
            load_settings(tmp_path / "nope.yaml", environ={})
