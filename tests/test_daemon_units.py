"""The daemon's parts one by one: backoff, run classification, first run times,
schedule state, locks, log forwarding, and a Daemon driving small stand-in
crawl processes (real processes, seconds each) instead of Scrapy.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.runs import Failure, RunRecord, new_run_id, save_run, start_run
from archive.keys import RUNS_PREFIX
from archive.store import open_store
from crawler.config import Config
from crawler.daemon import Daemon
from crawler.runpolicy import BUSY_DISTRIBUTED, BUSY_LOCAL, EXIT_ALL_BUSY, backoff_delay, classify_run, first_run_time, schedule_trigger
from crawler.locks import DaemonLock, DaemonRunning, SourceBusy, SourceLock, lock_free_sources
from crawler.logs import JsonFormatter, forward_child_line, log_run_id, log_source
from crawler.schedule import parse_schedule
from crawler.state import STATE_FILE, ScheduleState, SourceState, daemon_alive
from crawler.status import source_rows

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.isoformat()


# -- backoff_delay ------------------------------------------------------------

def test_backoff_doubles_from_one_interval_and_is_capped():
    interval = timedelta(minutes=15)
    assert backoff_delay(interval, 0, 3600) == timedelta(0)
    assert backoff_delay(interval, 1, 3600) == timedelta(minutes=15)
    assert backoff_delay(interval, 2, 3600) == timedelta(minutes=30)
    assert backoff_delay(interval, 3, 3600) == timedelta(minutes=60)
    assert backoff_delay(interval, 4, 3600) == timedelta(hours=1), "capped at backoff_max"
    assert backoff_delay(interval, 5, 3600) == timedelta(hours=1)


def test_backoff_survives_a_source_failing_for_months():
    # Thousands of failures in a row must not overflow a float.
    assert backoff_delay(timedelta(minutes=1), 5000, 6 * 3600) == timedelta(hours=6)


# -- classify_run -------------------------------------------------------------

def _run(source: str = "s", status: str = "completed", **counts) -> RunRecord:
    run = start_run(new_run_id(), [source])
    run.status = status
    for counter, n in counts.items():
        run.count(counter, source, n)
    return run


def test_classify_busy_and_crashed():
    assert classify_run("s", EXIT_ALL_BUSY, None) == ("busy", BUSY_LOCAL)
    assert classify_run("s", EXIT_ALL_BUSY, None, distributed=True) == ("busy", BUSY_DISTRIBUTED)
    result, reason = classify_run("s", 1, None)
    assert result == "crashed" and "1" in reason


def test_classify_ok_interrupted_blocked():
    assert classify_run("s", 0, _run(archived=3)) == ("ok", None)
    assert classify_run("s", 0, _run(unchanged=3)) == ("ok", None)
    spooled = _run(spooled=2)  # the store was down; the spool holds them
    spooled.failures.append(Failure(url="http://x/a", reason="store unreachable", source="s", kind="store"))
    assert classify_run("s", 0, spooled) == ("ok", None)
    assert classify_run("s", 0, _run()) == ("ok", None), "an empty feed is no failure"
    assert classify_run("s", 1, _run(status="interrupted"))[0] == "interrupted"
    blocked = _run()
    blocked.blocked["s"] = "captcha page"
    assert classify_run("s", 0, blocked) == ("failed", "blocked: captcha page")


def test_a_crawl_that_stops_itself_fails_and_one_that_was_stopped_is_interrupted():
    from crawler.extensions.runrecord import run_status

    assert run_status("finished") == "completed"
    assert run_status("shutdown") == "interrupted"  # SIGTERM / SIGINT: runs again at once
    # Scrapy closes a spider whose start failed with "start_error": a failure,
    # backed off like one, never hidden as an interruption.
    for reason in ("start_error", "closespider_errorcount"):
        assert run_status(reason) == "failed"
        result, why = classify_run("s", 1, _run(status=run_status(reason)))
        assert result == "failed" and "failed" in why


def test_classify_failed_feed_and_all_articles_failed():
    feed_down = _run()
    feed_down.failures.append(Failure(url="http://x/feed", reason="HTTP 500", source="s", kind="feed"))
    assert classify_run("s", 0, feed_down) == ("failed", "HTTP 500")
    # The feed failed but articles were reached (a second feed URL): ok.
    partly = _run(archived=2)
    partly.failures.append(Failure(url="http://x/feed2", reason="HTTP 500", source="s", kind="feed"))
    assert classify_run("s", 0, partly)[0] == "ok"
    # Every article failed to be stored: nothing was archived, the run failed.
    store_down = _run()
    for n in range(3):
        store_down.failures.append(Failure(url=f"http://x/{n}", reason="store unreachable", source="s", kind="store"))
    result, reason = classify_run("s", 0, store_down)
    assert result == "failed" and "store unreachable" in reason
    # Another source's failures are not this one's.
    other = _run()
    other.failures.append(Failure(url="http://y/feed", reason="HTTP 500", source="t", kind="feed"))
    assert classify_run("s", 0, other)[0] == "ok"


# -- first_run_time -----------------------------------------------------------

EVERY_HOUR = parse_schedule("every 1h")
CRON_HOURLY = parse_schedule("0 * * * *")


def test_never_ran_or_stale_runs_at_once():
    assert first_run_time(EVERY_HOUR, SourceState(), NOW, 6 * 3600) == NOW
    stale = SourceState(last_started=iso(NOW - 2 * HOUR), last_result="ok")
    assert first_run_time(EVERY_HOUR, stale, NOW, 6 * 3600) == NOW
    assert first_run_time(CRON_HOURLY, stale, NOW, 6 * 3600) == NOW


def test_a_last_run_in_the_future_runs_at_once():
    # The clock was a month ahead when the state was written, then corrected.
    schedule = parse_schedule("every 15m")
    ahead = SourceState(last_started=iso(NOW + timedelta(days=30)), last_result="ok")
    assert first_run_time(schedule, ahead, NOW, 3600) == NOW
    failing = SourceState(last_started=iso(NOW + timedelta(days=30)), last_result="failed", consecutive_failures=3)
    assert first_run_time(schedule, failing, NOW, 3600) == NOW


def test_fresh_source_waits_for_its_next_time():
    fresh = SourceState(last_started=iso(NOW - timedelta(minutes=20)), last_result="ok")
    assert first_run_time(EVERY_HOUR, fresh, NOW, 6 * 3600) == NOW + timedelta(minutes=40)
    assert first_run_time(CRON_HOURLY, fresh, NOW, 6 * 3600) is None, "a cron source waits for its next cron time"


def test_unfinished_run_reruns_at_once():
    for result in ("running", "interrupted"):
        state = SourceState(last_started=iso(NOW - timedelta(minutes=5)), last_result=result)
        assert first_run_time(EVERY_HOUR, state, NOW, 6 * 3600) == NOW, result


def test_failing_source_waits_out_its_backoff():
    failing = SourceState(last_started=iso(NOW - timedelta(minutes=90)), last_result="failed", consecutive_failures=2)
    # Two failures: two intervals after the last start, though the source is stale.
    assert first_run_time(EVERY_HOUR, failing, NOW, 6 * 3600) == NOW + timedelta(minutes=30)
    assert first_run_time(CRON_HOURLY, failing, NOW, 6 * 3600) == NOW + timedelta(minutes=30)
    # The cap holds: 10 failures, at most backoff_max after the last start.
    many = SourceState(last_started=iso(NOW - timedelta(minutes=90)), last_result="killed", consecutive_failures=10)
    assert first_run_time(EVERY_HOUR, many, NOW, 2 * 3600) == NOW + timedelta(minutes=30)
    # Backoff over: at once.
    waited = SourceState(last_started=iso(NOW - 3 * HOUR), last_result="failed", consecutive_failures=2)
    assert first_run_time(EVERY_HOUR, waited, NOW, 6 * 3600) == NOW


def test_first_run_jitter_stays_within_bounds():
    times = {first_run_time(EVERY_HOUR, SourceState(), NOW, 3600, jitter=30) for _ in range(50)}
    assert all(NOW <= t <= NOW + timedelta(seconds=30) for t in times)
    assert len(times) > 1, "jitter spreads sources that fall due together"


def test_cron_trigger_gets_jitter():
    trigger = schedule_trigger(CRON_HOURLY, 30)
    assert trigger.jitter == 30
    assert schedule_trigger(EVERY_HOUR, 0).jitter is None


def test_jitter_does_not_push_later_interval_runs_back():
    # Each run is jittered around its own slot of the grid start + k × interval:
    # 50 runs of "every 1m" with 30 s of jitter end near 49 minutes, not 61.
    trigger = schedule_trigger(parse_schedule("every 1m"), 30)
    start = trigger.start_date
    fire, fires = None, []
    for _ in range(50):
        fire = trigger.get_next_fire_time(fire, fire or start)
        fires.append(fire)
    for k, moment in enumerate(fires):
        assert timedelta(0) <= moment - (start + k * timedelta(minutes=1)) <= timedelta(seconds=30), k


def test_jitter_does_not_push_later_runs_back_under_the_real_scheduler():
    # APScheduler asks its trigger twice per run (for the run times due, then
    # for the next one), about the same fire time: driven through its own
    # _process_jobs with a clock of ours, "every 1m" with 30 s of jitter must
    # average a minute between runs, not 75 s.
    from unittest import mock

    import apscheduler.schedulers.base as scheduler_base
    from apscheduler.executors.base import BaseExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    class NoRun(BaseExecutor):
        def _do_submit_job(self, job, run_times):
            pass

    clock = [NOW]

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock[0]

    scheduler = BackgroundScheduler(executors={"default": NoRun()}, timezone="UTC",
                                    job_defaults={"coalesce": True, "misfire_grace_time": 3600})
    trigger = schedule_trigger(parse_schedule("every 1m"), 30)
    scheduler.add_job(print, trigger, id="s", next_run_time=trigger.start_date + timedelta(seconds=5))
    scheduler.start(paused=True)
    scheduler.state = scheduler_base.STATE_RUNNING
    fires = []
    try:
        with mock.patch.object(scheduler_base, "datetime", Clock):
            for _ in range(200):
                clock[0] = scheduler.get_job("s").next_run_time
                fires.append(clock[0])
                scheduler._process_jobs()
    finally:
        scheduler.state = scheduler_base.STATE_PAUSED
        scheduler.shutdown(wait=False)
    mean_gap = (fires[-1] - fires[0]) / (len(fires) - 1)
    assert timedelta(seconds=59) <= mean_gap <= timedelta(seconds=61), mean_gap


def test_a_fire_time_set_from_outside_is_a_slot_of_its_own():
    # The daemon sets the first run (last run + interval, after a restart)
    # and backoff retries itself: the run after comes a whole interval later,
    # not at the next slot of the trigger's own grid (minutes later, a double run).
    trigger = schedule_trigger(parse_schedule("every 1h"), 30)
    trigger.get_next_fire_time(None, trigger.start_date)
    external = trigger.start_date + timedelta(minutes=7, seconds=13)
    following = trigger.get_next_fire_time(external, external)
    assert timedelta(hours=1) <= following - external <= timedelta(hours=1, seconds=30)


# -- schedule state -------------------------------------------------------------

def test_run_record_copies_nobody_reads_any_more_are_removed(tmp_path):
    from crawler.state import remove_stale_run_files, run_file

    old, fresh = run_file(tmp_path, "20260101T000000Z-aaaaaa"), run_file(tmp_path, "20260301T000000Z-bbbbbb")
    old.parent.mkdir(parents=True)
    for path in (old, fresh):
        path.write_text("{}")
    week = 7 * 86400
    os.utime(old, (time.time() - week - 60, time.time() - week - 60))
    assert remove_stale_run_files(tmp_path, week) == 1
    assert not old.exists() and fresh.exists()


def test_state_round_trip(tmp_path):
    state = ScheduleState(tmp_path).load()
    assert state.sources == {}
    state.update("a", last_started=iso(NOW), last_result="ok", consecutive_failures=0, next_run=iso(NOW + HOUR))
    state.update("b", last_result="failed", consecutive_failures=3, reason="HTTP 500")
    again = ScheduleState(tmp_path).load()
    assert again.get("a").started_at == NOW
    assert again.get("a").next_run_at == NOW + HOUR
    assert again.get("b").consecutive_failures == 3 and again.get("b").reason == "HTTP 500"
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE], "no temp file left beside it"


def test_state_temp_files_a_killed_writer_left_are_removed_at_load(tmp_path):
    # SIGKILLed between mkstemp and the rename, a writer leaves its temp file;
    # one being written now (young) stays.
    ScheduleState(tmp_path).load().update("a", last_result="ok")
    old, young = tmp_path / ".schedule-old.tmp", tmp_path / ".schedule-young.tmp"
    for path in (old, young):
        path.write_text("{")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    state = ScheduleState(tmp_path).load()
    assert not old.exists() and young.exists()
    assert state.get("a").last_result == "ok"


def test_state_get_is_a_copy_and_update_checks_fields(tmp_path):
    state = ScheduleState(tmp_path).load()
    copy = state.get("a")
    copy.consecutive_failures = 9
    assert state.get("a").consecutive_failures == 0
    with pytest.raises(TypeError):
        state.update("a", no_such_field=1)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"sources": []}', '{"sources": {"a": 5}}', ""])
def test_damaged_state_file_means_nothing_ran(tmp_path, content):
    (tmp_path / STATE_FILE).write_text(content, encoding="utf-8")
    state = ScheduleState(tmp_path).load()
    assert state.get("a") == SourceState()


def test_state_file_of_another_version_loads(tmp_path):
    data = {"sources": {"a": {"last_started": iso(NOW), "last_result": "ok", "future_field": [1],
                              "consecutive_failures": "many"}}}
    (tmp_path / STATE_FILE).write_text(json.dumps(data), encoding="utf-8")
    state = ScheduleState(tmp_path).load().get("a")
    assert state.started_at == NOW and state.last_result == "ok" and state.consecutive_failures == 0


def fake_daemon_process() -> subprocess.Popen:
    """A process whose command line has a "daemon" argument, once it has exec'd."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "daemon"])
    deadline = time.monotonic() + 10
    while b"daemon" not in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes().split(b"\0"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return sleeper


def test_daemon_alive_needs_a_live_daemon_process():
    assert not daemon_alive(None)
    assert not daemon_alive({"pid": "12"})
    sleeper = fake_daemon_process()
    try:
        assert daemon_alive({"pid": sleeper.pid})
        assert not daemon_alive({"pid": os.getpid()}), "a live process that is no daemon"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not daemon_alive({"pid": sleeper.pid})


# -- locks --------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import subprocess, sys, time
    from crawler.locks import SourceLock
    lock = SourceLock(sys.argv[1], "s")
    lock.acquire()
    # A helper that inherits every fd it can (as a careless library might).
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    print("held", flush=True)
    time.sleep(60)
""")


def test_lock_excludes_a_second_holder(tmp_path):
    with SourceLock(tmp_path, "s"):
        with pytest.raises(SourceBusy):
            SourceLock(tmp_path, "s").acquire()
        SourceLock(tmp_path, "other").acquire()  # other sources are free
    with SourceLock(tmp_path, "s"):
        pass  # released


def test_lock_free_sources_reports_busy(tmp_path):
    with SourceLock(tmp_path, "b"), ExitStack() as stack:
        locked, busy = lock_free_sources(stack, tmp_path, ["a", "b", "c"])
        assert (locked, busy) == (["a", "c"], ["b"])


def test_killed_holder_leaves_no_stuck_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SourceBusy) as busy:
            SourceLock(tmp_path, "s").acquire()
        assert str(holder.pid) in str(busy.value), "the message names the holder"
        holder.send_signal(signal.SIGKILL)  # the holder only; its helper lives on
        holder.wait(10)
        deadline = time.monotonic() + 5
        while True:
            try:
                SourceLock(tmp_path, "s").acquire()
                break
            except SourceBusy:
                assert time.monotonic() < deadline, "the lock outlived its holder (inherited by its helper?)"
                time.sleep(0.1)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


def test_one_daemon_per_state_dir(tmp_path):
    with DaemonLock(tmp_path):
        with pytest.raises(DaemonRunning):
            DaemonLock(tmp_path).acquire()
    with DaemonLock(tmp_path):
        pass


# -- logs -----------------------------------------------------------------------

@pytest.fixture
def captured_json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    from crawler.logs import ContextFilter

    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_child_lines_are_json_with_their_source_and_run(captured_json_log):
    child = json.dumps({"time": "t", "level": "INFO", "logger": "scrapy.core.engine", "source": "s", "run_id": "r1", "message": "Spider opened"})
    forward_child_line(child + "\n", "s", "r1")
    forward_child_line('{"level": "WARNING", "message": "no ids"}\n', "s", "r1")
    forward_child_line("Traceback (most recent call last):\n", "s", "r1")
    forward_child_line("skipped s: another process is crawling it now\n", "s", "r1")
    forward_child_line("   \n", "s", "r1")
    lines = _lines(captured_json_log)
    assert len(lines) == 4
    assert lines[0]["message"] == "Spider opened" and lines[0]["logger"] == "scrapy.core.engine"
    assert all(line["source"] == "s" and line["run_id"] == "r1" for line in lines)
    assert lines[2]["message"].startswith("Traceback")


def test_daemon_lines_carry_the_run_context(captured_json_log):
    logger = logging.getLogger("newsarchive.test")
    logger.info("outside")
    tokens = log_source.set("s"), log_run_id.set("r2")
    try:
        logger.info("inside")
    finally:
        log_source.reset(tokens[0])
        log_run_id.reset(tokens[1])
    lines = _lines(captured_json_log)
    assert (lines[0]["source"], lines[0]["run_id"]) == ("-", "-")
    assert (lines[1]["source"], lines[1]["run_id"]) == ("s", "r2")


def test_daemon_rejects_an_unknown_log_format(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("sources: []\n")
    result = subprocess.run([sys.executable, "-m", "crawler", "daemon", "--config", str(config), "--log-format", "xml"],
                            capture_output=True, text=True, timeout=30, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 2 and "xml" in result.stderr


# -- the Daemon with stand-in crawls ----------------------------------------------

# A stand-in for `newsarchive crawl`: behaves as argv[1] says, writes the run
# record file like the real crawl, logs one JSON line to stderr.
FAKE_CRAWL = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    mode, source, run_id, record_file, marks = sys.argv[1:6]
    print(json.dumps({"level": "INFO", "message": "fake crawl " + mode, "source": source, "run_id": run_id}), file=sys.stderr, flush=True)
    with open(marks, "a") as f:
        f.write(f"start {source} {time.time()}\\n")
    def record(status, **counts):
        per = {"archived": 0, "updated": 0, "unchanged": 0, "duplicates": 0, "failed": 0,
               "images_stored": 0, "images_failed": 0, "image_bytes": 0}
        per.update(counts)
        failures = [] if counts.get("archived") else [{"url": "http://x/feed", "reason": "HTTP 500", "source": source, "kind": "feed"}]
        data = {"run_id": run_id, "started": "2026-01-01T00:00:00+00:00", "sources": [source], "finished": None,
                "status": status, "counts": dict(per), "per_source": {source: per}, "blocked": {}, "failures": failures}
        with open(record_file + ".part", "w") as f:
            json.dump(data, f)
        os.replace(record_file + ".part", record_file)
    def done(status, code, **counts):
        with open(marks, "a") as f:
            f.write(f"end {source} {time.time()}\\n")
        record(status, **counts)
        sys.exit(code)
    if mode == "ok":
        time.sleep(0.5); done("completed", 0, archived=2)
    elif mode == "fail":
        done("completed", 0)
    elif mode == "crash":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("RuntimeError: boom", file=sys.stderr, flush=True)
        sys.exit(1)
    elif mode == "busy":
        sys.exit(3)
    elif mode == "graceful":  # finishes its in-flight work on SIGTERM
        signal.signal(signal.SIGTERM, lambda *a: done("interrupted", 1, archived=1))
        time.sleep(60)
    elif mode == "hang":  # ignores SIGTERM; and a helper in its group
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        helper = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
        with open(marks, "a") as f:
            f.write(f"helper {source} {helper.pid}\\n")
        time.sleep(120)
""")


class FakeDaemon(Daemon):
    """A Daemon whose crawl command runs FAKE_CRAWL in the mode set per source."""

    def __init__(self, config: Config, tmp_path: Path, modes: dict[str, str]) -> None:
        super().__init__(config, tmp_path / "cfg.yaml", log_format="json")
        self.modes = modes
        self.marks = tmp_path / "marks.txt"
        self.marks.touch()

    def crawl_command(self, source_id: str, run_id: str, record_file: Path) -> list[str]:
        record_file.parent.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-c", FAKE_CRAWL, self.modes[source_id], source_id, run_id, str(record_file), str(self.marks)]

    def mark_lines(self) -> list[list[str]]:
        return [line.split() for line in self.marks.read_text().splitlines()]


def make_config(tmp_path: Path, sources: list[str], **daemon) -> Config:
    return Config.model_validate({
        "archive": {"url": str(tmp_path / "archive")},
        "sources": [{"id": s, "kind": "feed", "url": f"http://127.0.0.1:9/{s}.xml", "schedule": "every 1m"} for s in sources],
        "daemon": {"state_dir": str(tmp_path / "state"), "jitter": 0, "run_timeout": 30, "stop_grace": 5, **daemon},
    })


@pytest.fixture
def fake_daemons():
    made: list[FakeDaemon] = []

    def make(tmp_path: Path, modes: dict[str, str], **daemon) -> FakeDaemon:
        d = FakeDaemon(make_config(tmp_path, list(modes), **daemon), tmp_path, modes)
        d.state.load()
        made.append(d)
        return d

    yield make
    for d in made:
        d.stopping.set()
        d._stop_children()
        if d.scheduler is not None and d.scheduler.running:
            d.scheduler.shutdown(wait=False)


def _archive_runs(tmp_path: Path) -> dict[str, dict]:
    if not (tmp_path / "archive").is_dir():
        return {}  # nothing wrote to it, no run record either (a store would say "no archive directory")
    store = open_store(str(tmp_path / "archive"))
    return {json.loads(store.get(k))["run_id"]: json.loads(store.get(k)) for k in store.list(RUNS_PREFIX)}


def test_failing_source_backs_off_then_recovers(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"s": "fail"}, backoff_max=3600)
    daemon.start_scheduler(paused=True)  # real jobs and triggers; nothing fires by itself
    for n in (1, 2, 3):
        before = datetime.now(timezone.utc)
        assert daemon.run_source("s") == "failed"
        state = daemon.state.get("s")
        assert state.consecutive_failures == n and state.reason == "HTTP 500"
        expected = timedelta(minutes=2 ** (n - 1))
        next_run = daemon.scheduler.get_job("s").next_run_time
        assert before + expected <= next_run <= datetime.now(timezone.utc) + expected, n
        assert abs(state.next_run_at - next_run) < timedelta(seconds=1), "the state file shows the backoff"
    assert daemon.metrics.failures_in_row.labels("s")._value.get() == 3
    daemon.modes["s"] = "ok"
    assert daemon.run_source("s") == "ok"
    state = daemon.state.get("s")
    assert state.consecutive_failures == 0 and state.last_success is not None
    assert daemon.metrics.failures_in_row.labels("s")._value.get() == 0
    assert daemon.metrics.articles.labels("s", "archived")._value.get() == 2


def test_crash_is_recorded_with_its_last_words(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"s": "crash"})
    assert daemon.run_source("s") == "crashed"
    state = daemon.state.get("s")
    assert state.consecutive_failures == 1 and "boom" in state.reason
    (record,) = _archive_runs(tmp_path).values()
    assert record["run_id"] == state.last_run_id and record["status"] == "failed"
    assert any("boom" in f["reason"] for f in record["failures"])


def test_the_record_of_a_crash_waits_in_the_spool_while_the_store_is_down(tmp_path, monkeypatch):
    # A crawl often hangs and is killed because the store went away: the
    # record the daemon writes for it waits in the crawls' spool, and reaches
    # the archive with the next replay, instead of being lost.
    from archive.spool import StoreSpool, spool_directory
    from tests.services import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    config = Config.model_validate({
        **make_config(tmp_path, ["s"]).model_dump(mode="json", exclude_unset=True),
        # Nothing listens there.
        "archive": {"url": "s3://down-bucket", "endpoint_url": f"http://127.0.0.1:{free_port()}"},
    })
    daemon = FakeDaemon(config, tmp_path, {"s": "crash"})
    daemon.state.load()
    try:
        assert daemon.run_source("s") == "crashed"
    finally:
        daemon._stop_children()
    run_id = daemon.state.get("s").last_run_id
    store = open_store(config.archive.url, endpoint_url=config.archive.endpoint_url)
    spool = StoreSpool(spool_directory(tmp_path / "state", store))
    assert spool.waiting(), "the run record waits in the spool"
    back = open_store(str(tmp_path / "back"))
    assert spool.replay(back, force=True) == 1
    (key,) = back.list(RUNS_PREFIX)
    record = json.loads(back.get(key))
    assert record["run_id"] == run_id and record["status"] == "failed"
    assert any("boom" in f["reason"] for f in record["failures"])


def test_the_daemon_merges_old_catalog_segments_on_a_job_of_its_own(tmp_path, fake_daemons):
    from archive.catalog import CatalogEntry, load_catalog, segment_key, segment_keys, write_segment
    from crawler.daemon import COMPACTION_JOB

    daemon = fake_daemons(tmp_path, {"s": "ok"}, run_timeout=3 * 86400)
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    now = datetime.now(timezone.utc)
    for age_days in (10, 5):  # five days: within twice the run timeout, so not merged
        started = now - timedelta(days=age_days)
        for run in range(3):
            entry = CatalogEntry(id=f"{age_days}-{run}", key="articles/x.json", source="s", title="t", url=f"https://e/{age_days}/{run}",
                                 published=None, fetched=started.isoformat(), language="en")
            write_segment(store, segment_key(f"{started:%Y%m%dT%H%M%SZ}-{run:06x}", started, 0), [entry])
    before = load_catalog(store)
    daemon.start_scheduler(paused=True)
    job = daemon.scheduler.get_job(COMPACTION_JOB)
    assert job.executor == "maintenance" and job.next_run_time > now
    report = daemon.compact_catalog()
    assert report.merged == 1 and report.removed == 0, "what it replaces stays a while, for readers"
    assert len(segment_keys(store)) == 7 and load_catalog(store) == before


def test_busy_source_is_no_failure(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"s": "busy"})
    assert daemon.run_source("s") == "busy"
    state = daemon.state.get("s")
    assert state.last_result == "busy" and state.consecutive_failures == 0
    assert _archive_runs(tmp_path) == {}, "a busy run writes no run record"
    assert daemon.metrics.runs.labels("s", "busy")._value.get() == 1


@pytest.mark.parametrize("mode", ["local", "distributed"])
def test_a_busy_source_is_said_busy_for_what_holds_it_in_each_mode(tmp_path, captured_json_log, mode):
    # In distributed mode the daemon said "another process is crawling this
    # source", as if a lock on this machine held it: it is the source's last
    # run, still open on the workers (its lock in Redis).
    config = make_config(tmp_path, ["s"])
    if mode == "distributed":
        config = Config.model_validate({**config.model_dump(mode="json"), "distributed": {"redis_url": "redis://127.0.0.1:9/0"}})
    daemon = FakeDaemon(config, tmp_path, {"s": "busy"})
    daemon.state.load()
    assert daemon.run_source("s") == "busy"
    expected = BUSY_DISTRIBUTED if mode == "distributed" else BUSY_LOCAL
    assert daemon.state.get("s").reason == expected
    assert daemon.metrics.runs.labels("s", "busy")._value.get() == 1
    logged = [line["message"] for line in _lines(captured_json_log) if line["message"].startswith("run of s:")]
    assert logged and expected in logged[-1], logged
    other = BUSY_LOCAL if mode == "distributed" else BUSY_DISTRIBUTED
    assert other not in captured_json_log.getvalue()


def test_hung_crawl_is_killed_with_its_helpers(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"s": "hang"}, run_timeout=1.5, stop_grace=1)
    started = time.monotonic()
    assert daemon.run_source("s") == "killed"
    assert time.monotonic() - started < 10
    state = daemon.state.get("s")
    assert state.consecutive_failures == 1 and "time limit" in state.reason
    record = _archive_runs(tmp_path)[state.last_run_id]
    assert record["status"] == "failed" and "time limit" in record["failures"][0]["reason"]
    (helper_pid,) = [int(m[2]) for m in daemon.mark_lines() if m[0] == "helper"]
    try:
        deadline = time.monotonic() + 5
        while _alive(helper_pid):
            assert time.monotonic() < deadline, "the crawl's helper process survived the kill"
            time.sleep(0.1)
    finally:
        if _alive(helper_pid):
            os.kill(helper_pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_stop_lets_crawls_finish_then_kills_the_rest(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"calm": "graceful", "stuck": "hang"}, stop_grace=2, max_concurrent_crawls=2)
    results: dict[str, str] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, daemon.run_source(s))) for s in ("calm", "stuck")]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len([m for m in daemon.mark_lines() if m[0] in ("start", "helper")]) < 3:
        assert time.monotonic() < deadline, "the stand-in crawls did not start"
        time.sleep(0.1)
    stopped = time.monotonic()
    daemon.stop()
    assert time.monotonic() - stopped < 2 + 5, "stop_grace, then a kill"
    for t in threads:
        t.join(10)
    assert results == {"calm": "interrupted", "stuck": "interrupted"}
    for source in ("calm", "stuck"):
        state = daemon.state.get(source)
        assert state.last_result == "interrupted" and state.consecutive_failures == 0, source
    runs = _archive_runs(tmp_path)
    stuck = runs[daemon.state.get("stuck").last_run_id]
    assert stuck["status"] == "interrupted", "the daemon records the crawl it had to kill"
    # After a stop, no new crawl starts.
    assert daemon.run_source("calm") == "skipped"


def test_global_cap_on_concurrent_crawls(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"a": "ok", "b": "ok", "c": "ok"}, max_concurrent_crawls=1)
    threads = [threading.Thread(target=daemon.run_source, args=(s,)) for s in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    events = sorted((float(t), kind) for kind, _source, t in daemon.mark_lines())
    running = peak = 0
    for _t, kind in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert len(events) == 6 and peak == 1, events
    assert {daemon.state.get(s).last_result for s in "abc"} == {"ok"}


def test_scheduler_coalesces_and_respects_misfire_grace(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"a": "ok"}, misfire_grace=42)
    daemon.start_scheduler(paused=True)
    job = daemon.scheduler.get_job("a")
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 42
    assert job.next_run_time <= datetime.now(timezone.utc), "never ran: due at once"


def test_restart_keeps_a_fresh_source_waiting(tmp_path, fake_daemons):
    first = fake_daemons(tmp_path, {"a": "ok"})
    assert first.run_source("a") == "ok"
    started = first.state.get("a").started_at
    second = fake_daemons(tmp_path, {"a": "ok"})
    second.start_scheduler(paused=True)
    assert second.scheduler.get_job("a").next_run_time == started + timedelta(minutes=1)


def test_a_state_file_that_cannot_be_written_leaves_the_crawl_supervised(tmp_path, fake_daemons, monkeypatch):
    # The disk is full when the run starts: the crawl still runs under the
    # daemon's time limit and is reaped, and its lock is let go.
    daemon = fake_daemons(tmp_path, {"a": "ok"})
    real_update = daemon.state.update

    def update(source_id, **fields):
        if fields.get("last_result") == "running":
            raise OSError(28, "No space left on device")
        return real_update(source_id, **fields)

    monkeypatch.setattr(daemon.state, "update", update)
    assert daemon.run_source("a") == "ok"
    assert daemon.children == {}
    assert daemon.state.get("a").last_result == "ok"
    assert [line[0] for line in daemon.mark_lines()] == ["start", "end"]


# -- status (what `newsarchive sources` shows) --------------------------------------

def test_sources_status_after_a_one_off_crawl_the_daemon_never_saw(tmp_path):
    # `newsarchive crawl` leaves a run record in the archive but no schedule
    # state: the row comes from the run record, and the next run is due now.
    config = make_config(tmp_path, ["s"])
    run = _run("s", archived=3)
    run.finished = run.started
    save_run(open_store(config.archive.url), run)
    (row,) = source_rows(config, now=NOW + HOUR)
    assert row.last_run_id == run.run_id and row.result == "ok" and row.counts["archived"] == 3
    assert row.next_run is not None and "daemon not running" in row.next_run_note

def test_sources_status_shows_daemon_backoff_and_counts(tmp_path, fake_daemons):
    daemon = fake_daemons(tmp_path, {"good": "ok", "bad": "fail"})
    daemon.start_scheduler(paused=True)
    assert daemon.run_source("good") == "ok"
    assert daemon.run_source("bad") == "failed"
    daemon.state.set_daemon({"pid": os.getpid()})  # not a daemon process: "not running"
    sleeper = fake_daemon_process()
    try:
        rows = {row.id: row for row in source_rows(daemon.config)}
        assert rows["bad"].next_run_note.startswith("backoff") and "daemon not running" in rows["bad"].next_run_note
        daemon.state.set_daemon({"pid": sleeper.pid})
        rows = {row.id: row for row in source_rows(daemon.config)}
    finally:
        sleeper.kill()
        sleeper.wait()
    good, bad = rows["good"], rows["bad"]
    assert good.result == "ok" and good.counts["archived"] == 2 and good.next_run_note == ""
    assert bad.result == "failed" and bad.reason == "HTTP 500" and bad.consecutive_failures == 1
    assert abs(bad.next_run - daemon.scheduler.get_job("bad").next_run_time) < timedelta(seconds=1)
    assert bad.next_run_note == "backoff"
    assert "failure(s) in a row" in bad.cells()[4]


def test_a_crawls_temp_dir_leaves_its_forkserver_room_for_its_socket(tmp_path):
    # Nested under the daemon's TMPDIR, the forkserver's socket path grew by 18
    # bytes: a TMPDIR of 60-75 characters made every local crawl fail at start.
    import shutil
    import tempfile

    from crawler.childproc import MAX_UNIX_SOCKET_PATH, crawl_temp_dir

    made_bases: list[Path] = []

    def base_of(length: int) -> str:
        path = Path(tempfile.mkdtemp(prefix="na-t-"))
        made_bases.append(path)
        longer = path / ("d" * (length - len(str(path)) - 1))
        longer.mkdir()
        return str(longer)

    fitting = None
    for length in (40, 57, 58, 75):
        base = base_of(length)
        made = crawl_temp_dir(base)
        if made is None:
            assert length + 18 + 32 > MAX_UNIX_SOCKET_PATH
            continue
        fitting = made
        assert made.parent == Path(base) and made.name.startswith("na-crawl-")
    assert fitting is not None and len(str(fitting.parent)) == 57, "the longest base that fits is used"
    # A real forkserver starts under the longest fitting one.
    try:
        started = subprocess.run([sys.executable, "-c", "import multiprocessing as m; print(m.get_context('forkserver').Pool(1).apply(abs, (-3,)))"],
                                 env={**os.environ, "TMPDIR": str(fitting)}, capture_output=True, text=True, timeout=60)
    finally:
        for path in made_bases:
            shutil.rmtree(path, ignore_errors=True)
    assert started.stdout.strip() == "3", started.stderr[-2000:]


def test_a_crawl_runs_as_the_packages_main_so_its_workers_do_not_import_the_cli(tmp_path):
    # multiprocessing runs a main module (`-m crawler.cli`) again in every
    # extraction worker; a package's __main__ never (tests/test_extraction_start.py shows both).
    daemon = Daemon(make_config(tmp_path, ["s"]), tmp_path / "cfg.yaml")
    command = daemon.crawl_command("s", "run-1", tmp_path / "run.json")
    assert command[:5] == [sys.executable, "-P", "-m", "crawler", "crawl"]


def test_a_runs_line_counts_the_articles_held_in_the_spool():
    # The daemon's "run of X: ok; 0 new, ..." and `sources` said nothing of the
    # articles written through the spool while the store was away.
    from archive.runs import counts_text

    assert counts_text({"archived": 3, "unchanged": 1}) == "3 new, 0 updated, 1 unchanged, 0 failed"
    assert counts_text({"spooled": 11}).endswith(", 11 spooled (the store out of reach)")
