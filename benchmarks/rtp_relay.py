"""RTP relay under load: N bridged and recorded calls, driven by a UDP load generator in another process.

The relay process runs the real :class:`MediaEngine` (latch-only, on 127.0.0.1): N calls, two legs
each, bridged, each recorded to a stereo WAV in a temporary directory. A generator process plays
2 x N phones: every phone sends a 172-byte G.711 packet every 20 ms (phases spread over the 20 ms,
as real phones are) and reads what the relay sends it. Each packet carries its send time, so the
generator measures the relay's transit time and the jitter it adds (RFC 3550 interarrival jitter,
the mean over all streams). The relay reports its own CPU time (every thread: event loop and WAV
writer) over the measuring window.

Figures, per event loop (the default asyncio loop, and uvloop if installed): relay CPU, CPU per
relayed packet and per call-second (a call is 100 packets/s into the relay), packet loss, transit
p50/p99 and added jitter, and the concurrent calls one core would carry at 50% (extrapolated from
the cost per packet at the largest load). With ``--pin`` the relay runs on core 0 and the generator
on core 1 (only on an otherwise idle machine: a pinned relay sharing its core with other work is
starved, and shows loss that is not its own). Other work on the machine skews loss and transit
most; the load average is printed first. On a shared machine Linux gives each session an equal
share of the CPU (autogroup), so relay and generator together may get far less than a core: the
CPU cost per relayed packet stays meaningful, and the notes under a row say when the generator, not
the relay, ran short.

    python -m benchmarks.rtp_relay [--calls 100,300] [--seconds 4] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import multiprocessing
import os
import select
import socket
import statistics
import struct
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

HOST = "127.0.0.1"
PORT_MIN = 24000
"Below the ephemeral range, away from the PBX default (20000) and the SIP load benchmark (30000)."
WARMUP = 1.0
DRAIN = 0.5
PHASES = 10
"Phones are spread over 10 send phases 2 ms apart, like independent phones."
_HEADER = struct.Struct("!BBHII")
_STAMP = struct.Struct("!d")


def _pin(core: int | None) -> None:
    if core is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        if len(os.sched_getaffinity(0)) >= 2:
            os.sched_setaffinity(0, {core})


# -- the relay process -------------------------------------------------------------------------


async def _relay(conn: Connection, calls: int, directory: str) -> None:
    from pbx_adapters.sip.media import Codec, MediaEngine, bridge

    engine = MediaEngine(HOST, PORT_MIN, PORT_MIN + 4 * calls + 999, latch_only=True)  # room for ports in use
    await engine.start()
    ports = []
    legs = []
    for index in range(calls):
        a, b = await engine.open_leg(), await engine.open_leg()
        legs += [a, b]
        a.configure(None, Codec.PCMU, 101)
        b.configure(None, Codec.PCMU, 101)
        bridge(a, b).start_recording(Path(directory) / f"{index}.wav")
        ports.append((a.local_port, b.local_port))
    conn.send(ports)
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    started = (0.0, 0.0, 0)
    while (command := await commands.get()) != "exit":
        if command == "start":
            started = (time.process_time(), time.monotonic(), sum(leg.packets_received for leg in legs))
        elif command == "stop":
            relayed = sum(leg.packets_received for leg in legs) - started[2]
            conn.send((time.process_time() - started[0], time.monotonic() - started[1], relayed))
    loop.remove_reader(conn.fileno())
    await engine.stop()


def _relay_main(conn: Connection, calls: int, loop_kind: str, directory: str, core: int | None) -> None:
    from config.logging import configure_logging

    configure_logging(level="warning", json=False, cache=True)
    _pin(core)
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(_relay(conn, calls, directory))
    else:
        asyncio.run(_relay(conn, calls, directory))


# -- the load generator process ----------------------------------------------------------------


def _generator_main(conn: Connection, ports: list[tuple[int, int]], seconds: float, core: int | None) -> None:
    """Send 50 packets/s from each of 2 x N phones; measure what comes back (no asyncio: it must keep up)."""
    _pin(core)
    phones = []
    for a_port, b_port in ports:
        for port in (a_port, b_port):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            phones.append((sock, (HOST, port)))
    by_fd = {sock.fileno(): index for index, (sock, _) in enumerate(phones)}
    poller = select.epoll()
    for sock, _ in phones:
        poller.register(sock.fileno(), select.EPOLLIN)
    groups = [phones[phase::PHASES] for phase in range(PHASES)]
    filler = b"\xff" * (160 - _STAMP.size)
    ssrc = [index + 1 for index in range(len(phones))]
    seq = [0] * len(phones)
    jitter = [0.0] * len(phones)
    last_transit = [None] * len(phones)
    transits: list[float] = []
    sent = received = 0
    start = time.monotonic()
    window = (start + WARMUP, start + WARMUP + seconds)
    conn.send("ready")
    tick = start
    phase = 0
    cpu_start = time.process_time()
    while True:
        now = time.monotonic()
        if now >= window[1] + DRAIN:
            break
        if now >= tick and now < window[1]:
            stamp = _STAMP.pack(now) + filler  # one send time per phase: they go out together
            counted = window[0] <= now
            for index, (sock, target) in enumerate(groups[phase]):
                phone = index * PHASES + phase
                seq[phone] = number = (seq[phone] + 1) & 0xFFFF
                sock.sendto(_HEADER.pack(0x80, 0, number, number * 160, ssrc[phone]) + stamp, target)
                sent += counted
            phase = (phase + 1) % PHASES
            tick += 0.02 / PHASES
        for fd, _ in poller.poll(max(0.0, tick - time.monotonic()) if now < window[1] else 0.05):
            phone = by_fd[fd]
            try:
                data = phones[phone][0].recv(2048)
            except BlockingIOError:
                continue
            (sent_at,) = _STAMP.unpack_from(data, 12)
            if not window[0] <= sent_at < window[1]:
                continue
            received += 1
            transit = time.monotonic() - sent_at
            transits.append(transit)
            previous = last_transit[phone]
            if previous is not None:
                jitter[phone] += (abs(transit - previous) - jitter[phone]) / 16
            last_transit[phone] = transit
    cpu = time.process_time() - cpu_start
    transits.sort()
    conn.send(
        {
            "sent": sent,
            "offered": sent / seconds / (len(phones) * 50),
            "received": received,
            "p50": transits[len(transits) // 2] if transits else float("nan"),
            "p99": transits[int(len(transits) * 0.99)] if transits else float("nan"),
            "jitter": statistics.fmean(jitter) if jitter else float("nan"),
            "cpu": cpu / (time.monotonic() - start),
        }
    )
    for sock, _ in phones:
        sock.close()


# -- orchestration ---------------------------------------------------------------------------


def run(calls: int, loop_kind: str, seconds: float, *, pin: bool = False) -> dict[str, float]:
    """Measure one load level with one event loop (*pin*: relay on core 0, generator on core 1)."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="rtp-bench-") as directory:
        relay_conn, relay_child = context.Pipe()
        relay = context.Process(
            target=_relay_main, args=(relay_child, calls, loop_kind, directory, 0 if pin else None)
        )
        relay.start()
        ports = relay_conn.recv()
        load_conn, load_child = context.Pipe()
        generator = context.Process(
            target=_generator_main, args=(load_child, ports, seconds, 1 if pin else None)
        )
        generator.start()
        load_conn.recv()  # generator started its clock
        time.sleep(WARMUP)
        relay_conn.send("start")
        time.sleep(seconds)
        relay_conn.send("stop")
        cpu, wall, relayed = relay_conn.recv()
        figures = load_conn.recv()
        generator.join()
        relay_conn.send("exit")
        relay.join()
        recorded = sum(path.stat().st_size for path in Path(directory).glob("*.wav"))
    loss = 1 - figures["received"] / figures["sent"] if figures["sent"] else float("nan")
    return {
        "calls": calls,
        "relay_cpu": cpu / wall,
        # Per packet the relay actually handled, times a call's 100 packets/s: honest even with loss.
        "cpu_ms_per_call_second": 1000 * cpu / relayed * 100 if relayed else float("nan"),
        "us_per_packet": 1e6 * cpu / relayed if relayed else float("nan"),
        "loss": loss,
        "p50_ms": 1000 * figures["p50"],
        "p99_ms": 1000 * figures["p99"],
        "jitter_ms": 1000 * figures["jitter"],
        "generator_cpu": figures["cpu"],
        "offered": figures["offered"],
        "recorded_mb": recorded / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the figures for each load level and event loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="100,300", help="comma-separated concurrent call counts")
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring window per run")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="relay on core 0, generator on core 1 (only on an otherwise idle machine)",
    )
    args = parser.parse_args(argv)
    levels = [int(value) for value in args.calls.split(",")]
    loops = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") else [])
    print("RTP relay: bridged + recorded G.711 calls, 100 packets/s each into the relay")
    with contextlib.suppress(OSError):
        print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"{'loop':8} {'calls':>5} {'relay CPU':>9} {'us/packet':>9} {'CPU-ms/call-s':>13} {'loss':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'jitter ms':>9} {'gen CPU':>7}"
    )
    for loop_kind in loops:
        rows = []
        for calls in levels:
            row = run(calls, loop_kind, args.seconds, pin=args.pin)
            rows.append(row)
            print(
                f"{loop_kind:8} {calls:>5} {row['relay_cpu']:>9.1%} {row['us_per_packet']:>9.1f} "
                f"{row['cpu_ms_per_call_second']:>13.2f} "
                f"{row['loss']:>7.2%} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['jitter_ms']:>9.3f} "
                f"{row['generator_cpu']:>7.0%}"
            )
            if row["offered"] < 0.95:
                print(f"{'':8} (the generator sent {row['offered']:.0%} of the load: it was short of CPU)")
            if row["loss"] >= 0.005 and row["relay_cpu"] < 0.9:
                print(f"{'':8} (loss, relay under 90% CPU: the generator or the machine was short of CPU)")
        costs = [row for row in rows if row["cpu_ms_per_call_second"] == row["cpu_ms_per_call_second"]]
        if costs:
            # From the cost per relayed packet at the largest load: the least favourable (cache pressure).
            at_half = int(500 / costs[-1]["cpu_ms_per_call_second"])
            measured = costs[-1]["calls"]
            print(f"{loop_kind:8} ~{at_half} recorded calls at 50% of one core (cost measured at {measured})")
    if "uvloop" not in loops:
        print("uvloop is not installed (pip install '.[speedups]'): no uvloop figures")


if __name__ == "__main__":
    main()
