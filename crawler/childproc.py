"""A crawl child process of the daemon: started in its own process group,
its stderr forwarded into the daemon's log, stopped whole."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from crawler.logs import forward_child_line, log_run_id, log_source

logger = logging.getLogger("newsarchive.daemon")

POLL_SECONDS = 0.1
CRAWL_TEMP_PREFIX = "na-crawl-"
# What a crawl's forkserver puts under its TMPDIR: its socket, <dir>/pymp-XXXXXXXX/listener-XXXXXXXX,
# whose whole path must fit in an AF_UNIX address (108 bytes with the final NUL).
FORKSERVER_SOCKET_TAIL = len("/pymp-xxxxxxxx/listener-xxxxxxxx")
MAX_UNIX_SOCKET_PATH = 107
STDERR_TAIL_LINES = 5  # of a crashed crawl's stderr, kept for the reason


class CrawlProcess:
    """A crawl child: waited for without reaping, so its process group can still be killed.

    While the leader is a zombie its pid (the group's id) cannot be reused,
    so killing the group never hits a stranger.
    """

    def __init__(self, popen: subprocess.Popen, source_id: str, run_id: str, temp_dir: Path | None = None) -> None:
        self.popen = popen
        self.temp_dir = temp_dir  # the crawl's TMPDIR, removed once it is reaped
        self.pid = popen.pid
        self.source_id = source_id
        self.run_id = run_id
        self.ended_by: str | None = None  # None | "timeout" | "stop"
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._lock = threading.Lock()
        self._reaped = False
        self._pump: threading.Thread | None = None

    def start_pump(self) -> None:
        """Forward the crawl's stderr into the daemon's log, under its source and run id."""
        def pump() -> None:
            log_source.set(self.source_id)
            log_run_id.set(self.run_id)
            stream = self.popen.stderr
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                if line.strip():
                    self.stderr_tail.append(line.strip())
                forward_child_line(line, self.source_id, self.run_id)
            stream.close()

        self._pump = threading.Thread(target=pump, name=f"crawl-log-{self.source_id}", daemon=True)
        self._pump.start()

    def exited(self) -> bool:
        with self._lock:
            if self._reaped:
                return True
            try:
                info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            return info is not None and info.si_pid != 0

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(POLL_SECONDS, remaining))
        return True

    def signal(self, signum: int) -> None:
        """To the crawl process only: Scrapy's handler stops it gracefully."""
        with self._lock:
            if not self._reaped:
                try:
                    os.kill(self.pid, signum)
                except ProcessLookupError:
                    pass

    def kill_group(self) -> None:
        with self._lock:
            if not self._reaped:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def reap(self) -> int:
        """Kill what is left of the group (orphaned helpers), collect the exit status."""
        self.kill_group()
        with self._lock:
            returncode = self.popen.wait()
            self._reaped = True
        if self._pump is not None:
            self._pump.join(5)
        if self.temp_dir is not None:
            # Its whole group is gone: what a killed crawl left there (the
            # forkserver's pymp-* socket directory) would pile up in /tmp.
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        return returncode

    def stop(self, grace: float) -> bool:
        """SIGTERM, up to ``grace`` seconds to finish, then SIGKILL to the group. True if it ended in time."""
        self.signal(signal.SIGTERM)
        if self.wait(grace):
            return True
        logger.warning("crawl of %s (pid %d) still running after %.0fs: killing it", self.source_id, self.pid, grace)
        self.kill_group()
        self.wait(5)
        return False


def crawl_temp_dir(base: str | None = None) -> Path | None:
    """A temp directory of a crawl's own under ``base`` (the temp dir), removed when it is reaped;
    None when its path would leave the crawl's forkserver no room for its socket."""
    base = base or tempfile.gettempdir()
    if len(os.fsencode(base)) + len(f"/{CRAWL_TEMP_PREFIX}xxxxxxxx") + FORKSERVER_SOCKET_TAIL > MAX_UNIX_SOCKET_PATH:
        return None  # the crawl uses the temp dir itself, as before
    return Path(tempfile.mkdtemp(prefix=CRAWL_TEMP_PREFIX, dir=base))
