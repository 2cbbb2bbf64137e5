"""The worker's spider: NewsSpider fed by jobs from Redis (scrapy-redis)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from redis import RedisError
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.spiders import RedisMixin

from crawler import distributed, runcounts
from crawler.config import Source
from crawler.redisqueue import Taker, pop_job
from crawler.spiders.news import NewsSpider

SOURCE_ADAPTER = TypeAdapter(Source)


def _job_source(data) -> tuple[str, str]:
    """A job's source id and first URL, as far as they can be read ("" where they cannot)."""
    try:
        source = json.loads(data)["source"]
        urls = source.get("urls") or [source.get("url")]
        source_id, url = source.get("id"), urls[0]
        return (source_id if isinstance(source_id, str) else "", url if isinstance(url, str) else "")
    except Exception:
        return "", ""


class RedisSources(dict):
    """Source configs by id, fetched from Redis the first time a worker meets one."""

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client

    def __missing__(self, source_id: str):
        raw = distributed.source_config(self.client, source_id)
        if raw is None:
            raise KeyError(source_id)
        source = SOURCE_ADAPTER.validate_python(raw)
        self[source_id] = source
        return source


class DistributedNewsSpider(RedisMixin, NewsSpider):
    name = "news-worker"
    redis_key = distributed.JOBS_KEY
    # One job (one source) at a time: an idle worker finds the next one left for it.
    redis_batch_size = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Run -> its sources whose failed pages are being read (see _retry_failed_pages): in flight.
        self.loading_retries: dict[str, int] = {}
        self.job_taker = Taker()  # a job whose pop got no answer comes with the next

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "DistributedNewsSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        spider.redis_client = distributed.redis_client(crawler.settings["REDIS_URL"])
        spider.sources = RedisSources(spider.redis_client)
        return spider

    async def start(self):
        # What the archive holds: archived pages are skipped, and an article found
        # unchanged but missing from the catalog (a worker killed before writing
        # its part) is catalogued again. Read again as each new run begins.
        await self.load_archive_state(with_retries=False)  # retries: per source, as its job is taken
        # No job taken here: Scrapy reads start() at its own pace, and a job's requests
        # still in it would be neither queued nor in flight, so counted nowhere. Every
        # job is taken by spider_idle (at once: the spider is idle now), which queues
        # all its requests in the call that takes it.
        return
        yield  # unreachable: start() is an async generator, as Scrapy wants

    def pop_list_queue(self, redis_key: str, batch_size: int) -> list:
        """Jobs taken off the list (scrapy-redis' fetch_data), each off its run's count in the same step."""
        jobs = []
        for _ in range(batch_size):
            try:
                job = pop_job(self.server, self.job_taker)
            except RedisError as exc:
                self.logger.warning("Redis did not answer as a job was taken (%s): what it took, if anything, "
                                    "comes with the next", exc)
                break
            if job is None:
                break
            jobs.append(job)
        return jobs

    def schedule_next_requests(self) -> None:
        """The next job's requests queued (RedisMixin's), each on its own (see queue_request)."""
        for data in self.fetch_data(self.redis_key, self.redis_batch_size):
            try:
                requests = self.make_request_from_data(data)
            except Exception as exc:
                # A job this version cannot read (a kind or field it does not know, from a newer
                # enqueuer during an upgrade; bad JSON): a failure of its source, and the worker goes on.
                source_id, url = _job_source(data)
                self.logger.error("job of source %r not read: %s: %s", source_id, type(exc).__name__, exc)
                self.report_failure(url, f"job not read: {type(exc).__name__}: {exc}", source_id, kind="source")
                continue
            for request in requests:
                self.queue_request(request)

    def queue_request(self, request) -> None:
        """A request into the shared queue. One that could not be queued (see
        request_not_queued) does not stop the job's others: its job is gone, and
        nothing else would ask for them."""
        try:
            self.crawler.engine.crawl(request)
        except Exception as exc:
            self.request_not_queued(request, exc)

    def request_not_queued(self, request, exc: Exception) -> None:
        """A request Redis did not take (or did not say it took: a timeout), from a job or
        a callback (see redisqueue.RunScheduler): a failure of its run, asked for again by the next."""
        self.request_failed(request, f"not queued: {type(exc).__name__}: {exc}")

    def spider_idle(self) -> None:
        """RedisMixin's, without its count of the job list: a worker waits for jobs until
        stopped, and nothing that failed here (a Redis timeout, a job it cannot read) closes it."""
        try:
            self.schedule_next_requests()
        except RedisError as exc:
            self.logger.warning("Redis did not answer as a job's requests were queued (%s)", exc)
        except Exception:
            self.logger.exception("a job's requests not queued")
        raise DontCloseSpider

    def run_of(self, source_id: str) -> str | None:
        """The run a source's pages belong to (the item pipeline keeps its duplicates apart by run)."""
        return distributed.source_run(self.redis_client, source_id)

    def _refresh_archive_state(self) -> None:
        """A new run: the archive grew since the last was read (skips, catalog repair)."""
        from scrapy.utils.defer import deferred_from_coro

        if getattr(self, "_refreshing", None) is not None:
            return
        self._refreshing = deferred_from_coro(self.load_archive_state(with_retries=False))
        self._refreshing.addErrback(lambda failure: self.logger.warning("archive state not read again: %s", failure.value))
        self._refreshing.addBoth(lambda _result: setattr(self, "_refreshing", None))

    def make_request_from_data(self, data):
        """A job: crawl one source for one run."""
        job = json.loads(data)  # its pop marked its run starting: not finished before this worker reports busy
        if job["run_id"] != getattr(self, "current_run", None):
            # A worker outlives runs: what it asked for in the last one says nothing of this one.
            self.current_run = job["run_id"]
            self.requested_ids.clear()
            self._refresh_archive_state()
        source = SOURCE_ADAPTER.validate_python(job["source"])
        self.sources[source.id] = source
        handler = getattr(self, f"start_{source.kind}", None)
        if handler is None:
            self.report_failure(source.start_urls[0], f"source kind {source.kind!r} is not supported", source.id, kind="source")
            return []
        requests = list(handler(source))
        self._retry_failed_pages(source.id, job["run_id"])
        return requests

    def _retry_failed_pages(self, source_id: str, run_id: str) -> None:
        """What failed in the source's last runs is asked for again, as by a local crawl.

        Read in a thread, counted in flight meanwhile (a run must not drain
        before its retries are queued). Only the worker that took the source's
        job asks, and the run's claims keep each page to one worker.
        """
        if not self.settings.getbool("NEWSARCHIVE_INCREMENTAL"):
            return
        from twisted.internet.threads import deferToThread

        from crawler.incremental import failures_to_retry
        from crawler.storage import archive_writer

        def crawl(failures) -> None:
            for request in self.retry_requests(failures):
                self.queue_request(request)

        def done(result):
            self.loading_retries[run_id] -= 1
            if not self.loading_retries[run_id]:
                del self.loading_retries[run_id]
            return result

        self.loading_retries[run_id] = self.loading_retries.get(run_id, 0) + 1
        loading = deferToThread(failures_to_retry, archive_writer(self.crawler).store, {source_id})
        loading.addCallback(crawl)
        loading.addErrback(lambda failure: self.logger.warning("failed pages of %s not asked for again: %s", source_id, failure.value))
        loading.addBoth(done)

    def claim_article(self, candidate: str, source_id: str, url: str, attempt: int = 1) -> str | None:
        """First worker to ask for an article in this run gets it: no page fetched twice. The claim
        stays in the run until an outcome of the article settles it (see runcounts.CLAIM_ARTICLE)."""
        run_id = distributed.source_run(self.redis_client, source_id) or "unknown"
        if not runcounts.claim_article(self.redis_client, run_id, candidate, url, source_id, attempt):
            return None
        return runcounts.claim_token(run_id, candidate)
