"""The daemon's schedule state: a JSON file in the state directory.

It survives restarts (a source that ran recently waits for its next time)
and an operator can read it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

STATE_FILE = "schedule.json"


@dataclass
class SourceState:
    last_started: str | None = None  # UTC ISO
    last_finished: str | None = None
    last_result: str | None = None  # ok | failed | killed | busy | crashed
    last_run_id: str | None = None
    last_success: str | None = None
    consecutive_failures: int = 0
    reason: str | None = None  # why the last run failed

    @property
    def started_at(self) -> datetime | None:
        return datetime.fromisoformat(self.last_started) if self.last_started else None


class ScheduleState:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self._lock = threading.Lock()
        self.sources: dict[str, SourceState] = {}

    def load(self) -> "ScheduleState":
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except ValueError:
            data = {}  # a damaged state file means "nothing ran": runs come early, never lost
        self.sources = {source: SourceState(**fields) for source, fields in data.get("sources", {}).items()}
        return self

    def get(self, source_id: str) -> SourceState:
        with self._lock:
            return self.sources.setdefault(source_id, SourceState())

    def update(self, source_id: str, **fields) -> SourceState:
        with self._lock:
            state = self.sources.setdefault(source_id, SourceState())
            for name, value in fields.items():
                setattr(state, name, value)
            self._save()
            return state

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"sources": {k: asdict(v) for k, v in sorted(self.sources.items())}}, indent=1)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".schedule-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)
