"""Distributed mode on Redis (scrapy-redis): the job protocol and run bookkeeping.

``crawl SOURCE`` (or the daemon) pushes one job per source onto a Redis
list; ``newsarchive worker`` processes on any number of machines pop jobs,
share Scrapy's request queue in Redis, and write to the same bucket. Each
run's counts and failures are kept in Redis; the worker that sees a run
drained writes its run record to the archive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from archive.fields import utc_iso
from archive.runs import COUNTERS, Failure, RunRecord, start_run

JOBS_KEY = "newsarchive:jobs"
# scrapy-redis' shared scheduler queue, each request tagged with its run (crawler/redisqueue.py).
QUEUE_KEY = "newsarchive:run-requests"
# The untagged queue of workers before runs drained one by one: what is left in it is still crawled.
LEGACY_QUEUE_KEY = "newsarchive:requests"
RUN_PREFIX = "newsarchive:run:"
# The runs not finished yet: read by every heartbeat, instead of scanning every run's keys.
OPEN_RUNS_KEY = "newsarchive:open-runs"
WORKER_PREFIX = "newsarchive:worker:"
# A source's lock while a run of it is open: two runs of a source at once
# would share its source-run key, and one's counts would go to the other.
SOURCE_BUSY_PREFIX = "newsarchive:source-busy:"
# A worker reports itself busy for this long; one killed stops counting after it.
WORKER_TTL_SECONDS = 15
# A run is drained when none of its jobs or requests is queued or in flight for this long.
DRAIN_QUIET_SECONDS = 3.0
# A run's jobs and requests waiting in Redis: the hash (run_key(run, WAITING)) and its two fields.
WAITING = "waiting"
WAITING_JOBS = "jobs"
WAITING_REQUESTS = "requests"
# The longest run id a queued request can be tagged with (see crawler/redisqueue.py).
MAX_RUN_ID_BYTES = 255
RUN_TTL_SECONDS = 14 * 86400
# A run is not finished this long after it was enqueued or one of its jobs
# taken (run_key(run, STARTING), set in the same step): the worker's load
# reaches Redis at its next heartbeat only, and meanwhile the run looked
# drained. Longer than a heartbeat plus the drain's quiet time.
STARTING = "starting"
STARTING_SECONDS = 8
# A worker finishing a run holds it this long at most (killed midway, another takes over).
FINISH_CLAIM_SECONDS = 60
# Why an article a worker took, and no outcome settled, is a failure of its run (unsettled_claims):
# its worker stopped with it (killed, a pop whose answer was lost), or the run was ended
# first (crawl_given_up) while it still waited in the queue.
UNSETTLED_CLAIM_REASON = "asked for, but not archived when the run ended (its worker stopped, or it still waited); asked for again next run"
# Every Redis call gives up after this long: a Redis that accepts connections
# but never answers (hung, a half-open link) must not stall `crawl --wait` or a
# worker's heartbeat for good. Redis answers in milliseconds when it answers.
# And gives up once (no_retry): a call that timed out may have run all the
# same, and run again a pop would take a second job or request, a push count
# one twice (the pops' callers make up for it: see redisqueue.Taker).
REDIS_TIMEOUT_SECONDS = 5.0
# An enqueue's transaction watches run_key(run, ENQUEUE_FENCE): once asked whether the
# transaction applied (SETTLE_ENQUEUE), one still on its way (sent, its answer timed out)
# fails instead of applying after the answer "no". Only its change counts: it lapses soon.
ENQUEUE_FENCE = "enqueue-fence"
ENQUEUE_FENCE_SECONDS = 60
# Whether an enqueue applied: its run hash is written in the same transaction; if not,
# the fence is touched, so it never will. KEYS: the run hash, the fence. ARGV: its expiry.
SETTLE_ENQUEUE = """
if redis.call('exists', KEYS[1]) == 1 then return 1 end
redis.call('set', KEYS[2], 1, 'EX', ARGV[1])
return 0
"""
# Deletes a lock only while it is still the given run's (another may hold it since it expired).
RELEASE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def no_retry():
    """redis-py's retry policy that never retries (its Redis() retries 10 times by default, a
    timeout too; a client from a URL none, unless the URL asks: retry_on_timeout=true)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_TIMEOUT_SECONDS, retry=no_retry())


def scrapy_redis_settings(redis_url: str) -> dict[str, Any]:
    """Scheduler and duplicate filter in Redis, shared by every worker."""
    return {
        "SCHEDULER": "crawler.redisqueue.RunScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        # Counts each run's queued requests: runs drain one by one (crawler/redisqueue.py).
        "SCHEDULER_QUEUE_CLASS": "crawler.redisqueue.RunQueue",
        "SCHEDULER_QUEUE_KEY": QUEUE_KEY,
        "SCHEDULER_DUPEFILTER_KEY": "newsarchive:dupefilter",
        # scrapy-redis' own clients (queue, duplicate filter, jobs) give up as ours do, not after
        # its 30 s, tried again on a timeout: they are asked on the reactor's thread, which the
        # heartbeat shares, and they run the Lua steps that count (see REDIS_TIMEOUT_SECONDS).
        "REDIS_PARAMS": {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                         "retry_on_timeout": False, "retry": no_retry()},
        # Never flush the shared queue when one worker stops.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        "REDIS_START_URLS_KEY": JOBS_KEY,
    }


def run_key(run_id: str, part: str = "") -> str:
    return f"{RUN_PREFIX}{run_id}{':' + part if part else ''}"


def source_busy_key(source_id: str) -> str:
    return f"{SOURCE_BUSY_PREFIX}{source_id}"


def source_run_key(source_id: str) -> str:
    """The run a source's pages, and their counts, belong to: its open run, or its last."""
    return f"newsarchive:source-run:{source_id}"


class EnqueueUnknown(Exception):
    """Redis did not answer whether a run's jobs went in: its sources stay locked (busy_for at most)."""


def enqueue_crawl(client, run_id: str, sources: list[dict], busy_for: float) -> list[str]:
    """One job per source; returns the ids of the sources left out, busy in an open run.

    A source stays locked to its run until the run finishes, or for
    ``busy_for`` seconds (a run that never drains does not lock it for good).
    The run's bookkeeping is created before its jobs, so no worker misses it.

    A transaction that raised may have applied all the same (its answer came
    too late): Redis is asked (settle_enqueue). Applied, the run is enqueued;
    not, its sources are freed and the error raised; and EnqueueUnknown when
    Redis cannot tell, the sources kept locked (the run may be queued).
    """
    if len(run_id.encode()) > MAX_RUN_ID_BYTES:
        raise ValueError(f"run id {run_id[:40]!r}... is longer than {MAX_RUN_ID_BYTES} bytes")  # see RUN_TAG
    locked = [source for source in sources
              if client.set(source_busy_key(source["id"]), run_id, nx=True, ex=max(1, round(busy_for)))]
    busy = [source["id"] for source in sources if source not in locked]
    if not locked:
        return busy
    try:
        _push_jobs(client, run_id, locked)
    except BaseException:
        if settle_enqueue(client, run_id):
            return busy
        release_sources(client, run_id, [source["id"] for source in locked])  # nothing was enqueued
        raise
    return busy


def settle_enqueue(client, run_id: str) -> bool:
    """Whether the run's enqueue applied; if not, it never will (see ENQUEUE_FENCE).

    Raises EnqueueUnknown when Redis does not answer this either.
    """
    import redis

    try:
        return bool(client.eval(SETTLE_ENQUEUE, 2, run_key(run_id), run_key(run_id, ENQUEUE_FENCE), ENQUEUE_FENCE_SECONDS))
    except redis.RedisError as exc:
        raise EnqueueUnknown(f"Redis did not answer whether run {run_id} was enqueued ({exc})") from exc


def _push_jobs(client, run_id: str, sources: list[dict]) -> None:
    now = utc_iso(datetime.now(timezone.utc))
    with client.pipeline() as pipe:
        pipe.watch(run_key(run_id, ENQUEUE_FENCE))
        pipe.multi()
        pipe.set(run_key(run_id, STARTING), 1, ex=STARTING_SECONDS)
        pipe.hset(run_key(run_id), mapping={"started": now, "sources": json.dumps([s["id"] for s in sources]), "jobs": len(sources)})
        pipe.expire(run_key(run_id), RUN_TTL_SECONDS)
        pipe.sadd(OPEN_RUNS_KEY, run_id)
        # Counted with the jobs, in the same transaction: the run waits for each until a worker takes it.
        pipe.hincrby(run_key(run_id, WAITING), WAITING_JOBS, len(sources))
        pipe.expire(run_key(run_id, WAITING), RUN_TTL_SECONDS)
        for source in sources:
            pipe.set(f"newsarchive:source:{source['id']}", json.dumps(source, ensure_ascii=False))
            pipe.set(source_run_key(source["id"]), run_id)
            pipe.rpush(JOBS_KEY, json.dumps({"run_id": run_id, "source": source}, ensure_ascii=False))
        pipe.execute()


def queued_requests(client) -> int:
    """Requests waiting in the shared queue (asked by each worker's engine again and again: one round trip)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.zcard(QUEUE_KEY)
        pipe.zcard(LEGACY_QUEUE_KEY)
        return sum(pipe.execute())


def runs_waiting(client, run_ids: list[str]) -> dict[str, int | None]:
    """How many jobs and requests of each run wait in Redis; None for a run that counts none.

    A count is only believed while something waits at all: one left behind
    (the queue deleted by hand, a run's hash restored from an old snapshot)
    would keep its run open for good. A run enqueued by an earlier version
    (its jobs never counted: no WAITING_JOBS) counts none, and may still
    have jobs, or requests in LEGACY_QUEUE_KEY, untagged: see ClusterState.drained.
    """
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(JOBS_KEY)
        pipe.zcard(QUEUE_KEY)
        for run_id in run_ids:
            pipe.hmget(run_key(run_id, WAITING), WAITING_JOBS, WAITING_REQUESTS)
        jobs, requests, *replies = pipe.execute()
    return {run_id: None if waiting_jobs is None else
            (max(0, int(waiting_jobs)) if jobs else 0) + (max(0, int(waiting_requests or 0)) if requests else 0)
            for run_id, (waiting_jobs, waiting_requests) in zip(run_ids, replies)}


def busy_source_run(client, source_id: str) -> str | None:
    """The open run a source is locked to, if any."""
    return client.get(source_busy_key(source_id))


def set_worker_state(client, worker_id: str, in_flight: int, spool: str, spooled: int,
                     runs: dict[str, int] | None = None) -> None:
    """A worker's heartbeat: requests and items in flight (``runs``: those of each run), and
    the writes waiting in its spool (``spool`` names it: workers on one machine may share one).

    Its key expires with the worker: a worker killed stops holding up its runs.
    """
    client.set(f"{WORKER_PREFIX}{worker_id}", json.dumps({"busy": in_flight, "runs": runs or {}, "spool": spool, "spooled": spooled}),
               ex=WORKER_TTL_SECONDS)


@dataclass
class ClusterState:
    workers: int = 0  # alive: reported within WORKER_TTL_SECONDS
    busy: int = 0  # requests and items in flight, all workers together
    spooled: int = 0  # writes waiting in the workers' spools for the store
    queued: int = 0  # jobs and requests waiting in Redis
    busy_runs: dict[str, int] = field(default_factory=dict)  # in flight, by run, all workers together
    # Jobs and requests waiting, by open run (with_runs); None: a run that counts none (runs_waiting).
    waiting: dict[str, int | None] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        """Nothing waits and nothing is in flight anywhere (spooled writes aside)."""
        return self.queued == 0 and self.busy == 0

    def drained(self) -> list[str]:
        """The open runs none of whose jobs and requests waits or is in flight: each run
        ends by itself, whatever the others do (a cluster under steady load is never idle).

        A run that counts nothing of its own (enqueued by an earlier version)
        ends as runs did then: once the whole cluster is idle.
        """
        return [run for run, waiting in self.waiting.items()
                if (self.idle if waiting is None else not waiting and not self.busy_runs.get(run))]


def cluster_state(client, *, with_runs: bool = False) -> ClusterState:
    """The workers' reports; ``with_runs``: and what each open run still waits for."""
    state = ClusterState(queued=client.llen(JOBS_KEY) + queued_requests(client))
    spools: dict[str, int] = {}
    keys = list(client.scan_iter(f"{WORKER_PREFIX}*"))
    for key, value in zip(keys, client.mget(keys) if keys else []):
        if value is None:
            continue  # expired since listed
        try:
            reported = json.loads(value)
        except ValueError:
            continue
        if isinstance(reported, int):  # a worker of the last version: in flight only
            reported = {"busy": reported}
        state.workers += 1
        state.busy += int(reported.get("busy", 0))
        for run, busy in reported.get("runs", {}).items():
            state.busy_runs[run] = state.busy_runs.get(run, 0) + max(0, int(busy))
        spools[reported.get("spool", key)] = int(reported.get("spooled", 0))
    state.spooled = sum(spools.values())
    if with_runs:
        state.waiting = runs_waiting(client, open_runs(client))
    return state


def assemble_run(client, run_id: str) -> RunRecord:
    info = client.hgetall(run_key(run_id))
    run = start_run(run_id, json.loads(info.get("sources", "[]")))
    run.counts = {counter: 0 for counter in COUNTERS}
    for counter, value in client.hgetall(run_key(run_id, "counts")).items():
        run.counts[counter] = int(value)
    for name, value in client.hgetall(run_key(run_id, "per_source")).items():
        source, counter = name.split("\t", 1)
        run.per_source.setdefault(source, {c: 0 for c in COUNTERS})[counter] = int(value)
    run.failures = [Failure(**json.loads(raw)) for raw in client.lrange(run_key(run_id, "failures"), 0, -1)]
    for failure in unsettled_claims(client, run_id):
        run.failures.append(failure)
        run.count("failed", failure.source)
    run.blocked = client.hgetall(run_key(run_id, "blocked"))
    run.finished = info.get("finished")
    run.spool_pending = int(info.get("spool_pending", 0))
    run.status = "completed" if run.finished else "running"
    return run


def unsettled_claims(client, run_id: str) -> list[Failure]:
    """The run's articles a worker took and no outcome settled (see runcounts.CLAIM_ARTICLE): failures of the
    run, asked for again by the next even if no feed lists them any more."""
    failures = []
    for raw in client.hvals(run_key(run_id, "claimed")):
        claim = json.loads(raw)
        if claim.get("url") and claim.get("source"):
            failures.append(Failure(url=claim["url"], reason=UNSETTLED_CLAIM_REASON, source=claim["source"], kind="article",
                                    attempt=int(claim.get("attempt", 1))))
    return failures


def open_runs(client) -> list[str]:
    """Runs whose record is not written yet (asked at every heartbeat: one round trip for all)."""
    listed = sorted(client.smembers(OPEN_RUNS_KEY))
    with client.pipeline(transaction=False) as pipe:
        for run_id in listed:
            pipe.exists(run_key(run_id))
            pipe.hget(run_key(run_id), "written")
        replies = pipe.execute()
    runs = []
    for run_id, exists, written in zip(listed, replies[::2], replies[1::2]):
        if exists and not written:
            runs.append(run_id)
        else:
            client.srem(OPEN_RUNS_KEY, run_id)  # recorded, or expired with nobody to finish it
    return runs


def finish_run(client, run_id: str, spool_pending: int = 0, *, even_if_starting: bool = False) -> RunRecord | None:
    """Claim a drained run to write its record: the one caller that wins gets the record.

    ``spool_pending``: writes still waiting in the workers' spools. The
    claim lapses after FINISH_CLAIM_SECONDS (a finisher killed midway);
    record_written ends the run, unfinish_run gives it back (a failed write).
    """
    key = run_key(run_id)
    # A lost (expired, flushed) run is not made anew: its hash would never expire.
    if not client.exists(key) or client.hget(key, "written"):
        return None
    if not even_if_starting and client.exists(run_key(run_id, STARTING)):
        return None
    if not client.set(run_key(run_id, "finishing"), 1, nx=True, ex=FINISH_CLAIM_SECONDS):
        return None
    client.hset(key, mapping={"finished": utc_iso(datetime.now(timezone.utc)), "spool_pending": spool_pending})
    return assemble_run(client, run_id)


def record_written(client, run: RunRecord) -> None:
    """The run's record is in the archive: the run ends, its sources are free for their next run."""
    if client.exists(run_key(run.run_id)):
        client.hset(run_key(run.run_id), "written", "1")
    client.srem(OPEN_RUNS_KEY, run.run_id)
    release_sources(client, run.run_id, run.sources)
    client.delete(run_key(run.run_id, "finishing"))


def unfinish_run(client, run_id: str) -> None:
    """Its record could not be written: the run is open again, for the next heartbeat to finish."""
    client.hdel(run_key(run_id), "finished", "spool_pending")
    client.delete(run_key(run_id, "finishing"))


def release_sources(client, run_id: str, source_ids: list[str]) -> None:
    for source_id in source_ids:
        client.eval(RELEASE_IF_OURS, 1, source_busy_key(source_id), run_id)


def crawl_given_up(client, run_id: str, source_ids: list[str], *, stopping: bool) -> tuple[bool, RunRecord | None]:
    """For the daemon, whose `crawl --wait` child ended before the run drained:
    (the workers write the run's record, else what they counted so far).

    Stopped with the daemon (``stopping``), the run goes on and the workers
    record it. Killed (over run_timeout) or crashed, it is finished now with
    the counts so far, for the daemon to record, unless the workers finished
    it first: two records of one run would overwrite each other in either order.
    """
    if not client.exists(run_key(run_id)):
        release_sources(client, run_id, source_ids)  # locked by an enqueue that failed midway
        return False, None  # never enqueued (or lost): the daemon's record is the only one
    if stopping:
        return True, None
    counted = finish_run(client, run_id, even_if_starting=True)
    if counted is None:
        return True, None  # written, or being written, by a worker
    record_written(client, counted)  # the daemon's record goes through its spool: it is not lost
    return False, counted


def source_config(client, source_id: str) -> dict | None:
    raw = client.get(f"newsarchive:source:{source_id}")
    return json.loads(raw) if raw else None


def source_run(client, source_id: str) -> str | None:
    return client.get(source_run_key(source_id))
