"""Extraction off the reactor: a process pool keeps both cores busy."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.deferreds import deferred_from_future
from crawler.extract.article import NoArticle
from crawler.items import ArticlePage


class ArticleFailed(DropItem):
    """The page was fetched but yields no article; recorded as a failure."""


def extract_page(page: ArticlePage):
    """The plain function the pipeline wraps (also run inside pool workers)."""
    # Imported where it runs: the workers (warmed up with it), not the crawl process.
    from crawler.extract.core import extract_article

    return extract_article(page.body, page.url, content_type=page.content_type, feed=page.hints, options=page.options)


# Set (to "1") only while the crawl process starts the forkserver, which then
# imports this module with it: see warm_forkserver.
WARM_UP_ENV = "NEWSARCHIVE_EXTRACT_WARM_UP"
WARM_UP_PAGE = (
    "<html lang='zh-CN'><head><meta charset='utf-8'><title>预热页面 - 新闻网</title>"
    "<meta property='og:title' content='预热页面'><meta name='author' content='张三'></head><body>"
    "<nav><ul><li><a href='/'>首页</a></li><li><a href='/world/'>World</a></li></ul></nav>"
    "<article><h1>预热页面</h1><div class='info'>2024-01-02 10:20 来源：新华社 作者：张三</div>"
    "<p>国家统计局今天发布数据，经济运行总体平稳，稳中有进的态势没有改变。</p>"
    "<p><img src='/a.jpg' alt='图'></p>"
    "<p>The government said on Tuesday that the new policy would help families across the country.</p>"
    "</article><footer>Copyright</footer></body></html>"
).encode("utf-8")


def warm_up() -> None:
    """Pay extraction's first-use costs now: the language model, trafilatura's
    and justext's tables, compiled patterns (about 0.8 s of CPU with the imports)."""
    from crawler.extract.core import extract_article

    # A URL with a port also loads the public suffix list (courlan).
    for url in ("https://www.example.com/news/2024/01/1.html", "http://127.0.0.1:8080/news/2024/01/1.html"):
        try:
            extract_article(WARM_UP_PAGE, url)
        except Exception:  # noqa: BLE001 - a warm-up never stops anything
            pass


def warm_forkserver(context) -> None:
    """Start the pool's forkserver with this module imported and warmed up.

    Workers fork from it with everything loaded (shared copy-on-write), instead
    of each importing trafilatura and loading the language model on its first
    page: that was ~0.8 s of CPU per worker per crawl. Started here, early, the
    forkserver warms up while the crawl fetches robots.txt and the feeds.
    """
    from multiprocessing import forkserver

    context.set_forkserver_preload(["__main__", __name__])
    previous = os.environ.get(WARM_UP_ENV)
    os.environ[WARM_UP_ENV] = "1"
    try:
        forkserver.ensure_running()  # spawns it (once per process) and returns at once
    finally:
        if previous is None:
            os.environ.pop(WARM_UP_ENV, None)
        else:
            os.environ[WARM_UP_ENV] = previous


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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        workers = crawler.settings.getint("NEWSARCHIVE_EXTRACT_WORKERS", -1)
        return cls(workers if workers >= 0 else (os.cpu_count() or 1))

    def open_spider(self, spider=None) -> None:
        if self.workers > 0:
            # forkserver: forking the crawl process itself would copy the
            # reactor's threads and sockets into the workers.
            context = multiprocessing.get_context("forkserver")
            warm_forkserver(context)
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract-start")
            self._pool_ready = starter.submit(start_workers, self.pool, self.workers)
            starter.shutdown(wait=False)  # its thread ends with the job

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
                if not self._pool_ready.done():
                    await maybe_deferred_to_future(deferred_from_future(self._pool_ready))
                article = await maybe_deferred_to_future(deferred_from_future(self.pool.submit(extract_page, item)))
        except NoArticle as exc:
            raise ArticleFailed(f"no article: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - one bad page never stops a run
            raise ArticleFailed(f"extraction failed: {type(exc).__name__}: {exc}") from exc
        item.article = article
        item.image_urls = list(article.image_urls)
        item.body = b""  # the raw page is not needed downstream; keep memory flat
        return item


if os.environ.get(WARM_UP_ENV) == "1":  # imported by the forkserver warm_forkserver started
    warm_up()
