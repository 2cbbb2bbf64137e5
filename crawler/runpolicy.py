"""When the daemon runs a source, and what a finished run means: plain functions.

Kept apart from the daemon's process handling so each rule can be tested alone.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from archive.runs import RunRecord
from crawler.schedule import Schedule
from crawler.state import SourceState

# `crawl` skipped every named source: locked by another process on this
# machine or, in distributed mode, still in an open run on the workers.
EXIT_ALL_BUSY = 3
# Why a run found its source busy, by mode: a lock on this machine, or (distributed)
# the source's lock in Redis, held until its last run is recorded (at most daemon.run_timeout).
BUSY_LOCAL = "another process is crawling this source"
BUSY_DISTRIBUTED = "its previous run is still open on the workers (the source is free once that run is recorded)"


def backoff_delay(schedule_interval: timedelta, failures: int, cap: float) -> timedelta:
    """Exponential, capped: one interval after the first failure, doubling after each next."""
    if failures <= 0:
        return timedelta(0)
    exponent = min(failures - 1, 64)  # 2**64 intervals is past any cap
    seconds = schedule_interval.total_seconds() * 2**exponent
    return timedelta(seconds=min(seconds, cap))


def classify_run(source_id: str, returncode: int, run: RunRecord | None, *,
                 distributed: bool = False) -> tuple[str, str | None]:
    """(result, reason) of a crawl process that ended by itself: ok | failed | interrupted | busy | crashed.

    ``distributed``: the crawl enqueued for workers (busy then means the source's last run is still open).
    """
    if returncode == EXIT_ALL_BUSY:
        return "busy", BUSY_DISTRIBUTED if distributed else BUSY_LOCAL
    if run is None:
        return "crashed", f"the crawl exited with {returncode} and wrote no run record"
    if run.status == "interrupted":
        return "interrupted", "stopped before the end"
    if source_id in run.blocked:
        return "failed", f"blocked: {run.blocked[source_id]}"
    counts = run.per_source.get(source_id, {})
    # spooled: archived to the local spool while the store was out of reach; it follows.
    reached = sum(counts.get(c, 0) for c in ("archived", "updated", "unchanged", "spooled", "duplicates"))
    if reached:
        return "ok", None
    # Nothing reached: a source whose every fetch failed has failed (an empty feed has not).
    failures = [f for f in run.failures if f.source == source_id and f.kind != "image"]
    source_level = [f for f in failures if f.kind in ("feed", "sitemap", "listing", "source")]
    if source_level:
        return "failed", source_level[0].reason
    if failures:
        return "failed", f"all {len(failures)} article(s) failed; first: {failures[0].reason}"
    if run.status not in ("completed", "running"):
        return "failed", f"the run ended {run.status}"
    return "ok", None


def first_run_time(schedule: Schedule, state: SourceState, now: datetime, backoff_max: float,
                   jitter: float = 0.0) -> datetime | None:
    """When a source runs first after the daemon starts; None: at its schedule's next time.

    At once (within ``jitter``) if it never ran, if its last run is older than
    its interval, or if its last run never finished (the daemon died or was
    stopped during it). A failing source waits out its backoff first.
    """
    interval = schedule.nominal_interval
    last = state.started_at
    if last is not None and last > now:
        # Recorded while the clock was ahead: nothing is known of when it really
        # ran, and waiting for that time could silence the source for days.
        last = None
    unfinished = state.last_result in ("running", "interrupted")
    at_once = now + timedelta(seconds=random.uniform(0, jitter)) if jitter > 0 else now
    if last is None or unfinished or now - last >= interval:
        due = at_once
    else:
        due = last + interval if schedule.interval is not None else None
    if state.consecutive_failures and last is not None:
        retry = last + backoff_delay(interval, state.consecutive_failures, backoff_max)
        if retry > now:
            due = retry if due is None else max(due, retry)
    return due


def schedule_trigger(schedule: Schedule, jitter: float):
    """APScheduler trigger with jitter, for cron lines too (from_crontab takes none)."""
    jitter_seconds = int(jitter) or None
    trigger = schedule.trigger(jitter=jitter_seconds)
    if schedule.cron is not None:
        trigger.jitter = jitter_seconds
    return trigger
