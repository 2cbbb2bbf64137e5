"""The daemon's schedule state: a JSON file in the state directory.

It survives restarts (a source that ran recently waits for its next time)
and an operator can read it (``newsarchive sources`` does). Written whole
to a temp file and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from archive.processes import process_alive

STATE_FILE = "schedule.json"
# Local copies of the archive's catalog segments (they never change once written).
CATALOG_CACHE_DIR = "catalog-cache"
# A crawl's local copy of its run record, for the process that started it.
RUN_FILES_DIR = "runs"
# A copy this old is a killed crawl's, or one whose daemon was killed: nobody reads it.
STALE_RUN_FILE_DAYS = 7
SECONDS_PER_DAY = 86400
STATE_SCHEMA = "newsarchive.schedule/1"
TEMP_PATTERN = ".schedule-*.tmp"
# A state write takes milliseconds: a temp file this old is one a killed process left.
STALE_TEMP_SECONDS = 3600
logger = logging.getLogger("newsarchive.state")

# last_result values. "running" is written when a run starts: found at the
# next start it means the daemon died mid-run, so the source runs at once.
RESULTS = ("running", "ok", "failed", "killed", "crashed", "interrupted", "busy")
FAILED_RESULTS = ("failed", "killed", "crashed")


def run_file(state_dir: Path, run_id: str) -> Path:
    return state_dir / RUN_FILES_DIR / f"{run_id}.json"


def remove_stale_run_files(state_dir: Path, older_than_seconds: float) -> int:
    """Remove run record copies nobody will read any more; how many there were."""
    return remove_old_files(state_dir / RUN_FILES_DIR, "*.json", older_than_seconds)


def remove_old_files(folder: Path, pattern: str, older_than_seconds: float) -> int:
    """Remove the files matching ``pattern`` last changed that long ago; how many there were."""
    removed = 0
    for path in old_files(folder, pattern, older_than_seconds):
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile (a process beside this one)
    return removed


def old_files(folder: Path, pattern: str, older_than_seconds: float) -> list[Path]:
    """The files matching ``pattern`` under ``folder`` last changed more than that long ago."""
    now = time.time()
    found = []
    for path in folder.glob(pattern):
        try:
            if now - path.stat().st_mtime > older_than_seconds:
                found.append(path)
        except FileNotFoundError:
            continue
    return found


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@dataclass
class SourceState:
    last_started: str | None = None  # UTC ISO, when the last run (or attempt) started
    last_finished: str | None = None
    last_result: str | None = None  # one of RESULTS
    last_run_id: str | None = None
    last_success: str | None = None  # when the last ok run finished
    consecutive_failures: int = 0
    reason: str | None = None  # why the last run failed
    next_run: str | None = None  # when the daemon means to run it next (backoff included)
    last_counts: dict[str, int] | None = None  # the last run's counts for this source (archived, failed...)

    @property
    def started_at(self) -> datetime | None:
        return _parse_time(self.last_started)

    @property
    def success_at(self) -> datetime | None:
        return _parse_time(self.last_success)

    @property
    def next_run_at(self) -> datetime | None:
        return _parse_time(self.next_run)

    @classmethod
    def from_dict(cls, data: object) -> "SourceState":
        """Tolerant: unknown keys (a newer version's) are ignored, bad values dropped."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name: f for f in fields(cls)}
        values = {}
        for name, value in data.items():
            if name not in known:
                continue
            if name == "consecutive_failures":
                values[name] = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
            elif name == "last_counts":
                if isinstance(value, dict):
                    values[name] = {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}
            elif value is None or isinstance(value, str):
                values[name] = value
        return cls(**values)


def _copy(state: SourceState) -> SourceState:
    return SourceState(**asdict(state))  # asdict copies the counts dict too


class ScheduleState:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self._lock = threading.Lock()
        self.sources: dict[str, SourceState] = {}
        self.daemon: dict | None = None  # {"pid": ..., "started": ...} while a daemon runs

    def load(self) -> "ScheduleState":
        try:
            remove_old_files(self.path.parent, TEMP_PATTERN, STALE_TEMP_SECONDS)
        except OSError as exc:
            logger.warning("could not tidy the state directory %s: %s", self.path.parent, exc)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            # A damaged state file means "nothing ran": runs come early, never lost.
            logger.warning("schedule state %s is unreadable (%s): starting from scratch", self.path, exc)
            data = {}
        if not isinstance(data, dict):
            data = {}
        sources = data.get("sources")
        with self._lock:
            self.sources = {str(k): SourceState.from_dict(v) for k, v in sources.items()} if isinstance(sources, dict) else {}
            self.daemon = data.get("daemon") if isinstance(data.get("daemon"), dict) else None
        return self

    def get(self, source_id: str) -> SourceState:
        """A copy: change it with update()."""
        with self._lock:
            return _copy(self.sources.get(source_id, SourceState()))

    def update(self, source_id: str, **changes) -> SourceState:
        known = {f.name for f in fields(SourceState)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown state field(s): {', '.join(sorted(unknown))}")
        with self._lock:
            state = self.sources.setdefault(source_id, SourceState())
            for name, value in changes.items():
                setattr(state, name, value)
            self._save()
            return _copy(state)

    def set_daemon(self, info: dict | None) -> None:
        with self._lock:
            self.daemon = info
            self._save()

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data: dict = {"schema": STATE_SCHEMA, "sources": {k: asdict(v) for k, v in sorted(self.sources.items())}}
        if self.daemon:
            data["daemon"] = self.daemon
        payload = json.dumps(data, indent=1)
        prefix, suffix = TEMP_PATTERN.split("*")
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=prefix, suffix=suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def daemon_alive(info: dict | None) -> bool:
    """Whether the daemon a state file names is still running (same machine)."""
    if not info or not isinstance(info.get("pid"), int):
        return False
    pid = info["pid"]
    if not process_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return b"daemon" in cmdline
