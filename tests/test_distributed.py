"""Distributed mode: real Redis, two worker processes, one SeaweedFS bucket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from archive.keys import RUNS_PREFIX
from archive.store import open_store
from tests.conftest import ROOT, run_cli
from tests.crawl_helpers import add_feed_of_articles, article_page, article_records, site_sources
from tests.fixture_site import ARTICLES


def _config(path: Path, site, bucket: str, endpoint: str, redis_url: str, state: Path) -> Path:
    config = {
        "archive": {"url": f"s3://{bucket}/dist", "endpoint_url": endpoint},
        "crawl": {"download_delay": 0.5, "concurrency": 2, "extract_workers": 1},
        "sources": site_sources(site, lastmod_days=3650),
        "daemon": {"state_dir": str(state)},
        "distributed": {"redis_url": redis_url},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _start_worker(config: Path, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler", "worker", "--config", str(config)], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def cluster(site, s3_server, s3_bucket, s3_env, redis_server, tmp_path):
    env = {**os.environ, **s3_server.env()}
    configs = [
        _config(tmp_path / f"worker{i}.yaml", site, s3_bucket, s3_server.endpoint_url, redis_server.url, tmp_path / f"state{i}")
        for i in (1, 2)
    ]
    admin = _config(tmp_path / "admin.yaml", site, s3_bucket, s3_server.endpoint_url, redis_server.url, tmp_path / "state-admin")
    workers = [_start_worker(c, env, tmp_path / f"worker{i}.log") for i, c in enumerate(configs, 1)]
    store = open_store(f"s3://{s3_bucket}/dist", endpoint_url=s3_server.endpoint_url)
    yield admin, env, workers, store, tmp_path
    for worker in workers:
        _stop(worker, signal.SIGKILL)


def _warc_run_prefixes(store) -> set[str]:
    return {key.rsplit("/", 1)[-1].rsplit("-", 1)[0] for key in store.list("warc/") if key.endswith(".warc.gz")}


def test_two_workers_archive_every_article_once(site, cluster):
    admin, env, workers, store, _tmp = cluster
    result = run_cli("crawl", "--config", str(admin), "--wait", "--wait-timeout", "240", env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    records = article_records(store)  # one per canonical URL, or it fails
    assert set(records) == {a.url(site.base_url) for a in ARTICLES}
    runs = [k for k in store.list(RUNS_PREFIX)]
    assert len(runs) == 1, "one run record for the enqueued crawl"
    # Each worker keeps its own WARC files: both did work.
    assert len(_warc_run_prefixes(store)) == 2, "both workers fetched pages"
    for worker in workers:
        assert worker.poll() is None, "workers keep running after the crawl"


def test_a_worker_killed_midway_loses_no_article(site, cluster):
    admin, env, workers, store, _tmp = cluster
    enqueue = run_cli("crawl", "--config", str(admin), env=env)
    assert enqueue.returncode == 0, enqueue.stderr[-2000:]
    time.sleep(2.5)
    _stop(workers[0], signal.SIGKILL)  # whatever it held in flight is lost for this run
    # The survivor drains the run; a second run recovers anything the dead worker held.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(store.list(RUNS_PREFIX)):
        time.sleep(1)
    assert list(store.list(RUNS_PREFIX)), "the surviving worker finished the run"
    again = run_cli("crawl", "--config", str(admin), "--wait", "--wait-timeout", "240", env=env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    records = article_records(store)
    runs = [json.loads(store.get(k)) for k in store.list(RUNS_PREFIX)]
    assert set(records) == {a.url(site.base_url) for a in ARTICLES}, [(r["counts"], r["failures"]) for r in runs]


def _one_source_config(path: Path, source: dict, bucket: str, endpoint: str, redis_url: str, state: Path) -> Path:
    config = {
        "archive": {"url": f"s3://{bucket}/dist", "endpoint_url": endpoint},
        "crawl": {"download_delay": 0, "concurrency": 4, "extract_workers": 1},
        "sources": [source],
        "daemon": {"state_dir": str(state)},
        "distributed": {"redis_url": redis_url},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _one_source_worker(source: dict, s3_server, bucket: str, redis_server, tmp_path: Path):
    """One worker crawling one source into s3://BUCKET/dist: (config, env, worker process, store)."""
    config = _one_source_config(tmp_path / "c.yaml", source, bucket, s3_server.endpoint_url, redis_server.url, tmp_path / "state")
    env = {**os.environ, **s3_server.env()}
    worker = _start_worker(config, env, tmp_path / "worker.log")
    return config, env, worker, open_store(f"s3://{bucket}/dist", endpoint_url=s3_server.endpoint_url)


def test_a_worker_archives_the_changes_of_its_second_run_and_outlives_a_redis_restart(site, s3_server, s3_bucket, s3_env, redis_server,
                                                                                       tmp_path):
    # One worker, two runs of a source whose articles changed in between
    # (revisited while young): the worker took every article of its second
    # run for a duplicate of the first, and kept the old text. Between the
    # runs Redis restarts: a failed heartbeat used to end the worker's
    # heartbeats for good, and no run finished again.
    from tests.fixture_site.responses import Response

    version = [1]
    urls = add_feed_of_articles(site, "/dist-change", 3, page=lambda n: Response(
        200, article_page(f"Changing {n}", f"of article {n}, version {version[0]}, long enough to count as text"),
        "text/html; charset=utf-8"))
    source = {"id": "changing", "kind": "feed", "url": site.url("/dist-change/feed.xml"), "revisit_days": 36500}
    config, env, worker, store = _one_source_worker(source, s3_server, s3_bucket, redis_server, tmp_path)
    try:
        first = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", env=env, timeout=180)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        redis_server.stop()
        time.sleep(3)  # heartbeats fail meanwhile
        redis_server.start()
        time.sleep(2)
        version[0] = 2
        second = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", env=env, timeout=180)
        assert second.returncode == 0, second.stdout + second.stderr[-3000:] + (tmp_path / "worker.log").read_text()[-3000:]
        records = article_records(store)
        assert sorted(records) == sorted(urls)
        assert all("version 2" in record["text"] for record in records.values()), "the changes are archived"
        runs = sorted((json.loads(store.get(k)) for k in store.list(RUNS_PREFIX)), key=lambda run: run["run_id"])
        assert [run["counts"].get("updated", 0) for run in runs] == [0, 3]
        assert runs[-1]["counts"].get("duplicates", 0) == 0
    finally:
        _stop(worker, signal.SIGKILL)


def test_what_a_killed_worker_held_is_asked_for_by_the_next_run_though_no_feed_lists_it(site, s3_server, s3_bucket, s3_env, redis_server,
                                                                                        tmp_path):
    # The articles a killed worker had in flight came back only while a feed still
    # listed them: the run's record said nothing of them.
    from crawler.distributed import UNSETTLED_CLAIM_REASON
    from tests.fixture_site.responses import Response

    served, listed = [], [8]

    def slow(n):
        served.append(n)
        time.sleep(1.5)  # in flight for a while
        return Response(200, article_page(f"Held {n}", f"of article {n}, long enough to count as the article's text"),
                        "text/html; charset=utf-8")

    urls = add_feed_of_articles(site, "/dist-held", 8, page=slow, listed=lambda: listed[0])
    source = {"id": "held", "kind": "feed", "url": site.url("/dist-held/feed.xml")}
    config, env, worker, store = _one_source_worker(source, s3_server, s3_bucket, redis_server, tmp_path)
    survivor = None
    try:
        enqueue = run_cli("crawl", "--config", str(config), env=env)
        assert enqueue.returncode == 0, enqueue.stderr[-2000:]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(served) < 2:
            time.sleep(0.05)
        assert len(served) >= 2, "the worker fetches the articles"
        _stop(worker, signal.SIGKILL)  # articles in flight
        survivor = _start_worker(config, env, tmp_path / "survivor.log")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(store.list(RUNS_PREFIX)):
            time.sleep(0.5)
        (first_key,) = store.list(RUNS_PREFIX)
        failures = json.loads(store.get(first_key))["failures"]
        lost = {f["url"] for f in failures if f["reason"] == UNSETTLED_CLAIM_REASON}
        assert lost and lost <= set(urls) and lost.isdisjoint(article_records(store)), failures
        listed[0] = 0  # no feed names them any more
        again = run_cli("crawl", "--config", str(config), "--wait", "--wait-timeout", "120", env=env, timeout=180)
        assert again.returncode == 0, again.stdout + again.stderr[-3000:]
        assert set(article_records(store)) == set(urls)
    finally:
        _stop(worker, signal.SIGKILL)
        if survivor is not None:
            _stop(survivor, signal.SIGKILL)


def test_every_redis_key_of_a_run_expires(redis_server):
    # Months of runs must not pile up in Redis: the blocked-sources hash had no expiry.
    from archive.runs import Failure
    from crawler import distributed, runcounts

    client = distributed.redis_client(redis_server.url)
    run_id = "20260101T000000Z-abcdef"
    distributed.enqueue_crawl(client, run_id, [{"id": "s", "kind": "feed", "url": "http://127.0.0.1:9/f.xml", "schedule": "every 1h"}], busy_for=60)
    failure = Failure(url="http://127.0.0.1:9/a", reason="HTTP 500", source="s", kind="article")
    runcounts.count_for_source(client, "s", {"archived": 1}, failure)
    runcounts.claim_article(client, run_id, "a" * 16, "http://127.0.0.1:9/a", "s")
    runcounts.mark_blocked(client, run_id, "s", "WAF challenge")
    keys = [key for key in client.scan_iter(f"*{run_id}*")]
    assert len(keys) >= 6 and distributed.run_key(run_id, "claimed") in keys
    assert all(0 < client.ttl(key) <= distributed.RUN_TTL_SECONDS for key in keys), {k: client.ttl(k) for k in keys}


def test_an_article_a_worker_took_and_nothing_settled_is_a_failure_of_its_run(redis_server):
    # A worker killed with an article in flight (or a pop whose answer was lost) left
    # nothing behind: the run ended without it, and only a feed still listing it
    # brought it back.
    from archive.runs import Failure
    from crawler import distributed, runcounts

    client = distributed.redis_client(redis_server.url)
    run_id = "20260101T000000Z-c1a1e0"
    distributed.enqueue_crawl(client, run_id, [{"id": "s", "kind": "feed", "url": "http://127.0.0.1:9/f.xml", "schedule": "every 1h"}],
                              busy_for=60)
    urls = {name: f"http://127.0.0.1:9/{name}.html" for name in ("archived", "failed", "skipped", "lost")}
    for name, url in urls.items():
        assert runcounts.claim_article(client, run_id, name, url, "s", attempt=2 if name == "lost" else 1)
    assert not runcounts.claim_article(client, run_id, "lost", urls["lost"], "s"), "one worker per article"
    runcounts.count_for_source(client, "s", {"archived": 1}, claimed=runcounts.claim_token(run_id, "archived"))
    runcounts.count_for_source(client, "s", {}, Failure(url=urls["failed"], reason="HTTP 500", source="s", kind="article"),
                               claimed=runcounts.claim_token(run_id, "failed"))
    runcounts.count_for_source(client, "s", {"unchanged": 1}, claimed=runcounts.claim_token(run_id, "skipped"))
    run = distributed.finish_run(client, run_id, even_if_starting=True)
    assert [(f.url, f.kind, f.attempt) for f in run.failures] == [(urls["failed"], "article", 1), (urls["lost"], "article", 2)]
    assert run.failures[1].reason == distributed.UNSETTLED_CLAIM_REASON
    assert run.counts["failed"] == 2 and run.per_source["s"]["failed"] == 2 and run.counts["archived"] == 1

    # The next run asks for it again; a late outcome of the first run's request settles
    # the first run's claim, never the next run's.
    distributed.record_written(client, run)
    next_run = "20260101T010000Z-c1a1e1"
    distributed.enqueue_crawl(client, next_run, [{"id": "s", "kind": "feed", "url": "http://127.0.0.1:9/f.xml", "schedule": "every 1h"}],
                              busy_for=60)
    assert runcounts.claim_article(client, next_run, "lost", urls["lost"], "s", attempt=3)
    runcounts.count_for_source(client, "s", {}, Failure(url=urls["lost"], reason="WAF challenge", source="s", kind="article"),
                               claimed=runcounts.claim_token(run_id, "lost"))
    assert [f.attempt for f in distributed.unsettled_claims(client, next_run)] == [3]


def test_archive_option_cannot_redirect_a_distributed_crawl(tmp_path):
    # The workers write to their own config's archive: `crawl --archive` was silently ignored.
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "archive": {"url": str(tmp_path / "archive")},
        "sources": [{"id": "s", "kind": "feed", "url": "http://127.0.0.1:9/f.xml"}],
        "daemon": {"state_dir": str(tmp_path / "state")},
        "distributed": {"redis_url": "redis://127.0.0.1:9/0"},
    }), encoding="utf-8")
    for command in (["crawl"], ["daemon"]):
        result = run_cli(*command, "--config", str(config), "--archive", str(tmp_path / "elsewhere"))
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "archive of their own config" in " ".join(result.stderr.split()), result.stderr
