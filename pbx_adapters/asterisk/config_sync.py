"""Keep Asterisk's configuration equal to the running dialplan: render, write, reload over AMI.

Each time a plan is applied (and after every AMI login, so a restarted Asterisk or a plan applied
while the link was down is brought in step), its rendered files
replace the ones in ``ami.config_dir`` (each file atomically, mode 0640), and Asterisk reloads the
modules that read them. If rendering fails, or Asterisk refuses a reload or cannot be reached, the
previous files are put back and the modules reloaded from them again, so the configuration on disk
is always one Asterisk has accepted; the failure is logged with its reason. (Many Asterisk modules
answer ``Reload`` with Success even when their file has errors: the refusal check catches what
Asterisk reports, not every mistake in a file.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from config.dialplan_spec import DialplanSpec
from cti.errors import PbxActionFailed, PbxUnavailable

from .ami import AmiConnection
from .render import write_config

__all__ = ["RELOADS", "AsteriskConfigSync", "Renderer"]

log = structlog.get_logger(__name__)

Renderer = Callable[[DialplanSpec], Mapping[str, str]]
"Plan -> {file name: content}, e.g. pbx_adapters.asterisk.render.render_asterisk."

RELOADS = ("pbx_config.so", "res_pjsip.so", "features", "app_confbridge.so")
"The modules that read extensions.conf, pjsip.conf, features.conf and confbridge.conf."


class AsteriskConfigSync:
    def __init__(self, ami: AmiConnection, directory: Path, render: Renderer) -> None:
        self._ami = ami
        self._directory = directory
        self._render = render
        self._lock = asyncio.Lock()

    async def apply(self, spec: DialplanSpec) -> bool:
        """Write the plan's files and reload Asterisk; on failure restore the old ones. True if applied."""
        async with self._lock:
            try:
                files = await asyncio.to_thread(lambda: dict(self._render(spec)))
            except Exception as exc:  # a plan the renderer cannot carry: Asterisk keeps what it has
                log.error("asterisk_config_not_rendered", directory=str(self._directory), error=str(exc))
                return False
            previous = await asyncio.to_thread(_read_all, self._directory, files)
            await asyncio.to_thread(write_config, files, self._directory)
            try:
                await self._reload()
            except (PbxUnavailable, PbxActionFailed) as exc:
                await asyncio.to_thread(_restore, self._directory, previous)
                with contextlib.suppress(PbxUnavailable, PbxActionFailed):
                    await self._reload()  # modules reloaded before the refusal read the new files
                log.error(
                    "asterisk_config_refused",
                    directory=str(self._directory),
                    error=str(exc),
                    kept="the previous files",
                )
                return False
            log.info("asterisk_config_applied", directory=str(self._directory), files=sorted(files))
            return True

    async def _reload(self) -> None:
        for module in RELOADS:
            await self._ami.send({"Action": "Reload", "Module": module})


def _read_all(directory: Path, names: Mapping[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = (directory / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            out[name] = None
    return out


def _restore(directory: Path, previous: Mapping[str, str | None]) -> None:
    write_config({name: text for name, text in previous.items() if text is not None}, directory)
    for name, text in previous.items():
        if text is None:
            (directory / name).unlink(missing_ok=True)
