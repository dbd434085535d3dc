"""Fixtures of the Asterisk adapter tests: trace servers that stop with the test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pbx_adapters.asterisk.trace import TraceLine
from pbx_adapters.asterisk.trace_server import AmiTraceServer

IVAN = "Иван Петров"


def with_cyrillic(lines: list[TraceLine]) -> list[TraceLine]:
    """The trace with the external caller's unknown name replaced by a Cyrillic one."""
    out = []
    for line in lines:
        fields = dict(line.fields)
        for key in ("CallerIDName", "ConnectedLineName", "DestCallerIDName"):
            if fields.get(key) == "<unknown>":
                fields[key] = IVAN
        out.append(replace(line, fields=fields))
    return out


@pytest.fixture(name="serve")
async def _serve():
    servers: list[AmiTraceServer] = []

    async def serve(lines, **options) -> AmiTraceServer:
        server = AmiTraceServer(lines, **options)
        await server.start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        await server.stop()
