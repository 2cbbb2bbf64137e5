"""End to end: `newsarchive daemon` as a real process over the fixture news site.

Each test starts the daemon (`python -m crawler daemon --metrics-port 0
--log-format json`) with `every 1m` schedules, jitter 0 and an empty state,
so first runs happen at once; waits (bounded) for what the state file, the
archive, /metrics and the JSON log show; and stops it with SIGTERM. Every
daemon and crawl process a test starts is killed in teardown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from archive.keys import ARTICLES_PREFIX, RUNS_PREFIX
from archive.records import load_record
from archive.store import open_store
from crawler.config import DaemonSettings
from crawler.daemon import SETTLE_SECONDS
from crawler.runpolicy import EXIT_ALL_BUSY
from tests.conftest import ROOT, run_cli
from tests.crawl_helpers import article_records
from tests.fixture_site import FixtureSite, Response

GATE_SECONDS = 60  # the longest a gated feed waits for its test
HANG_SECONDS = 120  # a feed that never answers within the tests' limits
START_TIMEOUT = 30  # bounds every wait for runs to happen
FINISHED = ("ok", "failed", "killed", "crashed", "interrupted", "busy")


# -- the site: the fixture site plus slow, hanging and failing feeds ------------------

def _delayed(site: FixtureSite, path: str, delay: float):
    original = site.routes[path]

    def handler(request):
        response = original(request)
        return Response(response.status, response.body, response.content_type, dict(response.headers), delay=delay)

    return handler


class Gate:
    """A feed that answers only once the test opens the gate (at most GATE_SECONDS later):
    its crawl is surely in flight, holding its lock, until then."""

    def __init__(self, site: FixtureSite, name: str, original: str) -> None:
        self.path = f"/gated/{name}{original[original.rfind('/'):]}"
        self.url = site.url(self.path)
        self.site = site
        self._open = threading.Event()
        handler = site.routes[original]

        def gated(request):
            self._open.wait(GATE_SECONDS)
            return handler(request)

        site.add_route(self.path, gated)

    def requested(self) -> bool:
        return self.site.count(self.path) > 0

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gates(daemon_site):
    made: list[Gate] = []

    def make(name: str, original: str) -> Gate:
        gate = Gate(daemon_site, name, original)
        made.append(gate)
        return gate

    yield make
    for gate in made:
        gate.open()


@pytest.fixture(scope="module")
def daemon_site():
    with FixtureSite() as site:
        site.add_route("/hang/feed.xml", _delayed(site, "/feeds/rss.xml", HANG_SECONDS))
        site.add_route("/broken/feed.xml", lambda request: Response(500, b"server error\n", "text/plain"))
        yield site


def feed(source_id: str, url: str) -> dict:
    return {"id": source_id, "kind": "feed", "url": url, "schedule": "every 1m"}


def write_daemon_config(workdir: Path, archive_url: str, sources: list[dict], *, endpoint_url: str | None = None,
                        **daemon) -> Path:
    config = {
        "archive": {"url": archive_url, **({"endpoint_url": endpoint_url} if endpoint_url else {})},
        "crawl": {"download_delay": 0, "concurrency": 8, "extract_workers": 1, "timeout": 60},
        "sources": sources,
        "daemon": {"state_dir": str(workdir / "state"), "jitter": 0, "run_timeout": 60, "stop_grace": 15, **daemon},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "newsarchive.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


# -- the daemon process ------------------------------------------------------------

def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class DaemonProcess:
    """`newsarchive daemon` in a process of its own; its stderr goes to a file."""

    def __init__(self, config: Path, workdir: Path, env: dict | None = None, name: str = "daemon") -> None:
        self.config = config
        self.workdir = workdir
        self.state_file = workdir / "state" / "schedule.json"
        self.stderr_path = workdir / f"{name}.stderr"
        self.stdout_path = workdir / f"{name}.stdout"
        self.env = {**os.environ, **(env or {})}
        self.env.pop("NEWSARCHIVE_CONFIG", None)
        self.proc: subprocess.Popen | None = None
        self._port: int | None = None

    def start(self) -> "DaemonProcess":
        # -P, like the `newsarchive` console script: the work dir (which may hold
        # ./archive) stays off sys.path. Its crawls must manage that themselves.
        command = [sys.executable, "-P", "-m", "crawler", "daemon", "--config", str(self.config),
                   "--metrics-port", "0", "--log-format", "json"]
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            # In the work dir, as systemd runs it: relative paths of the config resolve there.
            self.proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.workdir,
                                         env=self.env)
        return self

    # -- reading it
    def raw_lines(self) -> list[str]:
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""
        return [line for line in text.split("\n") if line.strip()]

    def log(self) -> list[dict]:
        """Every stderr line as JSON (a line that is not fails the test)."""
        entries = []
        for line in self.raw_lines():
            try:
                entry = json.loads(line)
            except ValueError:
                raise AssertionError(f"a daemon stderr line is not JSON: {line[:300]!r}") from None
            assert isinstance(entry, dict), line
            entries.append(entry)
        return entries

    def messages(self) -> list[str]:
        return [e.get("message", "") for e in self.log()]

    @property
    def port(self) -> int:
        if self._port is None:
            def find():
                for message in self.messages():
                    if match := re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", message):
                        return int(match.group(1))
                assert self.proc.poll() is None, f"the daemon exited ({self.proc.returncode}):\n{self.tail()}"
                return None
            self._port = wait_for(find, 20, "the metrics port in the log")
        return self._port

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metrics(self) -> dict[tuple[str, tuple], float]:
        status, text = self.get("/metrics")
        assert status == 200
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))["sources"]
        except (OSError, ValueError, KeyError):
            return {}

    def source_state(self, source_id: str) -> dict:
        return self.state().get(source_id, {})

    def crawl_pids(self) -> list[int]:
        return [int(m.group(1)) for line in self.raw_lines() if (m := re.search(r"crawl of \S+ started \(pid (\d+)\)", line))]

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.raw_lines()[-n:])

    # -- waiting
    def wait_result(self, source_id: str, results: tuple[str, ...], timeout: float = START_TIMEOUT, after_run: str | None = None) -> dict:
        def done():
            assert self.proc.poll() is None, f"the daemon exited ({self.proc.returncode}):\n{self.tail()}"
            state = self.source_state(source_id)
            if state.get("last_result") in results and state.get("last_run_id") != after_run:
                return state
            return None
        try:
            return wait_for(done, timeout, f"{source_id} to end {'/'.join(results)}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstate: {self.source_state(source_id)}\nlog:\n{self.tail()}") from None

    def wait_lock_held_by_crawl(self, source_id: str, timeout: float = START_TIMEOUT) -> int:
        """The pid of the daemon's crawl holding the source's lock."""
        lock_file = self.workdir / "state" / "locks" / f"{source_id}.lock"

        def held():
            try:
                pid = int(lock_file.read_text().strip() or 0)
            except (OSError, ValueError):
                return None
            return pid if pid in self.crawl_pids() else None
        return wait_for(held, timeout, f"the daemon's crawl of {source_id} to hold its lock")

    def terminate(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the daemon did not exit within {timeout:.0f}s of SIGTERM:\n{self.tail()}") from None
        return returncode, time.monotonic() - started

    def kill_all(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.crawl_pids():  # each crawl leads a process group of its own
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def daemons():
    """Start daemons with start(config, workdir); all are killed (with their crawls) at teardown."""
    started: list[DaemonProcess] = []

    def start(config: Path, workdir: Path, env: dict | None = None, name: str = "daemon") -> DaemonProcess:
        process = DaemonProcess(config, workdir, env, name).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill_all()


@pytest.fixture
def admin_crawls():
    """Admin `newsarchive crawl` processes started with Popen; killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(config: Path, *sources: str) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_CONFIG"}
        process = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", *sources, "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                                   start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)


# -- checks on an archive ---------------------------------------------------------------

def run_records(store) -> dict[str, dict]:
    records = {}
    for key in store.list(RUNS_PREFIX):
        record = json.loads(store.get(key))  # every run record parses
        records[record["run_id"]] = record
    return records


def runs_of(store, source_id: str) -> list[dict]:
    return [r for r in run_records(store).values() if source_id in r["sources"]]


def assert_archive_whole(archive_dir: Path) -> dict[str, dict]:
    """No temp file left, every article record valid; returns canonical_url -> record."""
    temp_dir = archive_dir / ".tmp"
    leftovers = list(temp_dir.iterdir()) if temp_dir.is_dir() else []
    assert leftovers == [], f"half-written objects left: {leftovers}"
    store = open_store(str(archive_dir))
    for key in store.list(ARTICLES_PREFIX):
        load_record(store.get(key))
    run_records(store)
    return article_records(store)


def metric(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def metric_sum(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and wanted <= set(l))


# -- one daemon over three sources: runs, metrics, state, logs, sources, SIGTERM -----------

@pytest.fixture(scope="module")
def first_daemon(daemon_site, tmp_path_factory):
    """A daemon in a work dir whose archive is ./archive (as the default config has it),
    at most one crawl at a time, over two good sources and a failing one; run until
    each has had its first run, then stopped with SIGTERM."""
    workdir = tmp_path_factory.mktemp("first-daemon")
    site = daemon_site
    # A cron line that fires next in three hours (not during the test): once a day.
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    cron = f"{later.minute} {later.hour} * * *"
    sources = [feed("site-rss", site.url("/feeds/rss.xml")),
               {**feed("site-atom", site.url("/feeds/atom.xml")), "schedule": cron},
               feed("site-broken", site.url("/broken/feed.xml"))]
    config = write_daemon_config(workdir, "./archive", sources, max_concurrent_crawls=1)
    process = DaemonProcess(config, workdir).start()
    try:
        states = {s["id"]: process.wait_result(s["id"], FINISHED, timeout=45) for s in sources}
        health = process.get("/healthz")
        samples = process.metrics()
        # From the repository (./archive there is the package): the archive named explicitly.
        listing = run_cli("sources", "--config", str(config), "--archive", str(workdir / "archive"), "--json")
        table = run_cli("sources", "--config", str(config), "--archive", str(workdir / "archive"), env={"COLUMNS": "300"})
        second = run_cli("daemon", "--config", str(config), "--log-format", "json", timeout=30)
        returncode, took = process.terminate(timeout=DaemonSettings.model_fields["stop_grace"].default)
        yield {"workdir": workdir, "config": config, "cron": cron, "process": process, "states": states, "health": health,
               "samples": samples, "listing": listing, "table": table, "second": second, "returncode": returncode, "took": took,
               "archive": workdir / "archive"}
    finally:
        process.kill_all()


def test_first_runs_happen_at_once_and_are_recorded(first_daemon):
    states, archive = first_daemon["states"], first_daemon["archive"]
    assert states["site-rss"]["last_result"] == "ok" and states["site-atom"]["last_result"] == "ok", states
    assert states["site-broken"]["last_result"] == "failed", states
    assert "500" in states["site-broken"]["reason"]
    store = open_store(str(archive))
    records = run_records(store)
    for source_id, state in states.items():
        assert state["last_run_id"] in records, f"no run record for {source_id}'s run"
        assert records[state["last_run_id"]]["sources"] == [source_id], "one process per source and run"
        assert len(runs_of(store, source_id)) == 1, "exactly one run each"
    articles = assert_archive_whole(archive)
    assert {r["source"] for r in articles.values()} == {"site-rss", "site-atom"}
    assert states["site-rss"]["last_counts"]["archived"] == len([r for r in articles.values() if r["source"] == "site-rss"])


def test_global_cap_keeps_crawls_apart(first_daemon):
    # max_concurrent_crawls: 1 -> no two crawls overlap (times from the log, ms precision).
    spans: dict[str, list] = {}
    for entry in first_daemon["process"].log():
        message, run_id = entry.get("message", ""), entry.get("run_id")
        if entry.get("logger") == "newsarchive.daemon" and re.match(r"crawl of \S+ started", message):
            spans.setdefault(run_id, [None, None])[0] = entry["time"]
        if entry.get("logger") == "newsarchive.daemon" and message.startswith("run of "):
            spans.setdefault(run_id, [None, None])[1] = entry["time"]
    intervals = sorted(spans.values())
    assert len(intervals) == 3 and all(start and end for start, end in intervals), spans
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert end <= start, f"two crawls ran at once: {intervals}"


def test_metrics_match_the_archive(first_daemon):
    samples, archive = first_daemon["samples"], first_daemon["archive"]
    assert first_daemon["health"] == (200, "ok\n")
    articles = article_records(open_store(str(archive)))
    assert metric_sum(samples, "newsarchive_articles_total", status="archived") == len(articles) > 0
    for source_id in ("site-rss", "site-atom"):
        per_source = len([r for r in articles.values() if r["source"] == source_id])
        assert metric(samples, "newsarchive_articles_total", source=source_id, status="archived") == per_source
        assert metric(samples, "newsarchive_runs_total", source=source_id, result="ok") == 1
        assert metric(samples, "newsarchive_last_success_timestamp_seconds", source=source_id) > time.time() - 300
        assert metric(samples, "newsarchive_run_duration_seconds_count", source=source_id) == 1
    assert metric(samples, "newsarchive_runs_total", source="site-broken", result="failed") == 1
    assert metric(samples, "newsarchive_last_success_timestamp_seconds", source="site-broken") is None
    assert metric(samples, "newsarchive_source_consecutive_failures", source="site-broken") == 1
    assert metric(samples, "newsarchive_source_interval_seconds", source="site-rss") == 60
    assert metric(samples, "newsarchive_source_interval_seconds", source="site-atom") == 86400
    assert metric_sum(samples, "newsarchive_images_total", status="stored") > 0
    assert metric_sum(samples, "newsarchive_image_bytes_total") > 0
    assert metric(samples, "newsarchive_crawls_max") == 1
    assert metric(samples, "newsarchive_scheduler_lag_seconds", source="site-rss") is not None
    assert all(name.startswith("newsarchive_") for name, _ in samples)


def test_failing_source_backs_off(first_daemon):
    broken = first_daemon["states"]["site-broken"]
    finished, next_run = datetime.fromisoformat(broken["last_finished"]), datetime.fromisoformat(broken["next_run"])
    assert broken["consecutive_failures"] == 1, broken
    assert next_run >= finished + timedelta(seconds=59), "one interval after the failure at least"


def test_sources_command_shows_last_and_next_runs(first_daemon):
    listing = first_daemon["listing"]
    assert listing.returncode == 0, listing.stderr
    rows = {row["id"]: row for row in map(json.loads, listing.stdout.splitlines())}
    assert set(rows) == {"site-rss", "site-atom", "site-broken"}
    rss = rows["site-rss"]
    assert rss["result"] == "ok" and rss["kind"] == "feed" and rss["schedule"] == "every 1m"
    assert rss["counts"]["archived"] == first_daemon["states"]["site-rss"]["last_counts"]["archived"] > 0
    assert rss["next_run"] == first_daemon["states"]["site-rss"]["next_run"]
    assert rows["site-atom"]["schedule"] == first_daemon["cron"]
    broken = rows["site-broken"]
    assert broken["result"] == "failed" and "500" in broken["reason"] and broken["next_run_note"] == "backoff"
    assert broken["next_run"] == first_daemon["states"]["site-broken"]["next_run"]
    table = first_daemon["table"]
    assert table.returncode == 0, table.stderr
    (broken_line,) = [line for line in table.stdout.splitlines() if "site-broken" in line]
    assert "failed" in broken_line and "1 failure(s) in a row" in broken_line and "(backoff)" in broken_line
    (rss_line,) = [line for line in table.stdout.splitlines() if "site-rss" in line]
    assert f"ok: {rss['counts']['archived']} new" in rss_line and "every 1m" in rss_line


def test_second_daemon_on_the_same_state_is_refused(first_daemon):
    second = first_daemon["second"]
    assert second.returncode == 1
    lines = [json.loads(line) for line in second.stderr.splitlines()]
    assert any("another daemon" in line["message"] for line in lines)


def test_json_log_lines_carry_source_and_run_id(first_daemon):
    entries = first_daemon["process"].log()  # every line parses
    states = first_daemon["states"]
    run_sources = {state["last_run_id"]: source for source, state in states.items()}
    assert all("source" in e and "run_id" in e for e in entries)
    crawl_lines = [e for e in entries if e["logger"].startswith("scrapy")]
    assert crawl_lines, "the crawls' own log lines reach the daemon's log"
    for entry in entries:
        if entry["run_id"] != "-":
            assert entry["run_id"] in run_sources, entry
            assert entry["source"] == run_sources[entry["run_id"]], entry
    assert all(e["run_id"] in run_sources for e in crawl_lines)
    assert {run_sources[e["run_id"]] for e in crawl_lines} == set(states)
    assert first_daemon["process"].stdout_path.read_text() == "", "nothing outside the log"


def test_sigterm_when_idle_exits_zero_quickly(first_daemon):
    assert first_daemon["returncode"] == 0
    assert first_daemon["took"] < 10
    assert first_daemon["process"].log()[-1]["message"] == "stopped"
    assert_archive_whole(first_daemon["archive"])
    state = json.loads((first_daemon["workdir"] / "state" / "schedule.json").read_text())
    assert "daemon" not in state, "a stopped daemon is no longer named in the state"


# -- an admin's crawl beside the daemon ----------------------------------------------------

def test_admin_crawl_beside_the_daemon(daemon_site, tmp_path, daemons, admin_crawls, gates):
    rss_gate, atom_gate = gates("admin-rss", "/feeds/rss.xml"), gates("admin-atom", "/feeds/atom.xml")
    workdir = tmp_path / "work"
    sources = [feed("gated-rss", rss_gate.url), feed("gated-atom", atom_gate.url)]
    config = write_daemon_config(workdir, str(tmp_path / "archive"), sources)
    # 1. The admin crawls gated-rss first; the daemon starts while it runs.
    admin = admin_crawls(config, "gated-rss")
    wait_for(rss_gate.requested, 30, "the admin's crawl to fetch its feed")
    daemon = daemons(config, workdir)
    busy = daemon.wait_result("gated-rss", FINISHED)
    if busy["last_result"] != "busy":
        admin.kill()
        out, err = admin.communicate()
        raise AssertionError(f"the daemon's run of gated-rss did not see the admin's crawl (rc {admin.returncode}):\n{err[-3000:]}")
    rss_gate.open()
    # 2. The daemon crawls gated-atom; an admin's crawl of it meanwhile is turned away.
    wait_for(atom_gate.requested, 30, "the daemon's crawl to fetch its feed")
    refused = admin_crawls(config, "gated-atom")
    out, err = refused.communicate(timeout=30)
    assert refused.returncode == EXIT_ALL_BUSY, (out, err)
    assert "another process is crawling" in err
    atom_gate.open()
    # Both crawls end well.
    out, err = admin.communicate(timeout=40)
    assert admin.returncode == 0, err[-3000:]
    assert daemon.wait_result("gated-atom", FINISHED)["last_result"] == "ok"
    returncode, _ = daemon.terminate(timeout=20)
    assert returncode == 0
    # No collision, no duplicate: one run per source, every article once.
    store = open_store(str(tmp_path / "archive"))
    assert len(runs_of(store, "gated-rss")) == 1 and len(runs_of(store, "gated-atom")) == 1
    records = assert_archive_whole(tmp_path / "archive")  # fails on two records of one article
    assert {r["source"] for r in records.values()} == {"gated-rss", "gated-atom"}
    assert any("run of gated-rss: busy" in m for m in daemon.messages())


# -- SIGTERM during a crawl; a restart --------------------------------------------------------

def test_sigterm_mid_crawl_then_restart(daemon_site, tmp_path, daemons, gates):
    site = daemon_site
    workdir = tmp_path / "work"
    archive = tmp_path / "archive"
    gate = gates("sigterm-atom", "/feeds/atom.xml")
    sources = [feed("site-rss", site.url("/feeds/rss.xml")), feed("gated-atom", gate.url),
               feed("hung", site.url("/hang/feed.xml"))]
    grace = 5
    config = write_daemon_config(workdir, str(archive), sources, stop_grace=grace, max_concurrent_crawls=3)
    first = daemons(config, workdir, name="first")
    rss = first.wait_result("site-rss", FINISHED)
    assert rss["last_result"] == "ok", rss
    hung_pid = first.wait_lock_held_by_crawl("hung")
    wait_for(gate.requested, 30, "gated-atom's crawl to fetch its feed")
    # SIGTERM: gated-atom finishes its in-flight feed; hung is killed after the grace period.
    first.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    gate.open()
    returncode, took = first.terminate(timeout=grace + SETTLE_SECONDS + 10)
    assert returncode == 0, first.tail()
    assert took < grace + 8, f"took {took:.1f}s"
    assert group_members(hung_pid) == [], "the killed crawl's process group is gone"
    state = first.state()
    assert state["gated-atom"]["last_result"] == "interrupted"
    assert "killed" not in state["gated-atom"]["reason"], "it finished within the grace period"
    assert state["hung"]["last_result"] == "interrupted" and state["hung"]["consecutive_failures"] == 0
    assert "killed" in state["hung"]["reason"]
    store = open_store(str(archive))
    records = run_records(store)
    assert records[state["hung"]["last_run_id"]]["status"] == "interrupted"
    assert records[state["gated-atom"]["last_run_id"]]["status"] == "interrupted"
    assert records[state["gated-atom"]["last_run_id"]]["finished"], "written by the crawl as it closed"
    assert_archive_whole(archive)
    # A restart at once: the fresh source waits, the interrupted ones run again.
    second = daemons(config, workdir, name="second")
    atom = second.wait_result("gated-atom", FINISHED, after_run=state["gated-atom"]["last_run_id"])
    assert atom["last_result"] == "ok", (atom, second.tail())
    second.wait_lock_held_by_crawl("hung")
    time.sleep(1)
    assert second.source_state("site-rss")["last_run_id"] == rss["last_run_id"], "a fresh source is not rerun"
    assert len(runs_of(store, "site-rss")) == 1
    assert not any("crawl of site-rss started" in m for m in second.messages())
    scheduled = [m for m in second.messages() if m.startswith("scheduled site-rss")]
    assert scheduled and rss["next_run"][:16] in scheduled[0], (scheduled, rss)
    returncode, _ = second.terminate(timeout=grace + SETTLE_SECONDS + 10)
    assert returncode == 0
    assert_archive_whole(archive)


# -- a hung crawl -------------------------------------------------------------------------------

def test_hung_crawl_is_killed_and_recorded(daemon_site, tmp_path, daemons):
    site = daemon_site
    workdir = tmp_path / "work"
    archive = tmp_path / "archive"
    sources = [feed("hung", site.url("/hang/feed.xml")), feed("site-json", site.url("/feeds/feed.json"))]
    # The limit is the daemon's, for every source: site-json needs a few seconds of it.
    timeout = 8
    config = write_daemon_config(workdir, str(archive), sources, run_timeout=timeout, stop_grace=2)
    # A short TMPDIR of the test's own: a killed crawl left its forkserver's pymp-* directory there.
    temp = Path(tempfile.mkdtemp(prefix="na-test-"))
    daemon = daemons(config, workdir, env={"TMPDIR": str(temp)})
    hung_pid = daemon.wait_lock_held_by_crawl("hung")
    assert {path.name[:9] for path in temp.iterdir()} == {"na-crawl-"}, "each crawl has a temp directory of its own"
    killed = daemon.wait_result("hung", FINISHED, timeout=timeout + 2 + 15)
    assert killed["last_result"] == "killed" and "time limit" in killed["reason"]
    assert killed["consecutive_failures"] == 1
    assert group_members(hung_pid) == [], "nothing of the killed crawl is left"
    record = run_records(open_store(str(archive)))[killed["last_run_id"]]
    assert record["status"] == "failed"
    assert any("time limit" in f["reason"] and f["source"] == "hung" for f in record["failures"])
    # The daemon lives on: healthy, the other source crawled, the killed one backs off.
    assert daemon.proc.poll() is None
    assert daemon.get("/healthz") == (200, "ok\n")
    json_state = daemon.wait_result("site-json", FINISHED)
    assert json_state["last_result"] == "ok", (json_state, daemon.tail())
    samples = daemon.metrics()
    assert metric(samples, "newsarchive_runs_total", source="hung", result="killed") == 1
    assert metric(samples, "newsarchive_source_consecutive_failures", source="hung") == 1
    assert metric(samples, "newsarchive_crawls_running") == 0
    returncode, _ = daemon.terminate(timeout=20)
    assert returncode == 0
    assert_archive_whole(archive)
    left = list(temp.iterdir())
    shutil.rmtree(temp)
    assert left == [], "nothing of the crawls is left in the temp directory"


# -- into S3 ----------------------------------------------------------------------------------------

def test_daemon_archives_into_s3(daemon_site, tmp_path, daemons, s3_server, s3_bucket, s3_env):
    site = daemon_site
    workdir = tmp_path / "work"
    url = f"s3://{s3_bucket}/news"
    sources = [feed("site-rss", site.url("/feeds/rss.xml")), feed("site-atom", site.url("/feeds/atom.xml"))]
    config = write_daemon_config(workdir, url, sources, endpoint_url=s3_server.endpoint_url)
    daemon = daemons(config, workdir, env=s3_server.env())
    states = {s["id"]: daemon.wait_result(s["id"], FINISHED) for s in sources}
    assert {s["last_result"] for s in states.values()} == {"ok"}
    store = open_store(url, endpoint_url=s3_server.endpoint_url)
    articles = article_records(store)
    samples = daemon.metrics()
    assert metric_sum(samples, "newsarchive_articles_total", status="archived") == len(articles) > 0
    assert set(run_records(store)) == {s["last_run_id"] for s in states.values()}
    returncode, _ = daemon.terminate(timeout=20)
    assert returncode == 0
    daemon.log()


# -- config errors and the systemd unit ---------------------------------------------------------------

def test_bad_config_is_a_json_error_naming_file_and_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - id: x\n    kind: feed\n    url: http://127.0.0.1:9/f.xml\n    schedule: every 5s\n")
    result = run_cli("daemon", "--config", str(config), "--log-format", "json", timeout=30)
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and any(f"{config}:5" in line["message"] and "schedule" in line["message"] for line in lines)


def test_systemd_unit_verifies(tmp_path):
    unit = (ROOT / "deploy" / "newsarchive.service").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    # systemd SIGKILLs what is left after TimeoutStopSec: it must outlast the daemon's own stop.
    stop_seconds = int(settings["TimeoutStopSec"])
    assert stop_seconds >= DaemonSettings().stop_grace + SETTLE_SECONDS + 10
    assert settings["KillMode"] == "mixed", "SIGTERM to the daemon only; it stops its crawls itself"
    assert "--metrics-port" in settings["ExecStart"] and "daemon" in settings["ExecStart"].split()
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    newsarchive = Path(sys.executable).parent / "newsarchive"
    assert newsarchive.exists()
    local = re.sub(r"^ExecStart=\S+", f"ExecStart={newsarchive}", unit, flags=re.M)
    (tmp_path / "newsarchive.service").write_text(local, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "newsarchive.service")],
                            capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "newsarchive.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
