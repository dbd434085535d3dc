"""Real SIP peers for the tests: sipp runs, and what the PBX published while they ran."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

from cti.bus import EventBus
from cti.events import CallEnded, CtiEvent
from cti.model import Call
from cti.registry import CallRegistry

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


class Recorder:
    """The PBX's publish callback: a real registry and bus, and every event and ended call kept."""

    def __init__(self) -> None:
        self.registry = CallRegistry()
        self.bus = EventBus(self.registry)
        self.events: list[CtiEvent] = []
        self.ended: list[Call] = []
        self.changed = asyncio.Event()

    def publish(self, event: CtiEvent) -> None:
        self.events.append(event)
        call = self.bus.publish(event)
        if isinstance(event, CallEnded) and call is not None:
            self.ended.append(call)
        self.changed.set()

    def kinds(self) -> list[str]:
        return [type(event).__name__ for event in self.events]

    async def wait_for(self, predicate, timeout: float = 20.0) -> None:
        """Wait until *predicate()* holds (checked after every event)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def ended_calls(self, count: int, timeout: float = 30.0) -> list[Call]:
        await self.wait_for(lambda: len(self.ended) >= count, timeout)
        return self.ended


async def until(predicate, timeout: float = 10.0) -> None:
    """Poll *predicate* until it holds (for PBX state that publishes no event)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def free_port(kind: int = socket.SOCK_DGRAM, *, even: bool = False) -> int:
    """A port free for UDP and TCP right now on 127.0.0.1.

    ``even``: an RTP port for sipp, which binds it and the three above (audio and video, RTP and RTCP).
    """
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if even and (port % 2 or port > 65000):
            continue
        wanted = range(port, port + 4) if even else range(port, port + 1)
        probes: list[socket.socket] = []
        try:
            for candidate in wanted:
                for family in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    check = socket.socket(socket.AF_INET, family)
                    probes.append(check)
                    check.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        finally:
            for check in probes:
                check.close()
        return port


@dataclass
class SippRun:
    rc: int
    stdout: str
    stderr: str
    port: int
    workdir: Path

    @property
    def errors(self) -> str:
        logs = sorted(self.workdir.glob("*_errors.log"))
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in logs) or self.stderr[-3000:]


@dataclass
class Sipp:
    """Run sipp scenarios from ``scenarios/`` against the PBX at *target*."""

    target: tuple[str, int]
    workdir: Path
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    def command(
        self,
        scenario: str,
        *,
        port: int,
        service: str = "",
        user: str = "",
        password: str = "",
        calls: int = 1,
        local_ip: str = "127.0.0.1",
        via: tuple[str, int] | None = None,
        media_port: int | None = None,
        transport: str = "u1",
        pause_ms: int = 1000,
        variables: dict[str, str] | None = None,
        extra: tuple[str, ...] = (),
    ) -> list[str]:
        host, pbx_port = via or self.target
        args = [
            "sipp",
            f"{host}:{pbx_port}",
            "-sf",
            str(SCENARIOS / scenario),
            "-i",
            local_ip,
            "-p",
            str(port),
            "-m",
            str(calls),
            "-nostdin",
            "-t",
            transport,
            "-timeout",
            "40s",
            "-timeout_error",
            "-trace_err",
            "-max_recv_loops",
            "1000",
            "-d",
            str(pause_ms),
        ]
        if service:
            args += ["-s", service]
        if user:
            args += ["-au", user, "-ap", password]
        args += ["-mp", str(media_port or free_port(even=True))]
        for name, value in (variables or {}).items():
            args += ["-key", name, value]
        return args + list(extra)

    async def start(self, scenario: str, **kwargs: object) -> asyncio.subprocess.Process:
        """Start sipp in the background (a UAS waiting for our INVITE)."""
        process = await asyncio.create_subprocess_exec(
            *self.command(scenario, **kwargs),  # type: ignore[arg-type]
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
        )
        self.processes.append(process)
        return process

    async def finish(self, process: asyncio.subprocess.Process, port: int, timeout: float = 60.0) -> SippRun:
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
        return SippRun(
            process.returncode or 0,
            stdout.decode(errors="replace"),
            stderr.decode(errors="replace"),
            port,
            self.workdir,
        )

    async def run(
        self, scenario: str, *, port: int | None = None, timeout: float = 60.0, **kwargs: object
    ) -> SippRun:
        port = port or free_port()
        process = await self.start(scenario, port=port, **kwargs)
        return await self.finish(process, port, timeout)

    async def register(
        self, extension: str, port: int, password: str | None = None, *, via: tuple[str, int] | None = None
    ) -> SippRun:
        return await self.run(
            "register.xml",
            port=port,
            service=extension,
            user=extension,
            password=password or f"secret-{extension}",
            via=via,
        )

    async def close(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


class LossyLink:
    """A UDP hop between one SIP peer and the PBX that loses chosen messages, once each.

    Deterministic loss: *drop* lists start-line prefixes (``b"INVITE "``, ``b"SIP/2.0 200"``); the
    first message from the PBX starting with each is swallowed, every later one passes.
    """

    def __init__(self, pbx: tuple[str, int], drop: tuple[bytes, ...]) -> None:
        self.pbx = pbx
        self.pending = list(drop)
        self.dropped: list[bytes] = []
        self.peer: tuple[str, int] | None = None
        self._front: asyncio.DatagramTransport | None = None
        self._back: asyncio.DatagramTransport | None = None

    async def start(self) -> tuple[str, int]:
        """Open both sides; return the address the peer should send to."""
        loop = asyncio.get_running_loop()
        link = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                link.peer = addr
                assert link._back is not None
                link._back.sendto(data, link.pbx)

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                for prefix in link.pending:
                    if data.startswith(prefix):
                        link.pending.remove(prefix)
                        link.dropped.append(data.split(b"\r\n", 1)[0])
                        return
                if link.peer is not None and link._front is not None:
                    link._front.sendto(data, link.peer)

        self._front, _ = await loop.create_datagram_endpoint(Front, local_addr=("127.0.0.1", 0))
        self._back, _ = await loop.create_datagram_endpoint(Back, local_addr=("127.0.0.1", 0))
        return self._front.get_extra_info("sockname")[:2]

    def close(self) -> None:
        for transport in (self._front, self._back):
            if transport is not None:
                transport.close()


def tone_wav(path: Path, frequency: float, seconds: float, *, ulaw: bool = True) -> Path:
    """A G.711 u-law WAV (what sipp's rtp_stream plays) of one sine tone."""
    import audioop

    rate = 8000
    samples = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / rate)))
        for n in range(int(rate * seconds))
    )
    data = audioop.lin2ulaw(samples, 2) if ulaw else samples
    fmt = (
        struct.pack("<HHIIHH", 7, 1, rate, rate, 1, 8)
        if ulaw
        else struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    )
    with path.open("wb") as out:
        out.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
        out.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        out.write(b"data" + struct.pack("<I", len(data)) + data)
    return path


def channel_power(path: Path, channel: int, frequency: float) -> float:
    """Goertzel power of *frequency* in one channel of a 16-bit WAV, relative to the channel's energy."""
    with wave.open(str(path)) as wav:
        channels, frames = wav.getnchannels(), wav.readframes(wav.getnframes())
    values = struct.unpack(f"<{len(frames) // 2}h", frames)[channel::channels]
    rate, coeff = 8000, 2 * math.cos(2 * math.pi * frequency / 8000)
    s_prev = s_prev2 = 0.0
    for sample in values:
        s = sample + coeff * s_prev - s_prev2
        s_prev2, s_prev = s_prev, s
    power = s_prev2**2 + s_prev**2 - coeff * s_prev * s_prev2
    energy = sum(v * v for v in values) or 1
    del rate
    return power / (energy * len(values) / 2)
