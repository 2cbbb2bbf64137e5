"""Distributed mode on Redis (scrapy-redis): the job protocol and run bookkeeping.

``crawl SOURCE`` (or the daemon) pushes one job per source onto a Redis
list; ``newsarchive worker`` processes on any number of machines pop jobs,
share Scrapy's request queue in Redis, and write to the same bucket. Each
run's counts and failures are kept in Redis; the worker that sees a run
drained writes its run record to the archive.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from archive.records import utc_iso
from archive.runs import COUNTERS, Failure, RunRecord, start_run

JOBS_KEY = "newsarchive:jobs"
QUEUE_KEY = "newsarchive:requests"  # scrapy-redis' shared scheduler queue
RUN_PREFIX = "newsarchive:run:"
WORKER_PREFIX = "newsarchive:worker:"
# A worker reports itself busy for this long; one killed stops counting after it.
WORKER_TTL_SECONDS = 15
# A run is drained when nothing is queued or in flight for this long.
DRAIN_QUIET_SECONDS = 3.0
RUN_TTL_SECONDS = 14 * 86400


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


def scrapy_redis_settings(redis_url: str) -> dict[str, Any]:
    """Scheduler and duplicate filter in Redis, shared by every worker."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_KEY": QUEUE_KEY,
        "SCHEDULER_DUPEFILTER_KEY": "newsarchive:dupefilter",
        # Never flush the shared queue when one worker stops.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        "REDIS_START_URLS_KEY": JOBS_KEY,
    }


def run_key(run_id: str, part: str = "") -> str:
    return f"{RUN_PREFIX}{run_id}{':' + part if part else ''}"


def enqueue_crawl(client, run_id: str, sources: list[dict]) -> None:
    """One job per source; the run's bookkeeping is created first so no worker misses it."""
    now = utc_iso(datetime.now(timezone.utc))
    with client.pipeline() as pipe:
        pipe.hset(run_key(run_id), mapping={"started": now, "sources": json.dumps([s["id"] for s in sources]), "jobs": len(sources)})
        pipe.expire(run_key(run_id), RUN_TTL_SECONDS)
        for source in sources:
            pipe.set(f"newsarchive:source:{source['id']}", json.dumps(source, ensure_ascii=False))
            pipe.set(f"newsarchive:source-run:{source['id']}", run_id)
            pipe.rpush(JOBS_KEY, json.dumps({"run_id": run_id, "source": source}, ensure_ascii=False))
        pipe.execute()


def count(client, run_id: str, source: str | None, counter: str, n: int = 1) -> None:
    if not n:
        return
    with client.pipeline() as pipe:
        pipe.hincrby(run_key(run_id, "counts"), counter, n)
        if source:
            pipe.hincrby(run_key(run_id, "per_source"), f"{source}\t{counter}", n)
        pipe.expire(run_key(run_id, "counts"), RUN_TTL_SECONDS)
        pipe.expire(run_key(run_id, "per_source"), RUN_TTL_SECONDS)
        pipe.execute()


def record_failure(client, run_id: str, failure: Failure) -> None:
    client.rpush(run_key(run_id, "failures"), json.dumps(asdict(failure), ensure_ascii=False))
    client.expire(run_key(run_id, "failures"), RUN_TTL_SECONDS)
    count(client, run_id, failure.source, "images_failed" if failure.kind == "image" else "failed")


def mark_blocked(client, run_id: str, source: str, reason: str) -> None:
    client.hset(run_key(run_id, "blocked"), source, reason)
    client.expire(run_key(run_id, "blocked"), RUN_TTL_SECONDS)  # as every key of a run: none is kept forever


def claim_article(client, run_id: str, article_id: str) -> bool:
    """True for the first worker to ask for an article in a run: no page is fetched twice."""
    added = client.sadd(run_key(run_id, "articles"), article_id)
    client.expire(run_key(run_id, "articles"), RUN_TTL_SECONDS)
    return bool(added)


def set_worker_busy(client, worker_id: str, in_flight: int) -> None:
    client.set(f"{WORKER_PREFIX}{worker_id}", in_flight, ex=WORKER_TTL_SECONDS)


def busy_workers(client) -> int:
    total = 0
    for key in client.scan_iter(f"{WORKER_PREFIX}*"):
        value = client.get(key)
        total += int(value or 0)
    return total


def is_drained(client) -> bool:
    """Nothing waits and nothing is in flight anywhere."""
    return client.llen(JOBS_KEY) == 0 and client.zcard(QUEUE_KEY) == 0 and busy_workers(client) == 0


def assemble_run(client, run_id: str) -> RunRecord:
    info = client.hgetall(run_key(run_id))
    run = start_run(run_id, json.loads(info.get("sources", "[]")))
    run.counts = {counter: 0 for counter in COUNTERS}
    for counter, value in client.hgetall(run_key(run_id, "counts")).items():
        run.counts[counter] = int(value)
    for field, value in client.hgetall(run_key(run_id, "per_source")).items():
        source, counter = field.split("\t", 1)
        run.per_source.setdefault(source, {c: 0 for c in COUNTERS})[counter] = int(value)
    run.failures = [Failure(**json.loads(raw)) for raw in client.lrange(run_key(run_id, "failures"), 0, -1)]
    run.blocked = client.hgetall(run_key(run_id, "blocked"))
    run.finished = info.get("finished")
    run.status = "completed" if run.finished else "running"
    return run


def open_runs(client) -> list[str]:
    runs = []
    for key in client.scan_iter(f"{RUN_PREFIX}*"):
        rest = key[len(RUN_PREFIX):]
        if ":" not in rest and not client.hget(key, "finished"):
            runs.append(rest)
    return sorted(runs)


def finish_run(client, run_id: str) -> RunRecord | None:
    """Mark a drained run finished; the one caller that wins gets the record to write."""
    now = utc_iso(datetime.now(timezone.utc))
    if not client.hsetnx(run_key(run_id), "finished", now):
        return None
    return assemble_run(client, run_id)


def wait_for_run(client, run_id: str, timeout: float, poll: float = 0.5) -> RunRecord | None:
    """Until a worker has finished the run (its record written), or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.hget(run_key(run_id), "written"):
            return assemble_run(client, run_id)
        time.sleep(poll)
    return None


def source_config(client, source_id: str) -> dict | None:
    raw = client.get(f"newsarchive:source:{source_id}")
    return json.loads(raw) if raw else None


def source_run(client, source_id: str) -> str | None:
    return client.get(f"newsarchive:source-run:{source_id}")
