"""One crawl per source at a time, across processes on this machine.

A lock is an flock on a file in the state directory: the kernel releases it
when its process dies, however it dies, so a killed crawl never leaves a
source locked.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import ExitStack
from pathlib import Path

from archive.processes import flock_file

LOCKS_SUBDIR = "locks"


DAEMON_LOCK = "daemon.lock"


class SourceBusy(RuntimeError):
    """Another process is crawling this source right now."""


class DaemonRunning(RuntimeError):
    """Another daemon already uses this state directory."""


class SpoolInUse(RuntimeError):
    """A running crawl still writes to this spool directory."""


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on path, or None when another process holds it."""
    fd = flock_file(path, wait=False)
    if fd is not None:
        # The holder's pid, for an operator wondering who has it.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class FileLock:
    """An flock on one file: held by this process until released, or until it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def busy(self) -> Exception:
        raise NotImplementedError

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        fd = _try_flock(self.path)
        if fd is None:
            raise self.busy()
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class SourceLock(FileLock):
    def __init__(self, state_dir: Path, source_id: str) -> None:
        super().__init__(Path(state_dir) / LOCKS_SUBDIR / f"{source_id}.lock")
        self.source_id = source_id

    def busy(self) -> Exception:
        return SourceBusy(f"source {self.source_id} is being crawled by another process{_holder(self.path)}")


def lock_free_sources(stack: ExitStack, state_dir: Path, source_ids: list[str]) -> tuple[list[str], list[str]]:
    """Lock what can be locked; return (locked, busy). The stack releases them."""
    locked, busy = [], []
    for source_id in source_ids:
        try:
            stack.enter_context(SourceLock(state_dir, source_id))
            locked.append(source_id)
        except SourceBusy:
            busy.append(source_id)
    return locked, busy


class DaemonLock(FileLock):
    """One daemon per state directory: two would run every source twice as often."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(Path(state_dir) / DAEMON_LOCK)

    def busy(self) -> Exception:
        return DaemonRunning(f"another daemon{_holder(self.path)} uses the state directory {self.path.parent}")


class SpoolLock(FileLock):
    """Held by a crawl for as long as it writes its own spool directory.

    Crawls pick up what killed crawls left in their spool directories; the
    daemon runs several crawls at once, and a directory whose lock is held
    belongs to one still running. The lock file sits beside the directory
    (``<dir>.lock``) and is taken before the directory exists.
    """

    def __init__(self, spool_dir: Path) -> None:
        super().__init__(spool_dir.with_name(spool_dir.name + ".lock"))

    def busy(self) -> Exception:
        return SpoolInUse(f"{self.path.with_suffix('')} is written by a running crawl{_holder(self.path)}")
