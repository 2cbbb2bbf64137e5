"""What ``newsarchive sources`` shows: each source with its last and next run.

Two places know about runs: the archive's run records (every crawl, an
admin's one-off ones included, with counts) and the daemon's schedule state
(its own runs, the ones it killed or found busy, failures in a row and the
next run it has planned, backoff included). The newer of the two wins.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from archive.keys import BadKey, run_key
from archive.runs import RunRecord, counts_text, iter_runs, run_started
from archive.store import StoreError, StoreUnavailable, open_store
from crawler.config import Config, SourceBase
from crawler.state import ScheduleState, SourceState, daemon_alive

# Enough runs back to find every source's last one without reading years of history.
MAX_RUNS_SCANNED = 500

logger = logging.getLogger(__name__)


def _store(config: Config, archive_url: str | None):
    return open_store(archive_url or config.archive.url, endpoint_url=config.archive.endpoint_url)


def last_runs(config: Config, archive_url: str | None = None, store=None) -> dict[str, RunRecord]:
    store = store or _store(config, archive_url)
    wanted = {source.id for source in config.sources}
    found: dict[str, RunRecord] = {}
    try:
        for index, run in enumerate(iter_runs(store)):
            for source in set(run.sources) & wanted - set(found):
                found[source] = run
            if len(found) == len(wanted) or index >= MAX_RUNS_SCANNED:
                break
    except StoreUnavailable as exc:
        # Said, not taken for "never ran": the sources ran, their records are out of reach.
        logger.warning("the archive's run records cannot be read (%s): the last runs shown are only what this machine's daemon recorded", exc)
    except (StoreError, ValueError, TypeError, KeyError):
        pass  # an archive not created yet has no runs; a damaged record ends the scan
    return found


def _run_by_id(store, run_id: str | None) -> RunRecord | None:
    if not run_id:
        return None
    try:
        return RunRecord.from_dict(json.loads(store.get(run_key(run_id, run_started(run_id)))))
    except (StoreError, BadKey, ValueError, TypeError, KeyError):
        return None


def next_run(schedule, last_started: datetime | None, now: datetime) -> datetime:
    """When a daemon started now would run a source that last started then (no failures)."""
    from crawler.runpolicy import first_run_time

    due = first_run_time(schedule, SourceState(last_started=last_started.isoformat() if last_started else None), now, backoff_max=0)
    return due if due is not None else schedule.trigger().get_next_fire_time(None, now)


@dataclass
class SourceRow:
    id: str
    kind: str
    schedule: str
    urls: list[str]
    last_run: datetime | None = None
    last_run_id: str | None = None
    result: str = "never ran"  # ok | failed | killed | crashed | interrupted | busy | running | never ran
    counts: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    consecutive_failures: int = 0
    next_run: datetime | None = None
    next_run_note: str = ""  # backoff, running now, daemon not running

    def result_text(self) -> str:
        text = self.result
        if self.counts:
            text += ": " + counts_text(self.counts)
        if self.reason and self.result not in ("ok",):
            text += f" ({self.reason})"
        if self.consecutive_failures:
            text += f" [{self.consecutive_failures} failure(s) in a row]"
        return text

    def cells(self) -> tuple[str, ...]:
        next_text = _when(self.next_run) if self.next_run else "-"
        if self.next_run_note:
            next_text += f" ({self.next_run_note})"
        return (self.id, self.kind, self.schedule, _when(self.last_run) if self.last_run else "-", self.result_text(),
                next_text, ", ".join(self.urls))

    def to_dict(self) -> dict:
        return {
            "id": self.id, "kind": self.kind, "schedule": self.schedule, "urls": self.urls,
            "last_run": self.last_run.isoformat() if self.last_run else None, "last_run_id": self.last_run_id,
            "result": self.result, "counts": self.counts, "reason": self.reason,
            "consecutive_failures": self.consecutive_failures,
            "next_run": self.next_run.isoformat() if self.next_run else None, "next_run_note": self.next_run_note,
        }


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z"


def _archive_result(source_id: str, run: RunRecord) -> tuple[str, str | None]:
    from crawler.runpolicy import classify_run

    if run.status == "failed":  # a record the daemon wrote for a run it killed or lost
        reasons = [f.reason for f in run.failures if f.source == source_id and f.kind == "source"]
        return "failed", reasons[-1] if reasons else None
    return classify_run(source_id, 0 if run.status == "completed" else 1, run)


def source_row(source: SourceBase, state: SourceState, run: RunRecord | None, store, *, daemon_running: bool,
               backoff_max: float, now: datetime) -> SourceRow:
    from crawler.runpolicy import first_run_time

    row = SourceRow(source.id, source.kind, source.schedule, source.start_urls)
    state_started = state.started_at
    run_start = datetime.fromisoformat(run.started) if run else None
    # A "busy" attempt means another process (an admin's crawl) ran it, or (distributed) its
    # previous run was still open: that run's record tells more.
    state_newer = run_start is None or (
        state_started is not None and state_started >= run_start and state.last_result != "busy")
    if state_started is not None and (state_newer or run.run_id == state.last_run_id):
        row.last_run, row.last_run_id = state_started, state.last_run_id
        row.result, row.reason = state.last_result or "unknown", state.reason
        if state.last_counts is not None:
            row.counts = dict(state.last_counts)
        else:
            own = run if run is not None and run.run_id == state.last_run_id else _run_by_id(store, state.last_run_id)
            if own is not None:
                row.counts = dict(own.per_source.get(source.id, {}))
    elif run is not None:
        row.last_run, row.last_run_id = run_start, run.run_id
        row.result, row.reason = _archive_result(source.id, run)
        row.counts = dict(run.per_source.get(source.id, {}))
    row.consecutive_failures = state.consecutive_failures

    if daemon_running and state.last_result == "running":
        row.next_run, row.next_run_note = now, "running now"
    elif daemon_running and state.next_run_at is not None:
        row.next_run = state.next_run_at
        row.next_run_note = "backoff" if state.consecutive_failures else ""
    else:
        # What a daemon started now would do: the state if it has the last run, else the archive's.
        basis = state if state_started is not None else SourceState(last_started=run.started if run else None)
        due = first_run_time(source.parsed_schedule, basis, now, backoff_max)
        row.next_run = due if due is not None else source.parsed_schedule.trigger().get_next_fire_time(None, now)
        notes = ["backoff"] if state.consecutive_failures and row.next_run > now else []
        notes.append("daemon not running")
        row.next_run_note = ", ".join(notes)
    return row


def source_rows(config: Config, archive_url: str | None = None, now: datetime | None = None) -> list[SourceRow]:
    now = now or datetime.now(timezone.utc)
    store = _store(config, archive_url)
    runs = last_runs(config, archive_url, store=store)
    state = ScheduleState(Path(config.daemon.state_dir)).load()
    running = daemon_alive(state.daemon)
    return [
        source_row(source, state.get(source.id), runs.get(source.id), store, daemon_running=running,
                   backoff_max=config.daemon.backoff_max, now=now)
        for source in config.sources
    ]


def source_status(config: Config, archive_url: str | None = None) -> list[SourceRow]:
    return source_rows(config, archive_url)
