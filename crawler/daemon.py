"""``newsarchive daemon``: every source on its schedule, each crawl in its own process.

Twisted's reactor cannot restart, and a crawl that crashes or hangs must not
take the scheduler with it: the daemon runs ``newsarchive crawl SOURCE`` as
a child process per run, with a wall-clock limit, and keeps the schedule
state in the state directory so that a restart neither reruns a fresh
source nor forgets a stale one.

Each crawl runs in a process group of its own (its extraction workers
included), so a crawl over its limit is ended whole: SIGTERM first (Scrapy
finishes the items in flight and writes its run record), SIGKILL to the
group after ``daemon.stop_grace`` seconds. Objects are written to a temp
name and renamed, so even a SIGKILL leaves no half-written object.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archive.fields import utc_iso
from archive.runs import Failure, RunRecord, counts_text, new_run_id, start_run
from archive.spool import SpooledWriter, StoreSpool, spool_directory
from archive.compaction import DEFAULT_GRACE, CompactionReport, compact_catalog
from archive.store import ArchiveStore, StoreError, StoreUnavailable, open_store
from crawler.childproc import CrawlProcess, crawl_temp_dir
from crawler.config import Config, SourceBase
from crawler.locks import DaemonLock, DaemonRunning
from crawler.logs import log_run_id, log_source
from crawler.metrics import DaemonMetrics, serve_metrics
from crawler.runpolicy import backoff_delay, classify_run, first_run_time, schedule_trigger
from crawler.state import CATALOG_CACHE_DIR, FAILED_RESULTS, ScheduleState, run_file

logger = logging.getLogger("newsarchive.daemon")

EXIT_DAEMON_FAILED = 1  # the daemon could not start (another one runs, port taken)
SETTLE_SECONDS = 10  # at stop: how long job threads get to record the crawls that just ended
CHILD_ENV = {"_TYPER_STANDARD_TRACEBACK": "1", "PYTHONUNBUFFERED": "1"}
# Not a source id (those have no ':'): the job that merges old catalog segments.
COMPACTION_JOB = "catalog:compaction"
COMPACTION_INTERVAL = timedelta(hours=24)
COMPACTION_FIRST_DELAY = timedelta(minutes=10)  # after start: the sources due at once go first


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Daemon:
    def __init__(self, config: Config, config_path: Path, *, archive_url: str | None = None, metrics_port: int | None = None,
                 metrics_host: str = "127.0.0.1", log_format: str = "text", log_level: str = "INFO") -> None:
        self.config = config
        self.config_path = Path(config_path).resolve()
        self.archive_url = archive_url
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.log_format = log_format
        self.log_level = log_level
        self.settings = config.daemon
        self.state_dir = Path(self.settings.state_dir)
        self.state = ScheduleState(self.state_dir)
        self.metrics = DaemonMetrics()
        self.stopping = threading.Event()
        self.children: dict[str, CrawlProcess] = {}
        self.children_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(self.settings.max_concurrent_crawls)
        self.scheduler = None
        self.metrics_server = None
        self._scheduled: dict[str, datetime] = {}
        self._active_jobs = 0
        self._jobs_changed = threading.Condition()

    # -- scheduling ----------------------------------------------------------
    def first_run_time(self, source: SourceBase, now: datetime) -> datetime | None:
        return first_run_time(source.parsed_schedule, self.state.get(source.id), now, self.settings.backoff_max, self.settings.jitter)

    def start_scheduler(self, paused: bool = False) -> None:
        from apscheduler.events import EVENT_JOB_SUBMITTED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        # A thread per source: a due run waits for a free crawl slot (the
        # global cap) in run_source, where its lag is measured.
        workers = max(len(self.config.sources), self.settings.max_concurrent_crawls, 1)
        self.scheduler = BackgroundScheduler(
            # Catalog compaction has a thread of its own: it never holds up a crawl.
            executors={"default": ThreadPoolExecutor(workers), "maintenance": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.settings.misfire_grace)},
            timezone="UTC",
        )
        now = _utcnow()
        for source in self.config.sources:
            trigger = schedule_trigger(source.parsed_schedule, self.settings.jitter)
            first = self.first_run_time(source, now)
            kwargs = {"next_run_time": first} if first is not None else {}
            self.scheduler.add_job(self.run_source, trigger, args=[source.id], id=source.id, name=source.id, **kwargs)
        self.scheduler.add_job(self.compact_catalog, "interval", seconds=COMPACTION_INTERVAL.total_seconds(), id=COMPACTION_JOB,
                               name=COMPACTION_JOB, executor="maintenance", next_run_time=now + COMPACTION_FIRST_DELAY)
        self.scheduler.add_listener(self._job_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.start(paused=paused)
        for source in self.config.sources:
            next_time = self._record_next_run(source.id)
            logger.info("scheduled %s (%s): next run %s", source.id, source.schedule, next_time.isoformat() if next_time else "never")

    def _record_next_run(self, source_id: str) -> datetime | None:
        job = self.scheduler.get_job(source_id) if self.scheduler is not None else None
        next_time = job.next_run_time if job is not None else None
        self.state.update(source_id, next_run=utc_iso(next_time) if next_time else None)
        if next_time is not None:
            self.metrics.next_run.labels(source_id).set(next_time.timestamp())
        return next_time

    def _job_submitted(self, event) -> None:
        if event.job_id == COMPACTION_JOB:
            return
        if event.scheduled_run_times:
            scheduled = event.scheduled_run_times[-1]
            self._scheduled[event.job_id] = scheduled
            self.metrics.lag.labels(event.job_id).set(max((_utcnow() - scheduled).total_seconds(), 0.0))
        job = self.scheduler.get_job(event.job_id) if self.scheduler is not None else None
        if job is not None and job.next_run_time is not None:
            self.metrics.next_run.labels(event.job_id).set(job.next_run_time.timestamp())

    def compact_catalog(self) -> CompactionReport | None:
        """Merge the catalog segments of past days and months (see archive/compaction.py)."""
        # A day is left alone while a crawl started that day may still write to it.
        grace = max(DEFAULT_GRACE, timedelta(seconds=2 * self.settings.run_timeout))
        try:
            return compact_catalog(self._open_store(), self.state_dir / CATALOG_CACHE_DIR, grace=grace,
                                   keep_going=lambda: not self.stopping.is_set())
        except StoreError as exc:
            logger.warning("catalog compaction skipped: %s", exc)
            return None

    def _open_store(self) -> ArchiveStore:
        return open_store(self.archive_url or self.config.archive.url, endpoint_url=self.config.archive.endpoint_url)

    # -- one run -------------------------------------------------------------
    def crawl_command(self, source_id: str, run_id: str, record_file: Path) -> list[str]:
        # -P: the working directory stays off sys.path, so an archive kept in
        # ./archive cannot shadow the `archive` package.
        command = [sys.executable, "-P", "-m", "crawler", "crawl", source_id, "--config", str(self.config_path),
                   "--run-id", run_id, "--run-record-file", str(record_file),
                   "--log-format", self.log_format, "--log-level", self.log_level]
        if self.archive_url:
            command += ["--archive", self.archive_url]
        if self.config.distributed is not None:
            # Distributed mode: the child enqueues for the workers and waits for the run to drain.
            command += ["--wait", "--wait-timeout", str(int(self.settings.run_timeout))]
        return command

    def run_source(self, source_id: str) -> str:
        """One scheduled run (an APScheduler job): returns its result."""
        if self.stopping.is_set():
            return "skipped"
        with self._jobs_changed:
            self._active_jobs += 1
        tokens = (log_source.set(source_id), log_run_id.set("-"))
        try:
            if not self._take_slot(source_id):
                return "skipped"
            try:
                run_id = new_run_id()  # once it has a slot: the id tells when the run started
                log_run_id.set(run_id)
                return self._run(source_id, run_id)
            finally:
                self.slots.release()
        except Exception:
            logger.exception("the run of %s went wrong in the daemon", source_id)
            return "error"
        finally:
            log_source.reset(tokens[0])
            log_run_id.reset(tokens[1])
            with self._jobs_changed:
                self._active_jobs -= 1
                self._jobs_changed.notify_all()

    def _take_slot(self, source_id: str) -> bool:
        """Wait for one of the max_concurrent_crawls slots; False when the daemon stops meanwhile."""
        if not self.slots.acquire(blocking=False):
            logger.info("%s is due; waiting for a free crawl slot (at most %d crawls at once)", source_id,
                        self.settings.max_concurrent_crawls)
            while not self.slots.acquire(timeout=0.5):
                if self.stopping.is_set():
                    return False
        if self.stopping.is_set():
            self.slots.release()
            return False
        return True

    def _run(self, source_id: str, run_id: str) -> str:
        scheduled = self._scheduled.pop(source_id, None)
        if scheduled is not None:
            self.metrics.lag.labels(source_id).set(max((_utcnow() - scheduled).total_seconds(), 0.0))
        record_file = run_file(self.state_dir, run_id)
        started = time.monotonic()
        crawl = self._start_child(source_id, run_id, self.crawl_command(source_id, run_id, record_file))
        if crawl is None:
            return "skipped"
        self.metrics.running.inc()
        try:
            try:
                self.state.update(source_id, last_started=utc_iso(_utcnow()), last_run_id=run_id, last_result="running",
                                  reason=None, last_counts=None)
            except OSError as exc:  # a full disk: the crawl is still ours to time and reap
                logger.error("could not record the start of %s in the state file: %s", source_id, exc)
            if not crawl.wait(self.settings.run_timeout):
                if crawl.ended_by is None:
                    crawl.ended_by = "timeout"
                logger.error("crawl of %s is over its time limit of %.0fs: stopping it", source_id, self.settings.run_timeout)
                crawl.stop(self.settings.stop_grace)
            returncode = crawl.reap()
        finally:
            with self.children_lock:
                self.children.pop(source_id, None)
            self.metrics.running.dec()
        duration = time.monotonic() - started
        run = self._read_run(record_file)
        record_file.unlink(missing_ok=True)
        result, reason = self._outcome(source_id, crawl, returncode, run, duration)
        if result in ("killed", "crashed") or (result == "interrupted" and run is None):
            run = self._record_ended_run(source_id, run_id, run, result, reason)
        self._settle(source_id, result, reason, run, duration)
        return result

    def _outcome(self, source_id: str, crawl: CrawlProcess, returncode: int, run: RunRecord | None,
                 duration: float) -> tuple[str, str | None]:
        if crawl.ended_by == "timeout":
            return "killed", f"killed after {duration:.0f}s: over the time limit of {self.settings.run_timeout:.0f}s (daemon.run_timeout)"
        if crawl.ended_by == "stop" and (run is None or run.status != "completed"):
            return "interrupted", "the daemon was stopping" + ("" if run else ": the crawl was killed after the grace period")
        result, reason = classify_run(source_id, returncode, run, distributed=self.config.distributed is not None)
        if result == "crashed" and crawl.stderr_tail:
            reason = f"{reason}: {crawl.stderr_tail[-1][:500]}"
        return result, reason

    def _start_child(self, source_id: str, run_id: str, command: list[str]) -> CrawlProcess | None:
        # Under the lock, so a stop either sees this child or this run sees the stop.
        with self.children_lock:
            if self.stopping.is_set():
                return None
            # A session of its own: a terminal's Ctrl-C reaches the daemon,
            # which stops its crawls gracefully, instead of killing them all
            # at once; and the crawl's workers share its process group.
            # stdout (the summary table) is dropped: the daemon logs each run's
            # result. stderr is forwarded line by line into the daemon's log;
            # a crash's traceback plain, not drawn in boxes.
            # A temp directory of its own: what a killed crawl leaves there is removed.
            temp_dir = crawl_temp_dir()
            temp_env = {"TMPDIR": str(temp_dir)} if temp_dir else {}
            try:
                popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         start_new_session=True, env={**os.environ, **CHILD_ENV, **temp_env})
            except BaseException:
                if temp_dir:
                    shutil.rmtree(temp_dir, ignore_errors=True)
                raise
            crawl = CrawlProcess(popen, source_id, run_id, temp_dir)
            self.children[source_id] = crawl
        crawl.start_pump()
        logger.info("crawl of %s started (pid %d)", source_id, crawl.pid)
        return crawl

    @staticmethod
    def _read_run(record_file: Path) -> RunRecord | None:
        try:
            return RunRecord.from_dict(json.loads(record_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _record_ended_run(self, source_id: str, run_id: str, run: RunRecord | None, result: str, reason: str) -> RunRecord:
        """A crawl the daemon ended, or one that died, gets a run record that says so.

        Killed or crashed: status failed, the reason as a source failure. One
        that wrote its own record (it stopped gracefully after SIGTERM) keeps
        its counts.
        """
        if self.config.distributed is not None:
            left_to_workers, counted = self._end_distributed_run(source_id, run_id, result)
            if left_to_workers:
                return run
            run = counted or run
        if run is None:
            run = start_run(run_id, [source_id])
        run.finished = utc_iso(_utcnow())
        run.status = "interrupted" if result == "interrupted" else "failed"
        if source_id not in run.sources:
            run.sources = sorted({*run.sources, source_id})
        if result != "interrupted":
            run.failures.append(Failure(url="", reason=f"{result}: {reason}", source=source_id, kind="source"))
            run.count("failed", source_id)
        try:
            store = self._open_store()
            try:
                # Drops the temp files a killed crawl left in a local archive's .tmp/.
                store.ensure()
            except StoreUnavailable:
                pass  # the record waits in the spool, like the crawl's own writes
            # Through the crawls' spool: a store that is down (often why the
            # crawl hung and was killed) must not lose the record.
            SpooledWriter(store, StoreSpool(spool_directory(self.state_dir, store))).write_run(run)
        except StoreError as exc:
            logger.error("could not write the run record of %s: %s", run_id, exc)
        return run

    def _end_distributed_run(self, source_id: str, run_id: str, result: str) -> tuple[bool, RunRecord | None]:
        """See crawl_given_up: (the workers record the run, else its counts so far)."""
        from redis import RedisError

        from crawler.distributed import crawl_given_up, redis_client

        try:
            return crawl_given_up(redis_client(self.config.distributed.redis_url), run_id, [source_id],
                                  stopping=result == "interrupted")
        except RedisError as exc:
            logger.warning("Redis cannot be reached to end run %s (%s): the daemon records it", run_id, exc)
            return False, None

    def _settle(self, source_id: str, result: str, reason: str | None, run: RunRecord | None, duration: float) -> None:
        now = _utcnow()
        previous = self.state.get(source_id)
        fields: dict = {"last_finished": utc_iso(now), "last_result": result, "reason": reason,
                        "last_counts": dict(run.per_source.get(source_id, {})) if run is not None else None}
        if result == "ok":
            fields.update(consecutive_failures=0, last_success=utc_iso(now))
        elif result in FAILED_RESULTS:
            fields["consecutive_failures"] = previous.consecutive_failures + 1
        state = self.state.update(source_id, **fields)
        self.metrics.record_run(source_id, run, result, duration, now.timestamp())
        self.metrics.failures_in_row.labels(source_id).set(state.consecutive_failures)
        counts = run.per_source.get(source_id, {}) if run is not None else {}
        logger.info("run of %s: %s%s; %s (%.1fs)", source_id, result, f" ({reason})" if reason else "", counts_text(counts), duration)
        if self.scheduler is None or self.stopping.is_set():
            return
        if state.consecutive_failures and result in FAILED_RESULTS:
            source = self.config.source(source_id)
            retry = now + backoff_delay(source.parsed_schedule.nominal_interval, state.consecutive_failures, self.settings.backoff_max)
            job = self.scheduler.get_job(source_id)
            if job is not None and job.next_run_time is not None and job.next_run_time < retry:
                job.modify(next_run_time=retry)
            logger.warning("%s failed %d time(s) in a row: next try %s", source_id, state.consecutive_failures, retry.isoformat())
        self._record_next_run(source_id)

    # -- lifecycle -----------------------------------------------------------
    def healthy(self) -> bool:
        return not self.stopping.is_set() and self.scheduler is not None and self.scheduler.running

    def run(self) -> int:
        lock = DaemonLock(self.state_dir)
        try:
            lock.acquire()
        except DaemonRunning as exc:
            logger.error("%s", exc)
            return EXIT_DAEMON_FAILED
        try:
            return self._run_locked()
        finally:
            lock.release()

    def _run_locked(self) -> int:
        self.state.load()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        self.metrics.started.set(time.time())
        self.metrics.max_running.set(self.settings.max_concurrent_crawls)
        for source in self.config.sources:
            state = self.state.get(source.id)
            success = state.success_at
            self.metrics.add_source(source.id, source.parsed_schedule.nominal_interval.total_seconds(),
                                    success.timestamp() if success else None, state.consecutive_failures)
        if self.metrics_port is not None:
            try:
                self.metrics_server = serve_metrics(self.metrics, self.metrics_port, self.healthy, self.metrics_host)
            except OSError as exc:
                logger.error("cannot serve metrics on %s:%d: %s", self.metrics_host, self.metrics_port, exc)
                return EXIT_DAEMON_FAILED
            logger.info("metrics on http://%s:%d/metrics", self.metrics_host, self.metrics_server.server_port)
        self.state.set_daemon({"pid": os.getpid(), "started": utc_iso(_utcnow())})
        try:
            self.start_scheduler()
            logger.info("daemon started: %d source(s), at most %d crawl(s) at once", len(self.config.sources),
                        self.settings.max_concurrent_crawls)
            while not self.stopping.wait(1.0):
                pass
            self.stop()
        finally:
            self.state.set_daemon(None)
            if self.metrics_server is not None:
                self.metrics_server.shutdown()
                self.metrics_server.server_close()
        logger.info("stopped")
        return 0

    def _on_signal(self, signum, _frame) -> None:
        if self.stopping.is_set():
            logger.info("already stopping (%s)", signal.Signals(signum).name)
            return
        logger.info("%s received", signal.Signals(signum).name)
        self.stopping.set()

    def stop(self) -> None:
        """No new runs; running crawls get stop_grace seconds to finish, then are killed."""
        logger.info("stopping: no new runs; running crawls get %.0fs to finish", self.settings.stop_grace)
        self.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self._stop_children()
        # Let the job threads record what their crawls did.
        deadline = time.monotonic() + SETTLE_SECONDS
        with self._jobs_changed:
            while self._active_jobs > 0 and time.monotonic() < deadline:
                self._jobs_changed.wait(max(0.0, deadline - time.monotonic()))

    def _stop_children(self) -> None:
        with self.children_lock:
            crawls = list(self.children.values())
        for crawl in crawls:
            crawl.ended_by = crawl.ended_by or "stop"
            crawl.signal(signal.SIGTERM)  # Scrapy finishes its in-flight items, then closes
        deadline = time.monotonic() + self.settings.stop_grace
        for crawl in crawls:
            if not crawl.wait(max(0.0, deadline - time.monotonic())):
                logger.warning("crawl of %s (pid %d) did not finish within %.0fs: killing it", crawl.source_id, crawl.pid,
                               self.settings.stop_grace)
                crawl.kill_group()
