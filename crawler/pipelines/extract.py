"""Extraction off the reactor: a process pool keeps both cores busy."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.deferreds import deferred_from_future
from crawler.extract.core import NoArticle, extract_article
from crawler.items import ArticlePage


class ArticleFailed(DropItem):
    """The page was fetched but yields no article; recorded as a failure."""


def extract_page(page: ArticlePage):
    """The plain function the pipeline wraps (also run inside pool workers)."""
    return extract_article(page.body, page.url, content_type=page.content_type, feed=page.hints, options=page.options)


class ExtractPipeline:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        workers = crawler.settings.getint("NEWSARCHIVE_EXTRACT_WORKERS", -1)
        return cls(workers if workers >= 0 else (os.cpu_count() or 1))

    def open_spider(self, spider=None) -> None:
        if self.workers > 0:
            # forkserver: forking the crawl process itself would copy the
            # reactor's threads and sockets into the workers.
            context = multiprocessing.get_context("forkserver")
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def close_spider(self, spider=None) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item):
        if not isinstance(item, ArticlePage):
            return item
        try:
            if self.pool is None:
                article = extract_page(item)
            else:
                article = await maybe_deferred_to_future(deferred_from_future(self.pool.submit(extract_page, item)))
        except NoArticle as exc:
            raise ArticleFailed(f"no article: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - one bad page never stops a run
            raise ArticleFailed(f"extraction failed: {type(exc).__name__}: {exc}") from exc
        item.article = article
        item.image_urls = list(article.image_urls)
        item.body = b""  # the raw page is not needed downstream; keep memory flat
        return item
