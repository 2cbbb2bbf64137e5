"""``newsarchive daemon``: every source on its schedule, each crawl in its own process.

Twisted's reactor cannot restart, and a crawl that crashes or hangs must not
take the scheduler with it: the daemon runs ``newsarchive crawl SOURCE`` as
a child process per run, with a wall-clock limit, and keeps the schedule
state in the state directory so that a restart neither reruns a fresh
source nor forgets a stale one.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archive.records import utc_iso
from archive.runs import Failure, RunRecord, new_run_id, save_run, start_run
from archive.store import StoreError, open_store
from crawler.config import Config, SourceBase
from crawler.logs import log_run_id, log_source
from crawler.metrics import DaemonMetrics, serve_metrics
from crawler.state import ScheduleState

logger = logging.getLogger("newsarchive.daemon")

EXIT_ALL_BUSY = 3  # `crawl` found every named source locked by another process
KILL_GRACE_SECONDS = 10  # between SIGTERM and SIGKILL for a crawl over its time limit


def backoff_delay(schedule_interval: timedelta, failures: int, cap: float) -> timedelta:
    """Exponential, capped: one interval after the first failure, doubling after each next."""
    if failures <= 0:
        return timedelta(0)
    seconds = schedule_interval.total_seconds() * 2 ** (failures - 1)
    return timedelta(seconds=min(seconds, cap))


def classify_run(source_id: str, returncode: int, run: RunRecord | None) -> tuple[str, str | None]:
    """(result, reason): ok | failed | interrupted | busy | crashed."""
    if returncode == EXIT_ALL_BUSY:
        return "busy", "another process is crawling this source"
    if run is None:
        return "crashed", f"the crawl exited with {returncode} and wrote no run record"
    if run.status == "interrupted":
        return "interrupted", "stopped before the end"
    if source_id in run.blocked:
        return "failed", f"blocked: {run.blocked[source_id]}"
    counts = run.per_source.get(source_id, {})
    reached = sum(counts.get(c, 0) for c in ("archived", "updated", "unchanged", "duplicates"))
    source_failures = [f for f in run.failures if f.source == source_id and f.kind in ("feed", "sitemap", "listing", "source")]
    if source_failures and reached == 0:
        return "failed", source_failures[0].reason
    return "ok", None


class Daemon:
    def __init__(self, config: Config, config_path: Path, *, archive_url: str | None = None, metrics_port: int | None = None,
                 metrics_host: str = "127.0.0.1", log_format: str = "text") -> None:
        self.config = config
        self.config_path = config_path
        self.archive_url = archive_url
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.log_format = log_format
        self.settings = config.daemon
        self.state_dir = Path(self.settings.state_dir)
        self.state = ScheduleState(self.state_dir)
        self.metrics = DaemonMetrics()
        self.stopping = threading.Event()
        self.children: dict[str, subprocess.Popen] = {}
        self.children_lock = threading.Lock()
        self.scheduler = None

    # -- scheduling ----------------------------------------------------------
    def first_run_time(self, source: SourceBase, now: datetime) -> datetime | None:
        """When a source runs first after start: at once if it never ran or is stale."""
        schedule = source.parsed_schedule
        state = self.state.get(source.id)
        last = state.started_at
        interval = schedule.nominal_interval
        due = now if last is None or now - last >= interval else (last + interval if schedule.interval else None)
        if state.consecutive_failures and last is not None:
            retry = last + backoff_delay(interval, state.consecutive_failures, self.settings.backoff_max)
            due = max(due or retry, retry)
        return due

    def start_scheduler(self) -> None:
        from apscheduler.events import EVENT_JOB_SUBMITTED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.settings.max_concurrent_crawls)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.settings.misfire_grace)},
            timezone="UTC",
        )
        now = datetime.now(timezone.utc)
        for source in self.config.sources:
            trigger = source.parsed_schedule.trigger(jitter=int(self.settings.jitter) or None)
            first = self.first_run_time(source, now)
            kwargs = {"next_run_time": first} if first is not None else {}
            self.scheduler.add_job(self.run_source, trigger, args=[source.id], id=source.id, name=source.id, **kwargs)
            logger.info("scheduled %s (%s), first run %s", source.id, source.schedule, first.isoformat() if first else "on schedule")
        self.scheduler.add_listener(self._job_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.start()

    def _job_submitted(self, event) -> None:
        if event.scheduled_run_times:
            lag = (datetime.now(timezone.utc) - event.scheduled_run_times[0]).total_seconds()
            self.metrics.lag.labels(event.job_id).set(max(lag, 0.0))

    # -- one run -------------------------------------------------------------
    def crawl_command(self, source_id: str, run_id: str, record_file: Path) -> list[str]:
        command = [sys.executable, "-m", "crawler.cli", "crawl", source_id, "--config", str(self.config_path),
                   "--run-id", run_id, "--run-record-file", str(record_file), "--log-format", self.log_format]
        if self.archive_url:
            command += ["--archive", self.archive_url]
        return command

    def run_source(self, source_id: str) -> str:
        if self.stopping.is_set():
            return "skipped"
        run_id = new_run_id()
        log_source.set(source_id)
        log_run_id.set(run_id)
        record_file = self.state_dir / "runs" / f"{run_id}.json"
        started = time.monotonic()
        self.state.update(source_id, last_started=utc_iso(datetime.now(timezone.utc)), last_run_id=run_id)
        self.metrics.running.inc()
        try:
            returncode, killed = self._run_child(source_id, self.crawl_command(source_id, run_id, record_file))
        finally:
            self.metrics.running.dec()
        duration = time.monotonic() - started
        run = self._read_run(record_file)
        if killed:
            result, reason = "killed", f"killed after {duration:.0f}s (limit {self.settings.run_timeout:.0f}s)"
        else:
            result, reason = classify_run(source_id, returncode, run)
        if run is None and result in ("killed", "crashed"):
            run = self._record_lost_run(source_id, run_id, reason)
        self._settle(source_id, result, reason, run, duration)
        record_file.unlink(missing_ok=True)
        return result

    def _run_child(self, source_id: str, command: list[str]) -> tuple[int, bool]:
        # A session of its own: a terminal's Ctrl-C reaches the daemon, which
        # then stops its crawls gracefully, instead of killing them all at once.
        child = subprocess.Popen(command, start_new_session=True)
        with self.children_lock:
            self.children[source_id] = child
        try:
            try:
                return child.wait(timeout=self.settings.run_timeout), False
            except subprocess.TimeoutExpired:
                logger.error("crawl of %s is over its time limit: stopping it", source_id)
                _terminate(child, KILL_GRACE_SECONDS)
                return child.returncode, True
        finally:
            with self.children_lock:
                self.children.pop(source_id, None)

    @staticmethod
    def _read_run(record_file: Path) -> RunRecord | None:
        try:
            return RunRecord.from_dict(json.loads(record_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def _record_lost_run(self, source_id: str, run_id: str, reason: str) -> RunRecord:
        """A killed or crashed crawl wrote no run record: the daemon writes one for it."""
        run = start_run(run_id, [source_id])
        run.finished = utc_iso(datetime.now(timezone.utc))
        run.status = "failed"
        run.failures.append(Failure(url="", reason=reason, source=source_id, kind="source"))
        run.count("failed", source_id)
        try:
            store = open_store(self.archive_url or self.config.archive.url, endpoint_url=self.config.archive.endpoint_url)
            save_run(store, run)
        except StoreError as exc:
            logger.error("could not write the run record of %s: %s", run_id, exc)
        return run

    def _settle(self, source_id: str, result: str, reason: str | None, run: RunRecord | None, duration: float) -> None:
        now = datetime.now(timezone.utc)
        previous = self.state.get(source_id)
        fields: dict = {"last_finished": utc_iso(now), "last_result": result, "reason": reason}
        if result == "ok":
            fields.update(consecutive_failures=0, last_success=utc_iso(now))
        elif result in ("failed", "killed", "crashed"):
            fields["consecutive_failures"] = previous.consecutive_failures + 1
        state = self.state.update(source_id, **fields)
        if result != "busy":
            self.metrics.record_run(source_id, run, result, duration, now.timestamp())
        self.metrics.failures_in_row.labels(source_id).set(state.consecutive_failures)
        logger.info("run of %s: %s%s (%.1fs)", source_id, result, f" ({reason})" if reason else "", duration)
        if state.consecutive_failures and self.scheduler is not None and not self.stopping.is_set():
            source = self.config.source(source_id)
            retry = now + backoff_delay(source.parsed_schedule.nominal_interval, state.consecutive_failures, self.settings.backoff_max)
            job = self.scheduler.get_job(source_id)
            if job is not None and job.next_run_time is not None and job.next_run_time < retry:
                job.modify(next_run_time=retry)
                logger.warning("%s failed %d time(s) in a row: next try %s", source_id, state.consecutive_failures, retry.isoformat())

    # -- lifecycle -----------------------------------------------------------
    def run(self) -> int:
        self.state.load()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        server = None
        if self.metrics_port is not None:
            server = serve_metrics(self.metrics, self.metrics_port, lambda: not self.stopping.is_set(), self.metrics_host)
            logger.info("metrics on http://%s:%d/metrics", self.metrics_host, server.server_port)
        self.start_scheduler()
        while not self.stopping.wait(1.0):
            pass
        logger.info("stopping: no new runs; running crawls get %.0fs to finish", self.settings.stop_grace)
        self.scheduler.shutdown(wait=False)
        self._stop_children()
        self.scheduler.shutdown(wait=True) if self.scheduler.running else None
        if server is not None:
            server.shutdown()
        logger.info("stopped")
        return 0

    def _stop_children(self) -> None:
        with self.children_lock:
            children = list(self.children.values())
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # Scrapy finishes its in-flight items, then closes
        deadline = time.monotonic() + self.settings.stop_grace
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        # Let the job threads record what their crawls did.
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while self.metrics.running._value.get() > 0 and time.monotonic() < deadline:
            time.sleep(0.1)


def _terminate(child: subprocess.Popen, grace: float) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def jittered(seconds: float) -> float:
    return random.uniform(0, seconds)
