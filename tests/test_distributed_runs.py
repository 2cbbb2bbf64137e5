"""Distributed mode's run bookkeeping, on a real Redis: source locks, lost runs,
the run list, spools, retries of failed pages, and the daemon giving up on a run."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from archive.keys import RUNS_PREFIX
from archive.store import StoreError, open_store
from crawler import distributed, runwait
from crawler.extensions.redisrun import FINISH_AFTER_FLUSH_SECONDS
from crawler.redisqueue import pop_job
from tests.conftest import run_cli
from tests.crawl_helpers import add_feed_of_articles, article_page, article_records
from tests.fixture_site.responses import Response
from tests.test_distributed import _one_source_config, _one_source_worker, _start_worker, _stop

RUNS = [f"20261124T00000{n}Z-{n:06x}" for n in range(5)]  # run ids, oldest first
SOURCE = {"id": "s", "kind": "feed", "url": "http://127.0.0.1:9/f.xml", "schedule": "every 1h"}


def _record(client, run_id: str) -> None:
    """A worker's end of a drained run: claimed, its record written (past the run's start)."""
    run = distributed.finish_run(client, run_id, even_if_starting=True)
    assert run is not None
    distributed.record_written(client, run)


def _redis_only_config(path: Path, redis_url: str, sources: list[dict] | None = None, **daemon) -> Path:
    path.write_text(yaml.safe_dump({
        "archive": {"url": str(path.parent / "archive")},
        "sources": sources or [SOURCE],
        "daemon": {"state_dir": str(path.parent / "state"), **daemon},
        "distributed": {"redis_url": redis_url},
    }), encoding="utf-8")
    return path


# -- one run of a source at a time -------------------------------------------------

def test_a_source_busy_in_an_open_run_is_left_out_until_the_run_finishes(redis_server):
    # Two open runs of one source shared its source-run key: one run's counts went to the other.
    client = distributed.redis_client(redis_server.url)
    other = {**SOURCE, "id": "t"}
    assert distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60) == []
    assert distributed.enqueue_crawl(client, RUNS[2], [SOURCE, other], busy_for=60) == ["s"]
    assert json.loads(client.hget(distributed.run_key(RUNS[2]), "sources")) == ["t"]
    assert distributed.source_run(client, "s") == RUNS[1], "the open run keeps its source"
    assert distributed.finish_run(client, RUNS[1], even_if_starting=True) is not None
    assert distributed.enqueue_crawl(client, RUNS[3], [SOURCE], busy_for=60) == ["s"], "locked until its record is written"
    distributed.record_written(client, distributed.assemble_run(client, RUNS[1]))
    assert distributed.enqueue_crawl(client, RUNS[3], [SOURCE], busy_for=60) == [], "recorded: free again"
    assert distributed.source_run(client, "s") == RUNS[3]


def test_a_run_that_never_drains_locks_its_source_for_busy_for_only(redis_server):
    client = distributed.redis_client(redis_server.url)
    assert distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=1) == []
    assert distributed.enqueue_crawl(client, RUNS[2], [SOURCE], busy_for=1) == ["s"]
    time.sleep(1.3)
    assert distributed.enqueue_crawl(client, RUNS[3], [SOURCE], busy_for=60) == []
    # The old run, finished late, does not unlock the source of the new one.
    _record(client, RUNS[1])
    assert distributed.busy_source_run(client, "s") == RUNS[3]


def test_crawl_skips_a_busy_source_and_exits_3_when_all_are(redis_server, tmp_path):
    other = {**SOURCE, "id": "t"}
    config = _redis_only_config(tmp_path / "c.yaml", redis_server.url, [SOURCE, other])
    first = run_cli("crawl", "s", "--config", str(config))
    assert first.returncode == 0, first.stderr
    both = run_cli("crawl", "--config", str(config))
    assert both.returncode == 0, both.stderr
    assert "skipped s: its run" in " ".join(both.stderr.split()) and "still open" in both.stderr
    assert "enqueued run" in both.stdout and "for t" in both.stdout
    again = run_cli("crawl", "--config", str(config))
    assert again.returncode == 3, (again.stdout, again.stderr)
    assert again.stderr.count("still open") == 2, again.stderr


def test_crawl_says_so_when_redis_cannot_be_reached(tmp_path):
    from tests.services import free_port

    config = _redis_only_config(tmp_path / "c.yaml", f"redis://127.0.0.1:{free_port()}/0")
    result = run_cli("crawl", "--config", str(config))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "nothing enqueued: Redis cannot be reached" in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr


# -- the list of open runs ---------------------------------------------------------

def test_open_runs_are_listed_from_their_set_and_ended_ones_pruned(redis_server):
    client = distributed.redis_client(redis_server.url)
    for n in (1, 2, 3):
        distributed.enqueue_crawl(client, RUNS[n], [{**SOURCE, "id": f"s{n}"}], busy_for=60)
    _record(client, RUNS[1])
    client.delete(distributed.run_key(RUNS[2]))  # expired, or lost
    assert distributed.open_runs(client) == [RUNS[3]]
    assert client.smembers(distributed.OPEN_RUNS_KEY) == {RUNS[3]}
    # A lost run is not made again by finishing it (its hash would never expire).
    assert distributed.finish_run(client, RUNS[2], even_if_starting=True) is None
    assert not client.exists(distributed.run_key(RUNS[2]))


def test_a_run_is_not_finished_as_it_starts(redis_server):
    # A worker's load reaches Redis at its next heartbeat: a run whose job was
    # just taken looked drained, and another worker recorded it empty.
    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    assert distributed.finish_run(client, RUNS[1]) is None, "just enqueued"
    client.delete(distributed.run_key(RUNS[1], distributed.STARTING))
    assert json.loads(pop_job(client))["run_id"] == RUNS[1], "a worker takes its job"
    assert distributed.finish_run(client, RUNS[1]) is None, "its job just taken"
    assert 0 < client.ttl(distributed.run_key(RUNS[1], distributed.STARTING)) <= distributed.STARTING_SECONDS
    client.delete(distributed.run_key(RUNS[1], distributed.STARTING))
    assert distributed.finish_run(client, RUNS[1]) is not None


def test_a_run_whose_record_could_not_be_written_is_finished_again(redis_server):
    # The finisher's write failed (refused, the spool full) or it died: the run
    # had left the open set, no record was ever written and the source stayed locked.
    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    assert distributed.finish_run(client, RUNS[1], even_if_starting=True) is not None
    assert distributed.finish_run(client, RUNS[1], even_if_starting=True) is None, "one finisher at a time"
    assert distributed.open_runs(client) == [RUNS[1]]
    distributed.unfinish_run(client, RUNS[1])  # its write failed
    assert distributed.finish_run(client, RUNS[1], even_if_starting=True) is not None
    client.delete(distributed.run_key(RUNS[1], "finishing"))  # the claim of a finisher killed midway lapses
    run = distributed.finish_run(client, RUNS[1], even_if_starting=True)
    distributed.record_written(client, run)
    assert distributed.open_runs(client) == [] and distributed.busy_source_run(client, "s") is None
    assert distributed.finish_run(client, RUNS[1], even_if_starting=True) is None, "recorded once"


def test_an_enqueue_that_fails_midway_leaves_no_source_locked(redis_server, monkeypatch):
    import redis

    client = distributed.redis_client(redis_server.url)

    def broken(*args, **kwargs):
        raise redis.ConnectionError("gone midway")

    monkeypatch.setattr(distributed, "_push_jobs", broken)
    with pytest.raises(redis.ConnectionError):
        distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=3600)
    assert distributed.busy_source_run(client, "s") is None


def _late_pipelines(client, monkeypatch, late):
    """client.pipeline, each transaction's execute() wrapped by ``late`` (given the real one)."""
    pipeline = client.pipeline

    def slow_pipeline(*args, **kwargs):
        pipe = pipeline(*args, **kwargs)
        execute = pipe.execute
        pipe.execute = lambda *a, **k: late(execute, *a, **k)
        return pipe

    monkeypatch.setattr(client, "pipeline", slow_pipeline)


def test_an_enqueue_redis_answered_too_late_is_enqueued_and_keeps_its_sources_locked(redis_server, monkeypatch):
    # The transaction applied, its answer timed out: "nothing enqueued", the source unlocked,
    # and the run queued all the same (the daemon wrote a failed record of a run the workers crawled).
    monkeypatch.setattr(distributed, "REDIS_TIMEOUT_SECONDS", 0.5)
    client = distributed.redis_client(redis_server.url)

    def during_a_stall(execute, *args, **kwargs):
        stall = stall_redis(redis_server.url, 0.8)
        try:
            return execute(*args, **kwargs)
        finally:
            stall.join()

    _late_pipelines(client, monkeypatch, during_a_stall)
    assert distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=3600) == []
    monkeypatch.undo()
    assert client.llen(distributed.JOBS_KEY) == 1 and distributed.busy_source_run(client, "s") == RUNS[1]
    assert distributed.enqueue_crawl(client, RUNS[2], [SOURCE], busy_for=3600) == ["s"], "its next run waits"


def test_an_enqueue_given_up_on_can_no_longer_apply(redis_server, monkeypatch):
    # Sent but not yet run when its answer timed out, the transaction must not apply after
    # the source was freed and `crawl` said nothing was enqueued.
    import redis

    client = distributed.redis_client(redis_server.url)
    on_its_way = redis.Redis.from_url(redis_server.url).pipeline()  # its link, still open in Redis

    def unanswered(execute, *args, **kwargs):
        sent = execute.__self__
        assert sent.watching, "the enqueue's transaction watches its fence"
        on_its_way.watch(distributed.run_key(RUNS[1], distributed.ENQUEUE_FENCE))
        on_its_way.multi()
        for command, options in sent.command_stack:
            on_its_way.execute_command(*command, **options)
        raise redis.TimeoutError("Timeout reading from socket")

    _late_pipelines(client, monkeypatch, unanswered)
    with pytest.raises(redis.TimeoutError):
        distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=3600)
    assert distributed.busy_source_run(client, "s") is None
    with pytest.raises(redis.WatchError):
        on_its_way.execute()  # it reaches Redis now
    assert client.llen(distributed.JOBS_KEY) == 0 and not client.exists(distributed.run_key(RUNS[1]))


def test_an_enqueue_whose_outcome_redis_cannot_tell_keeps_its_sources_locked(redis_server, monkeypatch, capsys):
    import redis

    from crawler.cli import enqueue_and_wait

    client = distributed.redis_client(redis_server.url)

    def gone(*args, **kwargs):
        raise redis.ConnectionError("Connection reset by peer")

    _late_pipelines(client, monkeypatch, gone)
    monkeypatch.setattr(client, "eval", gone)
    with pytest.raises(distributed.EnqueueUnknown, match=f"whether run {RUNS[1]} was enqueued"):
        distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=3600)
    assert distributed.busy_source_run(client, "s") == RUNS[1], "it may be queued: locked for busy_for at most"
    assert 0 < client.ttl(distributed.source_busy_key("s")) <= 3600

    def unknown(*args):
        raise distributed.EnqueueUnknown(f"Redis did not answer whether run {RUNS[2]} was enqueued (gone)")

    monkeypatch.setattr("crawler.runner.enqueue_sources", unknown)
    config = SimpleNamespace(daemon=SimpleNamespace(run_timeout=3600))
    assert enqueue_and_wait(config, [SimpleNamespace(id="s")], RUNS[2], wait=True, timeout=10) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "it may be queued for the workers" in said and "nothing enqueued" not in said, said


def test_the_daemon_frees_the_sources_of_a_run_redis_never_held(redis_server):
    client = distributed.redis_client(redis_server.url)
    client.set(distributed.source_busy_key("s"), RUNS[1], ex=3600)
    assert distributed.crawl_given_up(client, RUNS[1], ["s"], stopping=False) == (False, None)
    assert distributed.busy_source_run(client, "s") is None


# -- a worker's counts ----------------------------------------------------------------

class RoundTrips:
    """A Redis client that counts its round trips (a command, a pipeline, a script: one each)."""

    def __init__(self, client) -> None:
        self.client, self.trips = client, 0

    def __getattr__(self, name: str):
        attribute = getattr(self.client, name)
        if name == "pipeline":
            def pipeline(*args, **kwargs):
                pipe = attribute(*args, **kwargs)
                execute = pipe.execute

                def counted(*a, **k):
                    self.trips += 1
                    return execute(*a, **k)

                pipe.execute = counted
                return pipe
            return pipeline
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self.trips += 1
            return attribute(*args, **kwargs)
        return call


def test_each_outcome_costs_one_round_trip_and_counts_stay_exact(redis_server):
    # The source's run was looked up before every count, and an item's three
    # counts went in one by one: four round trips for one article.
    from datetime import datetime, timezone

    from scrapy.exceptions import DropItem

    from archive.runs import Failure
    from crawler.extensions.redisrun import RedisRunExtension
    from crawler.items import ArticlePage
    from crawler.pipelines.record import DuplicateArticle

    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    counted = RoundTrips(client)
    extension = RedisRunExtension(None, counted, spool_wait=0)

    def page(n: int, **fields) -> ArticlePage:
        return ArticlePage(source="s", url=f"http://127.0.0.1:9/{n}", body=b"", content_type=None,
                           fetched=datetime.now(timezone.utc), categories=[], **fields)

    outcomes = [
        lambda: extension.item_scraped(page(1, status="archived", images_stored=[{"bytes": 10}, {"bytes": 5}])),
        lambda: extension.item_scraped(page(2, status="archived")),
        lambda: extension.item_scraped(page(3, status="updated", images_stored=[{"bytes": 7}])),
        lambda: extension.item_dropped(page(4), DuplicateArticle("again")),
        lambda: extension.item_dropped(page(5), DropItem("no article text")),
        lambda: extension.item_error(page(6), None),
        lambda: extension.fetch_failed("http://127.0.0.1:9/i.png", "HTTP 404", "s", "image", article_url="http://127.0.0.1:9/1"),
        lambda: extension.article_skipped("http://127.0.0.1:9/7", "s"),
        lambda: extension.article_skipped("http://127.0.0.1:9/8", "s", status="unchanged"),
    ]
    for outcome in outcomes:
        counted.trips = 0
        outcome()
        assert counted.trips == 1
    run = distributed.assemble_run(client, RUNS[1])
    expected = {"archived": 2, "updated": 1, "duplicates": 1, "failed": 2, "images_stored": 3, "image_bytes": 22,
                "images_failed": 1, "skipped": 1, "unchanged": 1}
    assert {counter: n for counter, n in run.counts.items() if n} == expected
    assert {counter: n for counter, n in run.per_source["s"].items() if n} == expected
    assert [(f.kind, f.reason) for f in run.failures] == [
        ("article", "no article text"), ("store", "could not archive: pipeline error"), ("image", "HTTP 404")]
    assert run.failures[2] == Failure(url="http://127.0.0.1:9/i.png", reason="HTTP 404", source="s", kind="image",
                                      article_url="http://127.0.0.1:9/1")
    # A source of no open run: nothing counted, still one round trip.
    keys = set(client.scan_iter("*"))
    counted.trips = 0
    extension.article_skipped("http://127.0.0.1:9/9", "nobody")
    assert counted.trips == 1 and set(client.scan_iter("*")) == keys
    assert distributed.assemble_run(client, RUNS[1]).counts == run.counts


# -- the cluster's load ----------------------------------------------------------------

def test_cluster_state_counts_a_spool_shared_by_two_workers_once(redis_server):
    client = distributed.redis_client(redis_server.url)
    distributed.set_worker_state(client, "a-1", 2, "host-a:/state/spool/x", 5)
    distributed.set_worker_state(client, "a-2", 0, "host-a:/state/spool/x", 5)
    distributed.set_worker_state(client, "b-1", 1, "host-b:/state/spool/x", 3)
    state = distributed.cluster_state(client)
    assert (state.workers, state.busy, state.spooled, state.queued) == (3, 3, 8, 0)
    assert not state.idle
    for worker in ("a-1", "b-1"):
        distributed.set_worker_state(client, worker, 0, f"{worker}:spool", 0)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    state = distributed.cluster_state(client)
    assert state.busy == 0 and state.queued == 1 and not state.idle


def test_runs_wait_for_spooled_writes_at_most_spool_wait():
    from crawler.extensions.redisrun import FINISH_AFTER_FLUSH_SECONDS, run_may_finish

    flushed = distributed.DRAIN_QUIET_SECONDS + FINISH_AFTER_FLUSH_SECONDS
    assert not run_may_finish(flushed - 0.1, 0, 30)
    assert run_may_finish(flushed, 0, 30)
    assert not run_may_finish(flushed + 29, 4, 30), "writes wait in a spool: the store may come back"
    assert run_may_finish(flushed + 30, 4, 30)


# -- crawl --wait ----------------------------------------------------------------------

def test_wait_for_run_says_when_redis_lost_the_run(redis_server):
    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    flush = threading.Timer(1.0, client.flushall)
    flush.start()
    started = time.monotonic()
    with pytest.raises(runwait.RunLost, match=f"no longer holds run {RUNS[1]}"):
        runwait.wait_for_run(client, RUNS[1], timeout=60, poll=0.1)
    assert time.monotonic() - started < 30, "said at once, not at the timeout"


def test_wait_for_run_warns_once_that_no_worker_runs(redis_server, monkeypatch):
    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    monkeypatch.setattr(runwait, "NO_WORKER_WARNING_SECONDS", 0.3)
    warnings: list[str] = []
    assert runwait.wait_for_run(client, RUNS[1], timeout=1.5, poll=0.1, warn=warnings.append) is None
    assert len(warnings) == 1 and "no worker has reported" in warnings[0], warnings
    # With a worker alive, nothing to say.
    distributed.set_worker_state(client, "w-1", 0, "w-1:spool", 0)
    warnings.clear()
    runwait.wait_for_run(client, RUNS[1], timeout=1.0, poll=0.1, warn=warnings.append)
    assert warnings == []


def test_wait_for_run_keeps_asking_while_redis_is_down(redis_server):
    client = distributed.redis_client(redis_server.url)
    distributed.enqueue_crawl(client, RUNS[1], [SOURCE], busy_for=60)
    distributed.record_written(client, distributed.finish_run(client, RUNS[1], even_if_starting=True))
    client.save()  # the test's Redis keeps nothing across a restart otherwise; a persistent one would
    redis_server.stop()
    warnings: list[str] = []
    restart = threading.Timer(1.5, redis_server.start)
    restart.start()
    try:
        run = runwait.wait_for_run(client, RUNS[1], timeout=30, poll=0.1, warn=warnings.append)
    finally:
        restart.join()
    assert run is not None and run.run_id == RUNS[1]
    assert len(warnings) == 1 and "Redis cannot be reached" in warnings[0], warnings


@pytest.fixture
def hung_redis():
    """A URL where something accepts TCP connections and never answers (a hung Redis, a half-open link)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in [*held, listener]:
        connection.close()


def test_wait_for_run_gives_up_on_a_redis_that_never_answers(hung_redis, monkeypatch):
    # The client had no socket timeout: `crawl --wait` (and so the daemon's
    # run) hung on the first call for good, whatever its --wait-timeout.
    monkeypatch.setattr(distributed, "REDIS_TIMEOUT_SECONDS", 0.5)
    client = distributed.redis_client(hung_redis)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.5
    warnings: list[str] = []
    started = time.monotonic()
    assert runwait.wait_for_run(client, RUNS[1], timeout=1.0, poll=0.1, warn=warnings.append) is None
    assert time.monotonic() - started < 1.0 + 0.5 + 1.5, "at most one unanswered call past its own timeout"
    assert len(warnings) == 1 and "does not answer" in warnings[0], warnings


def stall_redis(url: str, seconds: float) -> threading.Thread:
    """Redis busy for ``seconds`` (a slow script, a fork for BGSAVE): what is asked meanwhile
    is answered after. Join the thread returned."""
    import redis

    script = ("local t0 = redis.call('TIME') local s = t0[1] + t0[2] / 1e6 "
              "repeat local t = redis.call('TIME') until t[1] + t[2] / 1e6 - s >= tonumber(ARGV[1]) return 1")
    thread = threading.Thread(target=redis.Redis.from_url(url).eval, args=(script, 0, seconds))
    thread.start()
    time.sleep(0.1)
    return thread


def worker_redis(url: str):
    """A client as scrapy-redis makes them for a worker (its queue, duplicate filter, jobs)."""
    from scrapy.settings import Settings
    from scrapy_redis.connection import get_redis_from_settings

    return get_redis_from_settings(Settings(distributed.scrapy_redis_settings(url)))


def test_the_workers_scrapy_redis_clients_give_up_as_ours_do(redis_server, monkeypatch):
    # scrapy-redis' clients kept its retry_on_timeout: a hung Redis cost two timeouts, and
    # a slow answer ran the Lua step again (a second job popped, a request counted twice).
    import redis

    monkeypatch.setattr(distributed, "REDIS_TIMEOUT_SECONDS", 0.5)
    for client in (worker_redis(redis_server.url), distributed.redis_client(redis_server.url)):
        client.ping()  # connected, as a running worker's are
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.5
        assert not kwargs.get("retry_on_timeout") and kwargs["retry"].get_retries() == 0
        stall = stall_redis(redis_server.url, 2.0)
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.incr("asked")
        took = time.monotonic() - started
        stall.join()
        assert took < 0.5 + 0.3, f"gave up after {took:.1f}s, not once after 0.5 s"
        assert client.get("asked") in (None, "1", b"1"), "not run again"
        client.delete("asked")


# -- failed pages, retried by the next run ------------------------------------------

def test_a_page_that_failed_in_a_distributed_run_is_retried_by_the_next(site, s3_server, s3_bucket, s3_env, redis_server,
                                                                         tmp_path):
    # Local crawls ask again for the pages that failed last run, even once no
    # feed lists them; workers asked for nothing.
    phase = [1]

    def page(n: int) -> Response:
        if n == 1 and phase[0] == 1:
            return Response(503, b"overloaded", "text/plain")
        return Response(200, article_page(f"Retried {n}"), "text/html; charset=utf-8")

    # The failed page drops off the feed.
    urls = add_feed_of_articles(site, "/dist-retry", 2, page=page, listed=lambda: 2 if phase[0] == 1 else 1)
    source = {"id": "retried", "kind": "feed", "url": site.url("/dist-retry/feed.xml")}
    config, env, worker, store = _one_source_worker(source, s3_server, s3_bucket, redis_server, tmp_path)
    try:
        first = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", env=env, timeout=180)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        assert sorted(article_records(store)) == urls[:1]
        phase[0] = 2
        second = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", env=env, timeout=180)
        assert second.returncode == 0, second.stdout + second.stderr[-3000:]
        assert sorted(article_records(store)) == sorted(urls), (tmp_path / "worker.log").read_text()[-3000:]
        runs = sorted((json.loads(store.get(k)) for k in store.list(RUNS_PREFIX)), key=lambda run: run["run_id"])
        assert [failure["url"] for failure in runs[0]["failures"]] == [urls[1]]
        assert runs[1]["counts"]["archived"] == 1 and runs[1]["failures"] == []
    finally:
        _stop(worker, signal.SIGKILL)


# -- a store that goes away ----------------------------------------------------------

def test_a_worker_writes_its_spool_once_the_store_is_back_without_another_run(site, own_s3, redis_server, tmp_path, monkeypatch):
    # A worker between runs wrote nothing, so nothing replayed its spool: the
    # run's articles waited there until the next run, which might be days off.
    urls = add_feed_of_articles(site, "/dist-spool", 3)
    source = {"id": "spooled", "kind": "feed", "url": site.url("/dist-spool/feed.xml")}
    config = _one_source_config(tmp_path / "c.yaml", source, "outage", own_s3.endpoint_url, redis_server.url, tmp_path / "state")
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["crawl"]["spool_wait"] = 2
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    for name, value in own_s3.env().items():
        monkeypatch.setenv(name, value)
    env = dict(os.environ)
    worker = _start_worker(config, env, tmp_path / "worker.log")
    client = distributed.redis_client(redis_server.url)
    store = open_store("s3://outage/dist", endpoint_url=own_s3.endpoint_url)
    try:
        deadline = time.monotonic() + 60
        while distributed.cluster_state(client).workers == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        own_s3.stop()
        record_file = tmp_path / "run.json"
        crawl = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", "--run-record-file", str(record_file),
                        env=env, timeout=180)
        assert crawl.returncode == 0, crawl.stdout + crawl.stderr[-3000:]
        run = json.loads(record_file.read_text(encoding="utf-8"))
        assert run["status"] == "completed" and run["spool_pending"] >= 3, run
        assert "writes wait in the local spool" in " ".join(crawl.stdout.split())
        own_s3.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if len(article_records(store)) == 3 and list(store.list(RUNS_PREFIX)):
                    break
            except StoreError:
                pass  # still starting
            time.sleep(1)
        assert sorted(article_records(store)) == sorted(urls), (tmp_path / "worker.log").read_text()[-3000:]
        assert [json.loads(store.get(k))["run_id"] for k in store.list(RUNS_PREFIX)] == [run["run_id"]]
        assert not list((tmp_path / "state" / "spool").rglob("*.op")), "the spool is empty"
    finally:
        _stop(worker, signal.SIGKILL)


# -- the daemon gives up on a run ----------------------------------------------------

def test_a_run_the_daemon_gave_up_on_has_one_record_not_two(site, redis_server, tmp_path):
    # The daemon wrote "killed" for a distributed run its child stopped waiting
    # for, and the workers later wrote "completed" for the same run id: the
    # two records overwrote each other, in whichever order they came.
    from tests.test_daemon import DaemonProcess, wait_for

    add_feed_of_articles(site, "/dist-gaveup", 2)
    workdir = tmp_path / "daemon"
    workdir.mkdir()
    source = {"id": "late", "kind": "feed", "url": site.url("/dist-gaveup/feed.xml"), "schedule": "every 1h"}
    config = _redis_only_config(workdir / "newsarchive.yaml", redis_server.url, [source], jitter=0, run_timeout=4, stop_grace=5)
    daemon = DaemonProcess(config, workdir).start()  # no worker yet: the run cannot drain
    worker = None
    try:
        state = daemon.wait_result("late", ("killed",), timeout=60)
        archive = open_store(str(workdir / "archive"))
        records = [json.loads(archive.get(key)) for key in archive.list(RUNS_PREFIX)]
        assert [(r["run_id"], r["status"]) for r in records] == [(state["last_run_id"], "failed")]
        assert "killed" in records[0]["failures"][0]["reason"]
        client = distributed.redis_client(redis_server.url)
        assert client.hget(distributed.run_key(state["last_run_id"]), "written") == "1"
        assert distributed.busy_source_run(client, "late") is None, "the source is free for its next run"
        # A worker now crawls the run's job: its articles are archived, and the daemon's record stands.
        worker = _start_worker(config, dict(os.environ), tmp_path / "worker.log")
        wait_for(lambda: len(article_records(archive)) == 2, 90, "the worker to archive the late articles")
        # Well past the point a drained run's record is written (quiet, flush, then finish).
        time.sleep(distributed.DRAIN_QUIET_SECONDS + FINISH_AFTER_FLUSH_SECONDS + 6)
        again = [json.loads(archive.get(key)) for key in archive.list(RUNS_PREFIX)]
        assert [(r["run_id"], r["status"]) for r in again] == [(state["last_run_id"], "failed")], again
    finally:
        daemon.kill_all()
        if worker is not None:
            _stop(worker, signal.SIGKILL)
