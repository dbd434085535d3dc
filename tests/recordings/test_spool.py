"""Where this host reads the PBX's file, and the recordings settings that say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import RecordingSettings, SettingsError, load_settings
from recordings.spool import local_path

MAP = {
    "/var/spool/asterisk/monitor": Path("/mnt/pbx-monitor"),
    "/var/spool/asterisk/monitor/vip": Path("/mnt/vip"),
}


class TestLocalPath:
    def test_mapped_directory_is_read_through_the_mount(self):
        """
        Asterisk's spool on another host is read where it is mounted here.
        """
        assert Path("/mnt/pbx-monitor/2025/x.wav") == local_path(
            "/var/spool/asterisk/monitor/2025/x.wav", MAP
        )

    def test_longest_prefix_wins(self):
        """
        A more specific mapping beats its parent's.
        """
        assert Path("/mnt/vip/x.wav") == local_path("/var/spool/asterisk/monitor/vip/x.wav", MAP)

    def test_unmapped_path_is_the_same_disk(self):
        """
        Without a matching prefix the PBX shares our disk: the path is used as it is.
        """
        assert Path("/var/lib/pbx/x.wav") == local_path("/var/lib/pbx/x.wav", MAP)

    def test_prefix_matches_whole_directories_only(self):
        """
        /var/spool/asterisk/monitor2 is not under /var/spool/asterisk/monitor.
        """
        assert Path("/var/spool/asterisk/monitor2/x.wav") == local_path(
            "/var/spool/asterisk/monitor2/x.wav", MAP
        )

    @pytest.mark.parametrize(
        "path", ["x.wav", "../x.wav", "/var/spool/asterisk/monitor/../../etc/passwd", "", "/a\x00b"]
    )
    def test_relative_or_escaping_paths_are_refused(self, path):
        """
        A path the PBX gives must be absolute and free of '..' (a bad dialplan cannot point us anywhere).
        """
        with pytest.raises(ValueError, match="recording path"):
            local_path(path, MAP)


class TestSettings:
    def test_retention_and_spool_map_load_from_yaml(self, tmp_path):
        """
        The documented example loads: policies in order, the spool map as paths.
        """
        path = tmp_path / "cti.yaml"
        path.write_text(
            "recordings:\n"
            "  format: opus\n"
            "  spool_map: {/var/spool/asterisk/monitor: /mnt/pbx-monitor}\n"
            "  retention:\n"
            "    - {direction: inbound, days: 180}\n"
            "    - {did: '+74951234567', days: 365}\n"
            "    - {days: 90}\n",
            encoding="utf-8",
        )
        settings = load_settings(path, environ={})

        assert [("inbound", None, 180), (None, "+74951234567", 365), (None, None, 90)] == [
            (p.direction, p.did, p.days) for p in settings.recordings.retention
        ]
        assert {"/var/spool/asterisk/monitor": Path("/mnt/pbx-monitor")} == settings.recordings.spool_map
        assert "opus" == settings.recordings.format

    def test_bad_policy_names_line_and_key(self, tmp_path):
        """
        A policy of zero days is refused with the file, line and key.
        """
        path = tmp_path / "cti.yaml"
        path.write_text("recordings:\n  retention:\n    - {direction: inbound, days: 0}\n", encoding="utf-8")
        with pytest.raises(SettingsError, match=r"cti.yaml:3:\d+: recordings.retention.0.days"):
            load_settings(path, environ={})

    def test_relative_pbx_directory_is_refused(self):
        """
        The PBX side of the spool map must be an absolute path.
        """
        with pytest.raises(ValueError, match="must be an absolute path"):
            RecordingSettings(spool_map={"spool": Path("/mnt/x")})
