"""`crawl --wait` in distributed mode: until a worker has recorded the run (crawler/distributed.py)."""

from __future__ import annotations

import time
from typing import Callable

from archive.runs import RunRecord
from crawler import distributed

# `crawl --wait` says that no worker runs once none has reported for this long.
NO_WORKER_WARNING_SECONDS = 2 * distributed.WORKER_TTL_SECONDS


class RunLost(Exception):
    """Redis no longer holds a run (flushed, restarted without persistence, or expired)."""


def wait_for_run(client, run_id: str, timeout: float, poll: float = 0.5,
                 warn: Callable[[str], None] = lambda _message: None) -> RunRecord | None:
    """Until a worker has finished the run (its record written), or the timeout.

    Raises RunLost when Redis no longer holds the run. Says so, once each,
    through ``warn`` when no worker has reported for a while and when Redis
    cannot be reached or does not answer (asked again until the timeout: it
    may be restarting). A call Redis leaves unanswered gives up after
    distributed.REDIS_TIMEOUT_SECONDS (see redis_client), so this returns
    at most that long after the timeout.
    """
    import redis

    started = time.monotonic()
    deadline = started + timeout
    warned: set[str] = set()
    next_worker_check = NO_WORKER_WARNING_SECONDS
    while time.monotonic() < deadline:
        try:
            info = client.hgetall(distributed.run_key(run_id))
            if not info:
                raise RunLost(f"Redis no longer holds run {run_id} (flushed, restarted without persistence, or expired)")
            if info.get("written"):
                return distributed.assemble_run(client, run_id)
            waited = time.monotonic() - started
            # Workers are counted by a scan of every key: once in a worker's lifetime, not at every poll.
            if "workers" not in warned and waited >= next_worker_check:
                next_worker_check = waited + distributed.WORKER_TTL_SECONDS
                if distributed.cluster_state(client).workers == 0:
                    warned.add("workers")
                    warn(f"no worker has reported for {waited:.0f}s: nothing crawls run {run_id} until "
                         "`newsarchive worker` runs against this Redis")
        except redis.RedisError as exc:
            if "redis" not in warned:
                warned.add("redis")
                # A timeout is a RedisError too: a hung Redis is waited out like one that is down.
                warn(f"Redis cannot be reached or does not answer ({exc}); asked again until the timeout")
        time.sleep(poll)
    return None
