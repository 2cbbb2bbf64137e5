"""The workers' shared request queue and job list, each entry counted as its run's.

A run ends once none of its jobs or requests waits in Redis or is in flight
on a worker (distributed.ClusterState.drained), whatever other runs do. So
each run keeps a count of its jobs and requests waiting
(distributed.runs_waiting), changed in the same Redis step (a Lua script) as
the push or the pop it counts: a worker killed, or Redis lost, between two
steps would leave a run waiting for good for something no longer there.

A queued request's bytes end with RUN_TAG, its run id and one byte giving the
id's length: the scripts read the run without unpickling the request.

Each step is asked once (run again, a pop would take a second entry and a
push count one twice): what a pop whose answer never came took is handed out
by one of the consumer's later pops (Taker), and a push queued twice is counted once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis import RedisError
from scrapy import Request
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawler import distributed
from crawler.items import SOURCE_META

logger = logging.getLogger(__name__)
# The run a request was queued for: set as it leaves the queue, read by the worker's heartbeat (in flight).
RUN_META = "newsarchive_run"
RUN_TAG = b"\x00newsarchive-run\x00"

# Lua: one of a run's waiting jobs or requests taken, never below 0, and never a
# count made anew (one made without its expiry would stay forever).
_TAKE_ONE = """
local function take_one(key, field)
  if redis.call('hexists', key, field) == 1 and redis.call('hincrby', key, field, -1) < 0 then
    redis.call('hset', key, field, 0)
  end
end
"""
# A request queued, and counted as its source's open run's (the run its items count for).
# Counted only when ZADD added it: the same request pushed twice (a dont_filter listing
# page named twice, by a sitemap index or a source's URLs) is one member, fetched once,
# and a second count would never be taken off again. Nor in a run that counts nothing
# (no count of its jobs: enqueued by an earlier version, see distributed.runs_waiting).
# KEYS: the queue, the source's run key. ARGV: score, request, RUN_TAG, the run's
# waiting key as prefix and suffix around its id, its field, its expiry, MAX_RUN_ID_BYTES,
# the field of its jobs.
PUSH_REQUEST = """
local member = ARGV[2]
local run = redis.call('get', KEYS[2])
if run and #run > tonumber(ARGV[8]) then run = nil end
if run then member = member .. ARGV[3] .. run .. string.char(#run) end
if redis.call('zadd', KEYS[1], ARGV[1], member) == 1 and run then
  local waiting = ARGV[4] .. run .. ARGV[5]
  if redis.call('hexists', waiting, ARGV[9]) == 1 then
    redis.call('hincrby', waiting, ARGV[6], 1)
    redis.call('expire', waiting, ARGV[7])
  end
end
return 1
"""
# Lua: what a consumer's pops took, each kept under its key (Taker.key), a hash of token ->
# what that pop took, until a later pop says its answer came (acks it). An entry left
# there (a pop whose answer was lost) is handed out by the next pop, instead of a new one.
# KEYS[1]: that key. ARGV[1]: this pop's token ('' keeps nothing), ARGV[2]: the token of
# the consumer's last pop whose answer came ('' if none), ARGV[3]: the key's expiry.
# Only entries of pops sent before this one are handed out: a later one's (this pop run
# late) may have been answered, and is acked by the pops sent after it.
_HOLD = """
local held_key, token, acked, held_for = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
-- The oldest of what lost pops took (nil if none): now this pop's.
local function taken_by_lost()
  if token == '' then return nil end
  if acked ~= '' then redis.call('hdel', held_key, acked) end
  local mine, oldest, oldest_field = tonumber(token), nil, nil
  for _, field in ipairs(redis.call('hkeys', held_key)) do
    local n = tonumber(field)
    if n and n < mine and (not oldest or n < oldest) then oldest, oldest_field = n, field end
  end
  if not oldest_field then return nil end
  local taken = redis.call('hget', held_key, oldest_field)
  redis.call('hdel', held_key, oldest_field)
  redis.call('hset', held_key, token, taken)
  redis.call('expire', held_key, held_for)
  return taken
end
local function hold(taken)
  if token == '' or not taken then return end
  redis.call('hset', held_key, token, taken)
  redis.call('expire', held_key, held_for)
end
"""
# The first request (lowest score) taken off the queue, and off its run's count;
# the legacy queue's once the queue is empty. Returns {request, run or false}.
# KEYS: as _HOLD, the queue, the legacy queue. ARGV: as _HOLD, RUN_TAG, the waiting key's prefix, suffix and field.
POP_REQUEST = _TAKE_ONE + _HOLD + """
local tag = ARGV[4]
local function tagged(member)  -- where the run tag begins, and the run; nil for a request of no run
  local at = #member - string.byte(member, -1) - #tag
  if at >= 1 and string.sub(member, at, at + #tag - 1) == tag then return at, string.sub(member, at + #tag, -2) end
end
local member = taken_by_lost()
if not member then
  local queue = KEYS[2]
  member = redis.call('zrange', queue, 0, 0)[1]
  if not member then
    queue = KEYS[3]
    member = redis.call('zrange', queue, 0, 0)[1]
  end
  hold(member)
  if not member then return false end
  redis.call('zrem', queue, member)
  local _, run = tagged(member)
  if run then take_one(ARGV[5] .. run .. ARGV[6], ARGV[7]) end
end
local at, run = tagged(member)
if run then return {string.sub(member, 1, at - 1), run} end
return {member, false}
"""
# A job taken off the job list, and off its run's count; its run marked starting
# (distributed.STARTING_SECONDS) in the same step, as nothing of it is in flight yet.
# KEYS: as _HOLD, the job list. ARGV: as _HOLD, the run key's prefix, the waiting key's
# suffix and field, the starting key's suffix, STARTING_SECONDS.
POP_JOB = _TAKE_ONE + _HOLD + """
local job = taken_by_lost()
local new = not job
if new then
  job = redis.call('lpop', KEYS[2])
  hold(job)
  if not job then return false end
end
local ok, decoded = pcall(cjson.decode, job)
if ok and type(decoded) == 'table' and type(decoded['run_id']) == 'string' then
  local run = ARGV[4] .. decoded['run_id']
  if new then take_one(run .. ARGV[5], ARGV[6]) end
  redis.call('set', run .. ARGV[7], 1, 'EX', ARGV[8])
end
return job
"""
# distributed.run_key(run, part) as the scripts make it: around the run id.
WAITING_PREFIX, WAITING_SUFFIX = distributed.run_key("\n", distributed.WAITING).split("\n")
STARTING_SUFFIX = distributed.run_key("\n", distributed.STARTING).split("\n")[1]
# What a consumer's pops took is kept under this prefix and its own id (Taker).
TAKEN_PREFIX = "newsarchive:taken:"
# A pop whose answer was lost is asked again within seconds (a Redis down that long aside);
# the key of a consumer that has died lapses after this.
TAKEN_TTL_SECONDS = 3600


class Taker:
    """One consumer's pops (a worker's jobs, or its requests), each kept in Redis until acked.

    Nothing is asked twice (a Lua step run again pops another job and counts it
    again): a pop whose answer never came (Redis slow past
    REDIS_TIMEOUT_SECONDS, the link cut, or never sent) raises. It may have run
    all the same: a later pop then hands out what it took, instead of it being
    lost. Each pop acks the last one answered (its entry dropped): what any
    other pop took, however many were lost in a row, is held until handed out.
    """

    def __init__(self) -> None:
        self.key = f"{TAKEN_PREFIX}{uuid.uuid4().hex}"
        self.pops = 0  # tokens: increasing, one per pop
        self.acked = ""  # the token of the last pop whose answer came

    def eval(self, client, script: str, keys: list[str], args: list) -> Any:
        self.pops += 1
        token = str(self.pops)
        answer = client.eval(script, 1 + len(keys), self.key, *keys, token, self.acked, TAKEN_TTL_SECONDS, *args)
        self.acked = token
        return answer


def _taken(client, taker: Taker | None, script: str, keys: list[str], args: list) -> Any:
    if taker is not None:
        return taker.eval(client, script, keys, args)
    return client.eval(script, 1 + len(keys), TAKEN_PREFIX, *keys, "", "", TAKEN_TTL_SECONDS, *args)  # nothing kept


def push_request(client, source_id: str | None, score: float, request: bytes) -> None:
    """A request into the shared queue, counted as waiting in its source's open run (if any)."""
    client.eval(PUSH_REQUEST, 2, distributed.QUEUE_KEY, distributed.source_run_key(source_id or ""), score, request, RUN_TAG,
                WAITING_PREFIX, WAITING_SUFFIX, distributed.WAITING_REQUESTS, distributed.RUN_TTL_SECONDS, distributed.MAX_RUN_ID_BYTES,
                distributed.WAITING_JOBS)


def pop_request(client, taker: Taker | None = None) -> tuple[bytes, str | None] | None:
    """The next request off the shared queue (and off its run's count): (request, its run), or None.

    ``taker``: whose pop it is (see Taker); None keeps nothing (what a pop whose answer is lost took is lost).
    """
    popped = _taken(client, taker, POP_REQUEST, [distributed.QUEUE_KEY, distributed.LEGACY_QUEUE_KEY],
                    [RUN_TAG, WAITING_PREFIX, WAITING_SUFFIX, distributed.WAITING_REQUESTS])
    if not popped:
        return None
    request, run = popped
    return request, run.decode() if isinstance(run, bytes) else run


def pop_job(client, taker: Taker | None = None):
    """The next job off the job list (and off its run's count, its run marked starting), or None."""
    return _taken(client, taker, POP_JOB, [distributed.JOBS_KEY],
                  [distributed.RUN_PREFIX, WAITING_SUFFIX, distributed.WAITING_JOBS, STARTING_SUFFIX, distributed.STARTING_SECONDS])


class RunQueue(PriorityQueue):
    """scrapy-redis' priority queue (SCHEDULER_QUEUE_CLASS, see distributed.scrapy_redis_settings).

    Its key is distributed.QUEUE_KEY, whatever scrapy-redis passes: the heartbeat reads that one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taker = Taker()

    def __len__(self) -> int:
        return distributed.queued_requests(self.server)

    def push(self, request: Request) -> None:
        # Scheduled afresh (a retry, a redirect): its run is its source's open run again.
        push_request(self.server, request.meta.get(SOURCE_META), -request.priority, self._encode_request(request))

    def pop(self, timeout: float = 0) -> Request | None:
        try:
            popped = pop_request(self.server, self.taker)
        except RedisError as exc:
            # Nothing this time: the engine asks again within seconds.
            logger.warning("Redis did not answer as a request was taken (%s): what it took, if anything, "
                           "comes with the next", exc)
            return None
        if popped is None:
            return None
        data, run = popped
        request = self._decode_request(data)
        if run:
            request.meta[RUN_META] = run
        else:
            request.meta.pop(RUN_META, None)  # a copy's, from before it was queued again
        return request


class RunScheduler(Scheduler):
    """scrapy-redis' scheduler (SCHEDULER, see distributed.scrapy_redis_settings), for
    which a request Redis did not take is its run's failure, not an error.

    A request a callback yields (a feed's articles, a redirect, a retry) reaches
    Redis here. Raised from here, a timeout lost it: Scrapy logged the error
    and went on, and no run recorded the page, so none asked for it again.
    """

    def enqueue_request(self, request: Request) -> bool:
        try:
            return super().enqueue_request(request)
        except RedisError as exc:
            self.spider.request_not_queued(request, exc)
            return False  # not scheduled: Scrapy's request_dropped
