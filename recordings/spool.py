"""Where this host finds a file the PBX names: the same path, or the PBX's spool through a mount.

Asterisk on another host writes ``/var/spool/asterisk/monitor/x.wav``; we read it as
``/mnt/pbx-monitor/x.wav`` when ``recordings.spool_map`` says so. The longest matching prefix wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

__all__ = ["local_path"]


def local_path(pbx_path: str, spool_map: Mapping[str, Path]) -> Path:
    """Return where this host reads *pbx_path*; raise ValueError for a path that is not a plain file path.

    The path comes from the PBX, not from a user, but a relative path or ``..`` would still let a
    misconfigured dialplan point us anywhere, so both are refused.
    """
    if not pbx_path or "\x00" in pbx_path:
        raise ValueError(f"unusable recording path from the PBX: {pbx_path!r}")
    path = PurePosixPath(pbx_path)
    if not path.is_absolute() or ".." in path.parts:
        raise ValueError(f"recording path from the PBX must be absolute, without '..': {pbx_path!r}")
    best: tuple[PurePosixPath, Path] | None = None
    for pbx_dir, local_dir in spool_map.items():
        prefix = PurePosixPath(pbx_dir)
        if path.is_relative_to(prefix) and (best is None or len(prefix.parts) > len(best[0].parts)):
            best = (prefix, local_dir)
    if best is None:
        return Path(path)
    return best[1] / path.relative_to(best[0])
