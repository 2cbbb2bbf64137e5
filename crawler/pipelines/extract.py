"""Extraction off the reactor: a process pool keeps both cores busy."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.deferreds import deferred_from_future
from crawler.extract.article import NoArticle
from crawler.extract.worker import extract_page, start_extraction_server, worker_count
from crawler.items import ArticlePage

logger = logging.getLogger(__name__)


class ArticleFailed(DropItem):
    """The page was fetched but yields no article; recorded as a failure."""


def start_workers(pool: ProcessPoolExecutor, count: int) -> None:
    """Make the pool spawn its workers now (blocking: run it off the reactor).

    A pool spawns a worker per submit while none is idle, and each spawn waits
    for the forkserver to answer, i.e. until it has finished importing and
    warming up (about a second). Submitted from the reactor thread, the first
    pages would stall every download meanwhile.
    """
    for job in [pool.submit(os.getpid) for _ in range(count)]:
        job.result()


class ExtractPipeline:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self._pool_ready: Future | None = None
        self._context = None
        self._alone_slots: asyncio.Semaphore | None = None  # made on the event loop, when first needed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        return cls(worker_count(crawler.settings.getint("NEWSARCHIVE_EXTRACT_WORKERS", -1)))

    def open_spider(self, spider=None) -> None:
        if self.workers > 0:
            self._context = start_extraction_server()  # started already by `newsarchive crawl`: then a no-op
            self._start_pool()

    def _start_pool(self) -> None:
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._context)
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-start")
        self._pool_ready = starter.submit(start_workers, self.pool, self.workers)
        starter.shutdown(wait=False)  # its thread ends with the job

    async def _extract_in_pool(self, item: ArticlePage):
        """One page through the pool; a pool whose worker died is replaced.

        A worker that dies (the OOM killer, a crash in a C extension) breaks
        the whole pool, and every later page of the run would fail. A new
        pool takes over, and each page the broken one held is tried once more
        in a worker of its own: the page that kills its worker fails alone
        (and is retried next run like any failure), the others are extracted.
        """
        pool = self.pool
        try:
            if not self._pool_ready.done():
                await maybe_deferred_to_future(deferred_from_future(self._pool_ready))
            return await maybe_deferred_to_future(deferred_from_future(pool.submit(extract_page, item)))
        except BrokenProcessPool:
            if self.pool is pool:  # the first page to hear of it starts the new pool
                logger.error("an extraction worker died: starting new ones")
                pool.shutdown(wait=False, cancel_futures=True)
                self._start_pool()
        # As many at once as the pool has workers: after an OOM kill, a process
        # per page held would invite the next one.
        if self._alone_slots is None:
            self._alone_slots = asyncio.Semaphore(self.workers)
        async with self._alone_slots:
            alone = ProcessPoolExecutor(max_workers=1, mp_context=self._context)
            try:
                return await maybe_deferred_to_future(deferred_from_future(alone.submit(extract_page, item)))
            except BrokenProcessPool:
                raise ArticleFailed("extraction failed: its worker died, twice") from None
            finally:
                alone.shutdown(wait=False)

    def close_spider(self, spider=None) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item):
        if not isinstance(item, ArticlePage):
            return item
        try:
            article = extract_page(item) if self.pool is None else await self._extract_in_pool(item)
        except ArticleFailed:
            raise
        except NoArticle as exc:
            raise ArticleFailed(f"no article: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - one bad page never stops a run
            raise ArticleFailed(f"extraction failed: {type(exc).__name__}: {exc}") from exc
        item.article = article
        item.image_urls = list(article.image_urls)
        item.body = b""  # the raw page is not needed downstream; keep memory flat
        return item
