"""The extraction pipeline with a page that kills its worker: run by test_faults.

    python -m tests.probes.extract_pool [--together]

Prints one line per page, in the order given: ``<url> ok`` or ``<url> failed: <reason>``.
With --together the pages are all in flight at once, on two workers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone

PAGE = ("<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + "<p>{title}：这是一段足够长的正文，用来确认抽取在新的工作进程里照常进行。</p>" * 6
        + "</article></body></html>")


def extract_or_die(page):
    """The pipeline's worker function, except that a page asking for it kills its worker."""
    from crawler.extract.worker import extract_page

    if "kill-the-worker" in page.url:
        os._exit(1)  # as the OOM killer would
    return extract_page(page)


def main() -> None:
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import defer, task

    import crawler.pipelines.extract as extract
    from crawler.items import ArticlePage

    extract.extract_page = extract_or_die  # what the pool's workers run (by reference)
    together = "--together" in sys.argv
    workers = 2 if together else 1
    names = ("first", "kill-the-worker", "after-1", "after-2", *((f"beside-{n}" for n in range(4)) if together else ()))
    urls = [f"https://news.example/{name}.html" for name in names]
    pages = [ArticlePage(source="s", url=url, body=PAGE.format(title=url.rsplit("/", 1)[-1]).encode("utf-8"),
                         content_type="text/html; charset=utf-8", fetched=datetime.now(timezone.utc), categories=[])
             for url in urls]

    async def one(pipeline, page) -> str:
        try:
            await pipeline.process_item(page)
            return f"{page.url} ok"
        except extract.ArticleFailed as exc:
            return f"{page.url} failed: {exc}"

    async def run() -> None:
        pipeline = extract.ExtractPipeline(workers)
        pipeline.open_spider()
        if together:  # all in flight at once, as in a crawl: the killer's neighbours die with it
            lines = await asyncio.gather(*(one(pipeline, page) for page in pages))
        else:
            lines = [await one(pipeline, page) for page in pages]
        print("\n".join(lines), flush=True)
        pipeline.close_spider()

    # An asyncio task, as Scrapy runs pipelines under the asyncio reactor.
    task.react(lambda _reactor: defer.Deferred.fromFuture(asyncio.ensure_future(run())))


if __name__ == "__main__":
    sys.exit(main())
