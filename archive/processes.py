"""What several processes on one machine need to share a directory: file locks and liveness.

Crawls run side by side (the daemon starts several at once) and share the
state directory: its spools, its caches, its locks. An flock is released by
the kernel when its process dies, however it dies, so no lock outlives a
killed crawl.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def flock_file(path: Path, *, wait: bool) -> int | None:
    """An fd holding an exclusive flock on path (created if missing).

    Without ``wait``, None when another process holds it. The fd is not
    inherited across exec (O_CLOEXEC): a helper process never keeps a lock
    alive after its parent died.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Wait for, then hold, the flock on path for the duration of the block."""
    fd = flock_file(path, wait=True)
    try:
        yield
    finally:
        os.close(fd)  # closing releases the flock


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
