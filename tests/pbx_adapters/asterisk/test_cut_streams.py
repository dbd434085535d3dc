"""Every recorded trace, its TCP stream cut at a random point and reconnected, gives the same calls."""

from __future__ import annotations

import random

import pytest

from pbx_adapters.asterisk.trace import read_trace
from pbx_adapters.asterisk.trace_server import AmiTraceServer
from tests.conftest import TRACES

from .test_ami_link import Pipeline

CALL_TRACES = sorted(path.stem for path in TRACES.glob("*.jsonl") if not path.stem.startswith("00_"))


def summary(calls):
    """What a record says, minus the times (the reconnect may shift them by a few ms)."""
    return sorted(
        (
            call.call_id,
            call.direction,
            call.external_number,
            call.did,
            call.extensions,
            call.answered_by,
            call.disposition,
            tuple((p.by, p.from_, p.code) for p in call.pickups),
            tuple((t.kind, t.by, t.to) for t in call.transfers),
            call.conference,
            call.recordings,
            call.listeners,
        )
        for call in calls
    )


async def play(lines, **options):
    async with AmiTraceServer(lines, **options) as server:
        run = Pipeline(server.port)
        await run.pbx.start()
        await server.wait_finished()
        await run.until(lambda: run.pbx.connected)
        await run.pbx.ami.send({"Action": "Ping"})  # every event before the answer is handled
        await run.pbx.stop()
    return run


@pytest.mark.parametrize("attempt", [0, 1, 2])
@pytest.mark.parametrize("name", CALL_TRACES)
async def test_a_cut_and_reconnected_stream_gives_the_same_calls(name, attempt):
    """
    The link drops at a random event (seeded by the trace name, so a failure reproduces) and the
    adapter reconnects: the same calls come out, each exactly once.
    """
    lines = read_trace(TRACES / f"{name}.jsonl")
    whole = await play(lines)
    cut = random.Random(f"{name}/{attempt}").randrange(1, len(AmiTraceServer(lines).events))

    again = await play(lines, drop_after=cut)

    assert 2 == again.pbx.ami.logins
    assert summary(whole.ended) == summary(again.ended)
