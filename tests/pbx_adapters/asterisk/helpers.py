"""Feed recorded AMI traces straight into a tracker (no socket) and collect what comes out."""

from __future__ import annotations

import json
from pathlib import Path

from cti.bus import EventBus
from cti.events import CallEnded, CtiEvent
from cti.model import Call
from cti.registry import CallRegistry
from pbx_adapters.asterisk.tracker import ChannelTracker, replay_fields


class Replay:
    """A tracker wired to a real registry and bus, recording every event and every ended call."""

    def __init__(self) -> None:
        self.registry = CallRegistry()
        self.bus = EventBus(self.registry)
        self.events: list[CtiEvent] = []
        self.ended: list[Call] = []
        self.tracker = ChannelTracker(self._publish)

    def _publish(self, event: CtiEvent) -> None:
        self.events.append(event)
        call = self.bus.publish(event)
        if isinstance(event, CallEnded) and call is not None:
            self.ended.append(call)

    def feed_file(self, path: Path, *, limit: int | None = None) -> None:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for index, fields in enumerate(replay_fields(lines)):
            if limit is not None and index >= limit:
                break
            self.tracker.feed(fields)

    def kinds(self) -> list[str]:
        return [type(event).__name__ for event in self.events]


def trace_events(path: Path) -> list[dict[str, str]]:
    """The event field maps of a trace file, in order."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [dict(fields) for fields in replay_fields(lines)]


def replay(path: Path) -> Replay:
    run = Replay()
    run.feed_file(path)
    return run
