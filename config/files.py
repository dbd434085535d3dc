"""Durable file writes and a cross-process directory lock, for files the CLI and the daemon share.

:func:`replace_file` makes a path hold new bytes atomically (temp file in the same directory, fsync,
``os.replace``, fsync the directory) and returns what it held before, so :func:`restore_file` can put
that back if what the write belonged to fails later. :func:`lock_directory` takes ``flock`` on the
file's directory (no stray lock file) with non-blocking tries until a timeout, so a cancelled wait
never leaves a thread behind that takes the lock later. The file functions block: run them in a
worker thread (``asyncio.to_thread``). Used for the dialplan file, the Asterisk configuration
rendered from it, and the recordings store.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "LOCK_POLL",
    "DirectoryBusy",
    "fsync_directory",
    "lock_directory",
    "replace_file",
    "restore_file",
    "unlock_directory",
    "write_atomically",
]

LOCK_POLL = 0.05
"Seconds between two tries for a directory lock another process holds."


class DirectoryBusy(Exception):
    """Another process held the directory lock until the timeout."""


# Locking (in the event loop) ---------------------------------------------------------------------


async def lock_directory(directory: Path, *, create: bool, timeout: float) -> int:
    """Take ``flock`` on *directory* (made first if *create*); return the fd to pass to unlock."""
    if create:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            # Non-blocking tries: a cancelled wait must not leave a thread that takes the lock later.
            if loop.time() > deadline:
                raise DirectoryBusy(f"{directory} is locked by another process")
            await asyncio.sleep(LOCK_POLL)
    except BaseException:
        os.close(fd)
        raise


def unlock_directory(fd: int) -> None:
    """Release a lock from :func:`lock_directory` and close its fd."""
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


# Files (run in a worker thread) ------------------------------------------------------------------


def replace_file(path: Path, data: bytes) -> bytes | None:
    """Make *path* hold *data* atomically; return what it held before (None: it did not exist)."""
    target = Path(os.path.realpath(path))  # write through a symlink, keep the link
    try:
        previous: bytes | None = target.read_bytes()
    except FileNotFoundError:
        previous = None
    if previous != data:
        write_atomically(target, data)
    return previous


def restore_file(path: Path, previous: bytes | None) -> None:
    """Put back what :func:`replace_file` returned (None: remove the file)."""
    target = Path(os.path.realpath(path))
    if previous is None:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        fsync_directory(target.parent)
    else:
        write_atomically(target, previous)


def write_atomically(target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Temp file in the same directory, fsync, rename over the target, fsync the directory.

    The file keeps its current permissions unless *mode* is given (a new file gets 0644).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(target.parent)


def fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (the directory entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
