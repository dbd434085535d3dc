"""Keep Asterisk's configuration equal to the running dialplan: render, write, reload over AMI.

Each time a plan is applied, its rendered files replace the ones in ``ami.config_dir`` (each file
atomically), and Asterisk reloads the modules that read them. If Asterisk refuses a reload (or
cannot be reached), the previous files are put back, so the configuration on disk is always one
Asterisk has accepted; the refusal is logged with Asterisk's reason.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog

from config.dialplan_spec import DialplanSpec
from cti.errors import PbxActionFailed, PbxUnavailable

from .ami import AmiConnection

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
        """Write the plan's files and reload Asterisk; on refusal restore the old files. True if applied."""
        async with self._lock:
            files = dict(self._render(spec))
            previous = {name: _read(self._directory / name) for name in files}
            _write(self._directory, files)
            try:
                for module in RELOADS:
                    await self._ami.send({"Action": "Reload", "Module": module})
            except (PbxUnavailable, PbxActionFailed) as exc:
                _restore(self._directory, previous)
                log.error(
                    "asterisk_config_refused",
                    directory=str(self._directory),
                    error=str(exc),
                    kept="the previous files",
                )
                return False
            log.info("asterisk_config_applied", directory=str(self._directory), files=sorted(files))
            return True


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write(directory: Path, files: Mapping[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        handle, temp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, directory / name)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _restore(directory: Path, previous: Mapping[str, str | None]) -> None:
    _write(directory, {name: text for name, text in previous.items() if text is not None})
    for name, text in previous.items():
        if text is None:
            (directory / name).unlink(missing_ok=True)
