"""AMI events per second: panoramisk's parser alone vs. our whole pipeline, on the same bytes.

Both sides get the recorded traces of tests/fixtures/ami-traces as the byte stream Asterisk sends,
in 4 KiB reads, through ``data_received`` (the socket itself costs both sides the same):

* panoramisk: its ``AMIProtocol`` parsing into ``Message`` objects, dispatch to a no-op.
* pipeline: our protocol (byte framing, whole-message UTF-8) -> ChannelTracker -> EventBus ->
  CallRegistry -> a subscriber queue, drained as the CRM writer would (its database writes run
  per call in another task and are not in this figure).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from pathlib import Path

from panoramisk.ami_protocol import AMIProtocol

from cti.bus import EventBus
from cti.registry import CallRegistry
from pbx_adapters.asterisk.ami import _Protocol
from pbx_adapters.asterisk.tracker import ChannelTracker

TRACES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami-traces"
CHUNK = 4096
ROUNDS = 40


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _Factory:
    save_stream = None

    def dispatch(self, message: object) -> None:
        pass


def _stream() -> tuple[bytes, int]:
    """The event messages of every trace, in AMI wire format, and how many there are."""
    parts: list[bytes] = []
    count = 0
    for path in sorted(TRACES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["dir"] != "event":
                continue
            fields = record["fields"]
            text = "".join(
                f"{key}: {item}\r\n"
                for key, value in fields.items()
                for item in (value if isinstance(value, list) else [value])
            )
            parts.append((text + "\r\n").encode("utf-8"))
            count += 1
    return b"".join(parts), count


def chunks_of(data: bytes) -> list[bytes]:
    """The byte stream as the 4 KiB reads a socket would hand over."""
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def panoramisk(chunks: list[bytes], rounds: int = ROUNDS) -> float:
    """Seconds for panoramisk's own protocol to parse *chunks* *rounds* times (dispatch is a no-op)."""
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    protocol.factory = _Factory()
    protocol.version = "11.0.0"
    protocol.encoding = "utf8"
    start = time.perf_counter()
    for _ in range(rounds):
        for chunk in chunks:
            protocol.data_received(chunk)
    return time.perf_counter() - start


async def pipeline(chunks: list[bytes], rounds: int = ROUNDS) -> tuple[float, int]:
    """Seconds for our protocol -> tracker -> bus -> registry -> a subscriber, and the cti events seen."""
    bus = EventBus(CallRegistry(), queue_size=1_000_000)
    tracker = ChannelTracker(bus.publish)
    protocol = _Protocol()
    protocol.connection_made(_Transport())
    protocol.version = "11.0.0"
    protocol.sink = tracker.feed
    consumed = 0
    async with bus.subscribe("bench") as queue:
        start = time.perf_counter()
        for _ in range(rounds):
            for chunk in chunks:
                protocol.data_received(chunk)
                while queue.pending:
                    queue.get_nowait()
                    consumed += 1
        elapsed = time.perf_counter() - start
    return elapsed, consumed


def main() -> None:
    data, count = _stream()
    chunks = chunks_of(data)
    total = count * ROUNDS
    gc.collect()
    baseline = min(panoramisk(chunks) for _ in range(3))
    gc.collect()
    runs = [asyncio.run(pipeline(chunks)) for _ in range(3)]
    ours = min(elapsed for elapsed, _ in runs)
    cti_events = runs[0][1]
    size = len(data) // count
    print(f"AMI throughput ({count} recorded events x {ROUNDS} rounds, {size} B/event, 4 KiB reads)")
    print(f"  panoramisk 1.4 parser alone : {total / baseline:>10,.0f} events/s")
    per_round = cti_events // ROUNDS
    print(
        f"  whole pipeline (ours)       : {total / ours:>10,.0f} events/s  ({per_round} cti events a round)"
    )
    print(f"  ratio pipeline / parser     : {baseline / ours:>10.2f}x")


if __name__ == "__main__":
    main()
