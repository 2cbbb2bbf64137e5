"""The workers' shared request queue and job list, each entry counted as its run's.

A run ends once none of its jobs or requests waits in Redis or is in flight
on a worker (distributed.ClusterState.drained), whatever other runs do. So
each run keeps a count of its jobs and requests waiting
(distributed.runs_waiting), changed in the same Redis step (a Lua script) as
the push or the pop it counts: a worker killed, or Redis lost, between two
steps would leave a run waiting for good for something no longer there.

A queued request's bytes end with RUN_TAG, its run id and one byte giving the
id's length: the scripts read the run without unpickling the request.
"""

from __future__ import annotations

from scrapy import Request
from scrapy_redis.queue import PriorityQueue

from crawler import distributed

SOURCE_META = "newsarchive_source"  # set by the spider on every request it makes
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
# and a second count would never be taken off again.
# KEYS: the queue, the source's run key. ARGV: score, request, RUN_TAG, the run's
# waiting key as prefix and suffix around its id, its field, its expiry, MAX_RUN_ID_BYTES.
PUSH_REQUEST = """
local member = ARGV[2]
local run = redis.call('get', KEYS[2])
if run and #run > tonumber(ARGV[8]) then run = nil end
if run then member = member .. ARGV[3] .. run .. string.char(#run) end
if redis.call('zadd', KEYS[1], ARGV[1], member) == 1 and run then
  local waiting = ARGV[4] .. run .. ARGV[5]
  redis.call('hincrby', waiting, ARGV[6], 1)
  redis.call('expire', waiting, ARGV[7])
end
return 1
"""
# The first request (lowest score) taken off the queue, and off its run's count;
# the legacy queue's once the queue is empty. Returns {request, run or nil}.
# KEYS: the queue, the legacy queue. ARGV: RUN_TAG, the waiting key's prefix, suffix and field.
POP_REQUEST = _TAKE_ONE + """
local queue = KEYS[1]
local member = redis.call('zrange', queue, 0, 0)[1]
if not member then
  queue = KEYS[2]
  member = redis.call('zrange', queue, 0, 0)[1]
end
if not member then return false end
redis.call('zrem', queue, member)
local tag = ARGV[1]
local at = #member - string.byte(member, -1) - #tag
if at >= 1 and string.sub(member, at, at + #tag - 1) == tag then
  local run = string.sub(member, at + #tag, -2)
  take_one(ARGV[2] .. run .. ARGV[3], ARGV[4])
  return {string.sub(member, 1, at - 1), run}
end
return {member, false}
"""
# A job taken off the job list, and off its run's count.
# KEYS: the job list. ARGV: the waiting key's prefix, suffix and field.
POP_JOB = _TAKE_ONE + """
local job = redis.call('lpop', KEYS[1])
if not job then return false end
local ok, decoded = pcall(cjson.decode, job)
if ok and type(decoded) == 'table' and type(decoded['run_id']) == 'string' then
  take_one(ARGV[1] .. decoded['run_id'] .. ARGV[2], ARGV[3])
end
return job
"""
# distributed.run_key(run, WAITING) as the scripts make it: around the run id.
WAITING_PREFIX, WAITING_SUFFIX = distributed.run_key("\n", distributed.WAITING).split("\n")


def push_request(client, source_id: str | None, score: float, request: bytes) -> None:
    """A request into the shared queue, counted as waiting in its source's open run (if any)."""
    client.eval(PUSH_REQUEST, 2, distributed.QUEUE_KEY, distributed.source_run_key(source_id or ""), score, request, RUN_TAG,
                WAITING_PREFIX, WAITING_SUFFIX, distributed.WAITING_REQUESTS, distributed.RUN_TTL_SECONDS, distributed.MAX_RUN_ID_BYTES)


def pop_request(client) -> tuple[bytes, str | None] | None:
    """The next request off the shared queue (and off its run's count): (request, its run), or None."""
    popped = client.eval(POP_REQUEST, 2, distributed.QUEUE_KEY, distributed.LEGACY_QUEUE_KEY, RUN_TAG, WAITING_PREFIX,
                         WAITING_SUFFIX, distributed.WAITING_REQUESTS)
    if not popped:
        return None
    request, run = popped
    return request, run.decode() if isinstance(run, bytes) else run


def pop_job(client):
    """The next job off the job list (and off its run's count), or None."""
    return client.eval(POP_JOB, 1, distributed.JOBS_KEY, WAITING_PREFIX, WAITING_SUFFIX, distributed.WAITING_JOBS)


class RunQueue(PriorityQueue):
    """scrapy-redis' priority queue (SCHEDULER_QUEUE_CLASS, see distributed.scrapy_redis_settings).

    Its key is distributed.QUEUE_KEY, whatever scrapy-redis passes: the heartbeat reads that one.
    """

    def __len__(self) -> int:
        return distributed.queued_requests(self.server)

    def push(self, request: Request) -> None:
        # Scheduled afresh (a retry, a redirect): its run is its source's open run again.
        push_request(self.server, request.meta.get(SOURCE_META), -request.priority, self._encode_request(request))

    def pop(self, timeout: float = 0) -> Request | None:
        popped = pop_request(self.server)
        if popped is None:
            return None
        data, run = popped
        request = self._decode_request(data)
        if run:
            request.meta[RUN_META] = run
        else:
            request.meta.pop(RUN_META, None)  # a copy's, from before it was queued again
        return request
