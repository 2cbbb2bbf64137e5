"""A distributed run's share of each worker's outcomes in Redis: counts, failures, blocked
sources, and the claims that keep each article to one worker (distributed.assemble_run reads them)."""

from __future__ import annotations

import json
from dataclasses import asdict

from archive.runs import Failure
from crawler import distributed

# Counts into a source's open run, found in the same step; the run's keys as run_key makes them.
# KEYS: the source's run key. ARGV: RUN_PREFIX, the source, RUN_TTL_SECONDS, a failure
# (JSON, or ""), then counter and amount pairs. Returns the run, or nil.
COUNT_FOR_SOURCE = """
local run = redis.call('get', KEYS[1])
if not run then return false end
local counts, per_source = ARGV[1] .. run .. ':counts', ARGV[1] .. run .. ':per_source'
for i = 5, #ARGV, 2 do
  redis.call('hincrby', counts, ARGV[i], ARGV[i + 1])
  redis.call('hincrby', per_source, ARGV[2] .. '\t' .. ARGV[i], ARGV[i + 1])
end
if #ARGV >= 5 then
  redis.call('expire', counts, ARGV[3])
  redis.call('expire', per_source, ARGV[3])
end
if ARGV[4] ~= '' then
  local failures = ARGV[1] .. run .. ':failures'
  redis.call('rpush', failures, ARGV[4])
  redis.call('expire', failures, ARGV[3])
end
return run
"""


def failure_counter(failure: Failure) -> str:
    return "images_failed" if failure.kind == "image" else "failed"


def count_for_source(client, source: str, counts: dict[str, int], failure: Failure | None = None) -> str | None:
    """Counts (and a failure, counted too) into the source's open run; returns the run, None if it has none.

    The run is looked up in the same Lua step as the counts go in: one round
    trip per item, and always the source's run of that moment (a cache of it
    could outlive the run, as another worker takes the source's next job).
    """
    if failure is not None:
        counts = {**counts, failure_counter(failure): counts.get(failure_counter(failure), 0) + 1}
    pairs = [part for counter, n in counts.items() if n for part in (counter, n)]
    record = json.dumps(asdict(failure), ensure_ascii=False) if failure is not None else ""
    return client.eval(COUNT_FOR_SOURCE, 1, distributed.source_run_key(source), distributed.RUN_PREFIX, source,
                       distributed.RUN_TTL_SECONDS, record, *pairs)


def mark_blocked(client, run_id: str, source: str, reason: str) -> None:
    client.hset(distributed.run_key(run_id, "blocked"), source, reason)
    client.expire(distributed.run_key(run_id, "blocked"), distributed.RUN_TTL_SECONDS)  # as every key of a run: none is kept forever


def claim_article(client, run_id: str, article_id: str) -> bool:
    """True for the first worker to ask for an article in a run: no page is fetched twice."""
    added = client.sadd(distributed.run_key(run_id, "articles"), article_id)
    client.expire(distributed.run_key(run_id, "articles"), distributed.RUN_TTL_SECONDS)
    return bool(added)
