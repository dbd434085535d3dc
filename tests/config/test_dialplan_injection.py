"""What reaches Asterisk's configuration cannot carry configuration of its own."""

from __future__ import annotations

import pytest

from config.dialplan import DialplanError, parse_dialplan
from tests.conftest import ROOT

SAMPLE = (ROOT / "config" / "dialplan.yaml").read_text(encoding="utf-8")


def refused(text: str) -> str:
    with pytest.raises(DialplanError) as info:
        parse_dialplan(text, path="t.yaml")
    return str(info.value)


class TestInjection:
    @pytest.mark.parametrize(
        ("yaml", "problem"),
        [
            (
                'trunks:\n  main: {host: sip.example.net, username: "u\\n[evil]\\ntype=endpoint"}\n',
                "may not contain control characters",
            ),
            ('trunks:\n  "main,U(x)": {host: sip.example.net}\n', "is not a name"),
            ('trunks:\n  main: {host: "sip.example.net\\n[evil]"}\n', "is not a host name or IP address"),
            ('trunks:\n  main: {host: h.example.net, allow_from: ["1.2.3.4;x"]}\n', "is not an IP address"),
            ('groups:\n  "sup\\nexten => 666,1,Dial(x)": {members: ["101"]}\n', "is not a name"),
            (
                'extensions:\n  "101": {name: A, outbound: '
                '["international\\nset_var=CTI_CLASSES=supervisor"]}\n',
                "is not a name",
            ),
            ('extensions:\n  "101": {name: A, outbound: ["national,supervisor"]}\n', "is not a name"),
            ('extensions:\n  "101": {name: "A\\n[evil]"}\n', "line break"),
            ('extensions:\n  "101": {name: A, secret: "long-secret\\nx=1"}\n', "control characters"),
            ('conferences:\n  "800": {name: "Room\\r\\n"}\n', "line break"),
        ],
    )
    def test_values_that_would_write_asterisk_configuration_are_refused(self, yaml, problem):
        """
        A line break, a comma or a bracket in a name, host, class or credential is an error at check.
        """
        assert problem in refused(yaml)

    def test_the_shipped_plan_still_passes(self):
        """
        The rules leave a normal office plan alone.
        """
        parse_dialplan(SAMPLE, path="config/dialplan.yaml")
