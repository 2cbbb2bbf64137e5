"""A distributed run's share of each worker's outcomes in Redis: counts, failures, blocked
sources, and the claims that keep each article to one worker (distributed.assemble_run reads them)."""

from __future__ import annotations

import json
from dataclasses import asdict

from archive.runs import Failure
from crawler import distributed

# Counts into a source's open run, found in the same step; the run's keys as run_key makes them.
# KEYS: the source's run key. ARGV: RUN_PREFIX, the source, RUN_TTL_SECONDS, a failure
# (JSON, or ""), the claim the outcome settles (claim_token: its run, a tab, the article
# id; or ""), then counter and amount pairs. Returns the run, or nil.
COUNT_FOR_SOURCE = """
local run = redis.call('get', KEYS[1])
if not run then return false end
local counts, per_source = ARGV[1] .. run .. ':counts', ARGV[1] .. run .. ':per_source'
for i = 6, #ARGV, 2 do
  redis.call('hincrby', counts, ARGV[i], ARGV[i + 1])
  redis.call('hincrby', per_source, ARGV[2] .. '\t' .. ARGV[i], ARGV[i + 1])
end
if #ARGV >= 6 then
  redis.call('expire', counts, ARGV[3])
  redis.call('expire', per_source, ARGV[3])
end
if ARGV[4] ~= '' then
  local failures = ARGV[1] .. run .. ':failures'
  redis.call('rpush', failures, ARGV[4])
  redis.call('expire', failures, ARGV[3])
end
-- The claim's own run, not the source's run now: a late outcome (a challenge page
-- reported when its worker went idle) must not settle the next run's claim.
local tab = string.find(ARGV[5], '\t', 1, true)
if tab then redis.call('hdel', ARGV[1] .. string.sub(ARGV[5], 1, tab - 1) .. ':claimed', string.sub(ARGV[5], tab + 1)) end
return run
"""
# The first worker to ask for an article in a run gets it; what it asked for is kept
# under the run's claims until an outcome of the article is counted (COUNT_FOR_SOURCE).
# A claim still there when the run is finished is an article its worker took and never
# finished (killed with it in flight, a pop whose answer was lost): a failure of the run,
# asked for again by the next even if no feed lists it any more (distributed.unsettled_claims).
# KEYS: the run's articles set, its claims hash. ARGV: the article id, the claim (JSON), RUN_TTL_SECONDS.
CLAIM_ARTICLE = """
if redis.call('sadd', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('expire', KEYS[2], ARGV[3])
return 1
"""


def failure_counter(failure: Failure) -> str:
    return "images_failed" if failure.kind == "image" else "failed"


def count_for_source(client, source: str, counts: dict[str, int], failure: Failure | None = None,
                     claimed: str | None = None) -> str | None:
    """Counts (and a failure, counted too) into the source's open run; returns the run, None if it has none.

    ``claimed``: the claim this outcome settles (a claim_token; it is dropped
    from its run's claims, see CLAIM_ARTICLE). The run is looked up in the same Lua step as
    the counts go in: one round trip per item, and always the source's run of
    that moment (a cache of it could outlive the run, as another worker takes
    the source's next job).
    """
    if failure is not None:
        counts = {**counts, failure_counter(failure): counts.get(failure_counter(failure), 0) + 1}
    pairs = [part for counter, n in counts.items() if n for part in (counter, n)]
    record = json.dumps(asdict(failure), ensure_ascii=False) if failure is not None else ""
    return client.eval(COUNT_FOR_SOURCE, 1, distributed.source_run_key(source), distributed.RUN_PREFIX, source,
                       distributed.RUN_TTL_SECONDS, record, claimed or "", *pairs)


def mark_blocked(client, run_id: str, source: str, reason: str) -> None:
    client.hset(distributed.run_key(run_id, "blocked"), source, reason)
    client.expire(distributed.run_key(run_id, "blocked"), distributed.RUN_TTL_SECONDS)  # as every key of a run: none is kept forever


def claim_token(run_id: str, article_id: str) -> str:
    """What an article's request carries of its claim, for its outcome to settle (COUNT_FOR_SOURCE)."""
    return f"{run_id}\t{article_id}"


def claim_article(client, run_id: str, article_id: str, url: str = "", source: str = "", attempt: int = 1) -> bool:
    """True for the first worker to ask for an article in a run: no page is fetched twice.

    The claim is kept until an outcome of the article is counted (see CLAIM_ARTICLE).
    """
    claim = json.dumps({"url": url, "source": source, "attempt": attempt}, ensure_ascii=False)
    return bool(client.eval(CLAIM_ARTICLE, 2, distributed.run_key(run_id, "articles"), distributed.run_key(run_id, "claimed"),
                            article_id, claim, distributed.RUN_TTL_SECONDS))

