"""A large mixed AMI stream: 1,000 concurrent calls built from the recorded traces.

Each recorded call trace is copied with its ids shifted (Uniqueid/Linkedid sequence numbers,
channel name suffixes, bridge ids), and the copies are interleaved event by event, so at the
middle of the stream about 1,000 calls are live at once. Figures: events/s through the tracker
alone (parsed events), through the whole pipeline (bytes -> our protocol -> tracker -> bus ->
registry) and through panoramisk's parser alone on the same bytes; memory held by the adapter
and the registry with the 1,000 calls live (tracemalloc).
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time
import tracemalloc
from itertools import zip_longest
from pathlib import Path

from cti.bus import EventBus
from cti.registry import CallRegistry
from pbx_adapters.asterisk.tracker import ChannelTracker

from .ami_throughput import chunks_of, panoramisk, pipeline

TRACES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami-traces"
CONCURRENT = 1000
_ID = re.compile(r"^(\d{10})\.(\d+)$")
_CHANNEL = re.compile(r"-([0-9a-f]{8})(;[12])?$")


def _shift(fields: dict[str, str], copy: int) -> dict[str, str]:
    out = {}
    for key, value in fields.items():
        if not isinstance(value, str):
            value = value[-1]
        if key.endswith(("Uniqueid", "Linkedid", "UniqueID")) and (m := _ID.match(value)):
            value = f"{m.group(1)}.{int(m.group(2)) + copy * 1000}"
        elif key.endswith("Channel") and (m := _CHANNEL.search(value)):
            value = value[: m.start()] + f"-{int(m.group(1), 16) + copy * 0x1000:08x}" + (m.group(2) or "")
        elif key.endswith("BridgeUniqueid") or key in ("BridgeId",):
            value = f"{value}-{copy}"
        out[key] = value
    return out


def build_stream(concurrent: int = CONCURRENT) -> list[dict[str, str]]:
    """Interleave *concurrent* shifted copies of the call traces (round robin over the traces)."""
    sources = []
    for path in sorted(TRACES.glob("*.jsonl")):
        if path.stem.startswith(("00_", "13_")):
            continue
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        sources.append([e["fields"] for e in events if e["dir"] == "event" and "ActionID" not in e["fields"]])
    copies = [[_shift(fields, copy) for fields in sources[copy % len(sources)]] for copy in range(concurrent)]
    return [event for round_ in zip_longest(*copies) for event in round_ if event is not None]


def _wire(events: list[dict[str, str]]) -> bytes:
    return b"".join(
        ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode("utf-8") for fields in events
    )


def _tracker_alone(events: list[dict[str, str]]) -> float:
    tracker = ChannelTracker(lambda event: None)
    start = time.perf_counter()
    for fields in events:
        tracker.feed(fields)
    return time.perf_counter() - start


def _memory_at_peak(events: list[dict[str, str]]) -> tuple[int, int]:
    """Bytes held by tracker + registry when the most calls are live, and how many are."""
    gc.collect()
    tracemalloc.start()
    registry = CallRegistry()
    bus = EventBus(registry)
    tracker = ChannelTracker(bus.publish)
    base = tracemalloc.get_traced_memory()[0]
    most, held = 0, 0
    for index, fields in enumerate(events):
        tracker.feed(fields)
        if index % 500 == 0 and len(registry) > most:
            most, held = len(registry), tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held, most


def main() -> None:
    events = build_stream()
    data = _wire(events)
    tracker_s = min(_tracker_alone(events) for _ in range(3))
    chunks = chunks_of(data)
    pipeline_s, cti_events = min(asyncio.run(pipeline(chunks, rounds=1)) for _ in range(3))
    panoramisk_s = min(panoramisk(chunks, rounds=1) for _ in range(3))
    held, most = _memory_at_peak(events)
    n = len(events)
    print(f"AMI at scale ({n:,} events, {CONCURRENT:,} interleaved calls from the recorded traces)")
    print(f"  tracker alone (parsed events) : {n / tracker_s:>10,.0f} events/s")
    print(
        f"  whole pipeline (bytes in)     : {n / pipeline_s:>10,.0f} events/s   ({cti_events:,} cti events)"
    )
    print(f"  panoramisk parser alone       : {n / panoramisk_s:>10,.0f} events/s")
    print(f"  memory with {most:,} calls live : {held / 1e6:>10.1f} MB (tracker + registry, tracemalloc)")


if __name__ == "__main__":
    main()
