"""SIP load on the embedded PBX, driven by sipp: set-ups per second, concurrent relayed and recorded
calls, relay loss and added jitter, with the default event loop and with uvloop.

The PBX runs in this process (so its CPU time is ``time.process_time()``); sipp runs as child
processes on loopback: one registers the called extensions and answers with ``-rtp_echo``, one
places the calls (digest-authenticated INVITEs, like desk phones). Every call is relayed and
recorded (``recording: internal: always``). Figures:

* set-ups/s: calls placed at a fixed rate for a few seconds; answered ones over the elapsed time,
  and the PBX's CPU-ms per set-up (signalling only, 1 s calls, no audio).
* concurrent calls: C calls with audio both ways held up; over a window, the PBX's CPU share,
  CPU-ms per call-second, packets relayed per second, relay loss (packets in that did not go
  out) and the event loop's lag (p50/p99: what the relay adds to a packet's delay, i.e. jitter).

Asterisk is not installed here (Debian has no package for this machine), so the CPU-per-call
ratio against Asterisk could not be measured in the same run; the issue's Asterisk figures
(2.4-3.0 CPU-ms per call-second plain, 4.2-6.8 with MixMonitor) are printed for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.dialplan import parse_dialplan
from config.logging import configure_logging
from config.settings import Settings
from cti.events import CallEnded, CtiEvent
from cti.model import Disposition
from cti.plan import RunningPlan
from pbx_adapters.sip.pbx import SipPbx

SCENARIOS = Path(__file__).resolve().parent / "sip_scenarios"
CALLEES = 400
"Extensions 2000.. answer (all registered from one sipp); callers are 3000.."
RATES = (50, 100, 150)
RATE_SECONDS = 4
CONCURRENCY = (100, 200, 300)
WINDOW = 4.0
ASTERISK = "Asterisk 22 (issue 6): 2.4-3.0 CPU-ms per call-second plain, 4.2-6.8 recorded; 50 set-ups/s clean"


def _plan(callers: int) -> str:
    lines = ["timezone: Europe/Moscow", "extensions:"]
    for n in range(CALLEES):
        lines.append(f'  "{2000 + n}": {{name: Callee {n}, secret: callee-secret-{n}}}')
    for n in range(callers):
        lines.append(f'  "{3000 + n}": {{name: Caller {n}, secret: caller-secret-{n}}}')
    lines.append("recording: {internal: always}")
    return "\n".join(lines) + "\n"


def _tone(path: Path) -> None:
    """3 s of a 440 Hz tone as a u-law WAV: what sipp's rtp_stream plays into each call."""
    import audioop

    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 8000))) for n in range(24000)
    )
    data = audioop.lin2ulaw(pcm, 2)
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    path.write_bytes(
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


@dataclass
class _Counter:
    answered: int = 0
    other: int = 0

    def publish(self, event: CtiEvent) -> None:
        if isinstance(event, CallEnded):
            if event.disposition is Disposition.ANSWERED:
                self.answered += 1
            else:
                self.other += 1


class _Lag:
    """Event-loop lag: how late a 5 ms timer fires (the delay the relay adds to a packet)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.005)
            self.samples.append(loop.time() - start - 0.005)

    def start(self) -> None:
        self.samples.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> tuple[float, float]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if len(self.samples) < 2:
            return 0.0, 0.0
        ordered = sorted(self.samples)
        return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000


async def _uac(
    host: str, port: int, scenario: str, work: Path, calls: int, *options: str
) -> asyncio.subprocess.Process:
    """sipp placing *calls* calls of *scenario* from the extensions in the callers' CSV; *options* add
    the rate, hold time and timeout."""
    return await _sipp(
        [
            f"{host}:{port}",
            "-sf",
            str(SCENARIOS / scenario),
            "-inf",
            str(_callers_csv(work, calls)),
            "-i",
            "127.0.0.1",
            "-p",
            str(_free_port()),
            "-m",
            str(calls),
            *options,
            "-nostdin",
            "-mp",
            str(_free_port() & ~1),
        ],
        work,
    )


async def _sipp(args: list[str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "sipp", *args, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _stack(work: Path, callers: int) -> tuple[SipPbx, _Counter, int]:
    """A PBX with the load plan, and every callee registered from one sipp port; that port."""
    spec, _issues = parse_dialplan(_plan(callers))
    running = RunningPlan()
    running.swap(spec, "load", None)
    counter = _Counter()
    # Not latch_only: sipp's -rtp_echo only answers packets, so the relay must speak first (to the
    # SDP address, which is loopback here).
    settings = Settings.model_validate(
        {
            "sip": {
                "host": "127.0.0.1",
                "port": 0,
                "rtp_port_min": 30000,
                "rtp_port_max": 39999,
                "latch_only": False,
            },
            "recordings": {"directory": str(work / "recordings")},
        }
    )
    pbx = SipPbx(settings, counter.publish, plan=running)
    await pbx.start()
    callees = work / "callees.csv"
    callees.write_text(
        "SEQUENTIAL\n"
        + "".join(f"{2000 + n};{_auth(2000 + n, f'callee-secret-{n}')}\n" for n in range(CALLEES))
    )
    host, port = pbx.address
    uas_port = _free_port()
    register = await _sipp(
        [
            f"{host}:{port}",
            "-sf",
            str(SCENARIOS / "register.xml"),
            "-inf",
            str(callees),
            "-i",
            "127.0.0.1",
            "-p",
            str(uas_port),
            "-m",
            str(CALLEES),
            "-r",
            "100",
            "-nostdin",
            "-timeout",
            "30s",
            "-trace_err",
        ],
        work,
    )
    await register.wait()
    return pbx, counter, uas_port


def _auth(extension: int, secret: str) -> str:
    """An injection-file field sipp turns into the Authorization header of that extension."""
    return f"[authentication username={extension} password={secret}]"


def _callers_csv(work: Path, callers: int) -> Path:
    path = work / "callers.csv"
    path.write_text(
        "SEQUENTIAL\n"
        + "".join(
            f"{3000 + n};{_auth(3000 + n, f'caller-secret-{n}')};{2000 + n % CALLEES}\n"
            for n in range(callers)
        )
    )
    return path


async def _rate(rate: int) -> dict[str, float]:
    calls = rate * RATE_SECONDS
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pbx, counter, uas_port = await _stack(work, calls)
        host, port = pbx.address
        uas = await _sipp(
            [
                f"{host}:{port}",
                "-sf",
                str(SCENARIOS / "uas.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(uas_port),
                "-nostdin",
                "-mp",
                str(_free_port() & ~1),
            ],
            work,
        )
        cpu, wall = time.process_time(), time.monotonic()
        uac = await _uac(host, port, "uac.xml", work, calls, "-r", str(rate), "-d", "1000", "-timeout", "60s")
        await uac.wait()
        elapsed, cpu_used = time.monotonic() - wall, time.process_time() - cpu
        with contextlib.suppress(ProcessLookupError):
            uas.kill()
        await uas.wait()
        await pbx.stop()
    return {
        "offered": rate,
        "answered": counter.answered,
        "failed": calls - counter.answered,
        "setups_per_s": counter.answered / max(elapsed - 1.0, 0.001),  # minus the last call's 1 s
        "cpu_ms_per_setup": cpu_used * 1000 / max(counter.answered, 1),
    }


async def _concurrent(calls: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _tone(work / "tone_a.wav")
        pbx, counter, uas_port = await _stack(work, calls)
        host, port = pbx.address
        uas = await _sipp(
            [
                f"{host}:{port}",
                "-sf",
                str(SCENARIOS / "uas.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(uas_port),
                "-nostdin",
                "-rtp_echo",
                "-mp",
                str(_free_port() & ~1),
            ],
            work,
        )
        hold_ms = int((WINDOW + 4 + calls / 50) * 1000)
        held = ("-l", str(calls), "-r", "50", "-d", str(hold_ms), "-timeout", "120s")
        uac = await _uac(host, port, "uac_audio.xml", work, calls, *held)
        deadline = time.monotonic() + 30
        while sum(1 for s in pbx.calls.sessions.values() if s.bridge is not None) < calls:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # let every relay latch
        up = sum(1 for s in pbx.calls.sessions.values() if s.bridge is not None)
        legs = [leg.media for s in pbx.calls.sessions.values() for leg in (s.a, s.b) if leg is not None]
        before = [(m.packets_received, m.packets_sent) for m in legs]
        lag = _Lag()
        lag.start()
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(WINDOW)
        cpu_used, elapsed = time.process_time() - cpu, time.monotonic() - wall
        after = [(m.packets_received, m.packets_sent) for m in legs]
        lag_p50, lag_p99 = await lag.stop()
        received = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        sent = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
        for process in (uac, uas):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await pbx.stop()
    del counter
    return {
        "calls": up,
        "cpu_share": cpu_used / elapsed,
        "cpu_ms_per_call_s": cpu_used * 1000 / max(up * elapsed, 0.001),
        "pps_in": received / elapsed,
        "loss": max(0.0, (received - sent) / received) if received else 0.0,
        "lag_p50_ms": lag_p50,
        "lag_p99_ms": lag_p99,
    }


def _loops() -> list[tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]]:
    loops: list[tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]] = [("asyncio", None)]
    try:
        import uvloop
    except ImportError:
        print("uvloop not installed (pip install '.[speedups]'): default loop only")
    else:
        loops.append(("uvloop", uvloop.new_event_loop))
    return loops


def main() -> None:
    print("SIP load (embedded PBX, sipp on loopback; every call relayed and recorded)")
    if shutil.which("sipp") is None:
        print("  sipp is not installed (apt-get install sip-tester): skipped")
        return
    print(f"  machine: {os.cpu_count()} CPUs, shared; figures are the PBX process's own CPU time")
    with tempfile.TemporaryDirectory() as logs:
        # As the daemon runs: info level, JSON lines (to a file here, to keep the figures readable).
        configure_logging(level="info", json=True, file=Path(logs) / "sip_load.log")
        for name, factory in _loops():
            with asyncio.Runner(loop_factory=factory) as runner:
                for rate in RATES:
                    _print_rate(name, runner.run(_rate(rate)))
                for calls in CONCURRENCY:
                    _print_concurrent(name, runner.run(_concurrent(calls)))
    print(f"  for comparison, {ASTERISK}; no Asterisk on this machine, so no same-run ratio")


def _print_rate(name: str, r: dict[str, float]) -> None:
    print(
        f"  {name:8} set-ups {r['offered']:>4.0f}/s offered: {r['setups_per_s']:6.1f}/s answered, "
        f"{r['failed']:.0f} failed, {r['cpu_ms_per_setup']:.2f} CPU-ms per set-up"
    )


def _print_concurrent(name: str, c: dict[str, float]) -> None:
    print(
        f"  {name:8} {c['calls']:>4.0f} concurrent recorded calls: "
        f"CPU {c['cpu_share'] * 100:5.1f}% of a core, "
        f"{c['cpu_ms_per_call_s']:.2f} CPU-ms per call-second, {c['pps_in']:.0f} pkt/s in, "
        f"relay loss {c['loss'] * 100:.2f}%, "
        f"loop lag p50 {c['lag_p50_ms']:.2f} ms p99 {c['lag_p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
