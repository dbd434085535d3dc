"""baresip as a real desk phone for the tests: headless, loopback only, driven over ctrl_tcp.

Each phone gets its own config directory, SIP port and control port. It plays a sine tone of its
own frequency (``ausine``) as its microphone, so a recording tells the two directions apart.
baresip announces its external interface address in SDP: the PBX's relay must latch to where the
phone's packets come from (and, with ``latch_only``, never sends to the announced address).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path

import pytest

from .peers import free_port

MODULES = Path("/usr/lib/baresip/modules")


class BaresipPhone:
    def __init__(self, workdir: Path, extension: str, pbx: tuple[str, int], *, tone: int) -> None:
        if shutil.which("baresip") is None:
            pytest.fail("baresip is missing: apt-get install baresip (make apt-test)")
        self.extension = extension
        self.directory = workdir / f"baresip-{extension}"
        self.directory.mkdir()
        self.sip_port = free_port(even=True)  # baresip also binds the port above it (TLS)
        self.ctrl_port = free_port()
        host, port = pbx
        (self.directory / "config").write_text(
            "\n".join(
                [
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "audio_player alsa,null",
                    "audio_alert alsa,null",
                    f"audio_source ausine,{tone}",
                    "ausrc_srate 48000",
                    "ausrc_channels 2",
                    f"module_path {MODULES}",
                    "module g711.so",
                    "module ausine.so",
                    "module alsa.so",
                    "module account.so",
                    "module menu.so",
                    "module ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "",
                ]
            )
        )
        (self.directory / "accounts").write_text(
            f"<sip:{extension}@{host}:{port}>;auth_pass=secret-{extension};"
            f'outbound="sip:{host}:{port}";regint=300;answermode=auto;audio_codecs=PCMU\n'
        )
        (self.directory / "contacts").write_text("")
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.events: list[dict[str, object]] = []
        self._replies: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self._read_task: asyncio.Task[None] | None = None
        self._token = 0

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(self.directory),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(10):
            while True:
                try:
                    self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
        self._read_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            length = await self._reader.readuntil(b":")
            payload = await self._reader.readexactly(int(length[:-1]))
            await self._reader.readexactly(1)  # the netstring's ","
            message = json.loads(payload)
            if message.get("response"):
                self._replies.put_nowait(message)
            else:
                self.events.append(message)

    async def command(self, command: str, params: str = "") -> dict[str, object]:
        """Run one ctrl_tcp command and return baresip's reply."""
        assert self._writer is not None
        self._token += 1
        body = json.dumps({"command": command, "params": params, "token": f"t{self._token}"}).encode()
        self._writer.write(str(len(body)).encode() + b":" + body + b",")
        await self._writer.drain()
        async with asyncio.timeout(5):
            return await self._replies.get()

    async def wait_event(self, kind: str, timeout: float = 15.0) -> dict[str, object]:
        """Wait for a pushed event of *kind* (``REGISTER_OK``, ``CALL_ESTABLISHED``, ``CALL_CLOSED``...)."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.get("type") == kind:
                        self.events.remove(event)
                        return event
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._read_task
        if self._writer is not None:
            self._writer.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
