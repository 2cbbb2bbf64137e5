"""Keeps the run record from Scrapy's signals and writes it when the crawl ends."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from scrapy import signals as scrapy_signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from archive.fields import utc_iso
from archive.runs import Failure, new_run_id, run_bytes, start_run
from archive.store import StoreError, StoreUnavailable
from crawler import signals
from crawler.items import ArticlePage
from crawler.pipelines.record import DuplicateArticle
from crawler.storage import archive_writer

logger = logging.getLogger(__name__)
# Scrapy's close reasons for a stop someone asked for (a signal, the engine
# cancelled): the run is interrupted and runs again. Any other reason but
# "finished" (start_error, a closespider_* limit) is the crawl failing.
STOPPED_REASONS = frozenset(("shutdown", "cancelled"))
# The close reason when the archive refuses writes (no such directory or
# bucket and none can be made, bad credentials): the run fails.
STORE_REFUSED = "store_refused"


def run_status(close_reason: str) -> str:
    """completed, interrupted or failed, from the spider's close reason."""
    if close_reason == "finished":
        return "completed"
    return "interrupted" if close_reason in STOPPED_REASONS else "failed"


class RunRecordExtension:
    def __init__(self, crawler: Crawler, writer, run_id: str, local_copy: Path | None, spool_wait: float) -> None:
        self.crawler = crawler
        self.writer = writer
        self.spool_wait = spool_wait
        self.local_copy = local_copy
        self.run = start_run(run_id, [])
        self.refusal: str | None = None  # why the store refused us at the start, if it did

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RunRecordExtension":
        settings = crawler.settings
        if settings.getbool("NEWSARCHIVE_WORKER"):
            raise NotConfigured("a worker's runs are kept in Redis (RedisRunExtension)")
        local = settings.get("NEWSARCHIVE_RUN_RECORD_FILE")
        extension = cls(crawler, archive_writer(crawler), settings.get("NEWSARCHIVE_RUN_ID") or new_run_id(),
                        Path(local) if local else None, settings.getfloat("NEWSARCHIVE_SPOOL_WAIT"))
        connect = crawler.signals.connect
        connect(extension.spider_opened, scrapy_signals.spider_opened)
        connect(extension.spider_closed, scrapy_signals.spider_closed)
        signals.connect_run_bookkeeping(crawler, extension)
        return extension

    async def spider_opened(self, spider) -> None:
        self.run.sources = sorted(getattr(spider, "sources", {}))
        spider.run_id = self.run.run_id
        try:
            await maybe_deferred_to_future(deferToThread(self._prepare_store))
        except StoreError as exc:
            # Nothing could be written, nor would the spool ever drain: the
            # crawl stops before its first request, and the run fails saying why.
            logger.error("the archive refuses writes, the crawl stops: %s", exc)
            self.refusal = str(exc)
            raise CloseSpider(STORE_REFUSED) from exc

    def _prepare_store(self) -> None:
        """Create the archive if needed and replay what an earlier run left in the spool.

        A store that is out of reach does not stop the crawl (writes wait in
        the spool); one that refuses us (credentials, no bucket) does.
        """
        try:
            self.writer.store.ensure()
        except StoreUnavailable as exc:
            logger.warning("the archive is out of reach, writes will wait in the local spool: %s", exc)
            return
        if self.writer.spool.pending:
            logger.warning("replaying %d writes an earlier run left in the spool", self.writer.spool.pending)
            self.writer.spool.replay(self.writer.store, force=True)

    def item_scraped(self, item, spider=None) -> None:
        if isinstance(item, ArticlePage) and item.status:
            self.run.count(item.status, item.source)
            self.run.count("images_stored", item.source, len(item.images_stored))
            self.run.count("image_bytes", item.source, sum(image["bytes"] for image in item.images_stored))

    def item_dropped(self, item, exception, spider=None, response=None) -> None:
        source = getattr(item, "source", None)
        if isinstance(exception, DuplicateArticle):
            self.run.count("duplicates", source)
            return
        self._fail(Failure(url=getattr(item, "url", ""), reason=str(exception), source=source or "", kind="article",
                           attempt=getattr(item, "attempt", 1)))

    def item_error(self, item, response, spider=None, failure=None) -> None:
        reason = failure.getErrorMessage() if failure is not None else "pipeline error"
        self._fail(Failure(url=getattr(item, "url", ""), reason=f"could not archive: {reason}", source=getattr(item, "source", ""), kind="store",
                           attempt=getattr(item, "attempt", 1)))

    def fetch_failed(self, url: str, reason: str, source: str, kind: str, article_url: str | None = None, attempt: int = 1) -> None:
        self._fail(Failure(url=url, reason=reason, source=source, kind=kind, article_url=article_url, attempt=attempt))

    def article_skipped(self, url: str, source: str, status: str = "skipped") -> None:
        self.run.count(status, source)

    def source_blocked(self, source: str, reason: str) -> None:
        self.run.blocked[source] = reason

    def _fail(self, failure: Failure) -> None:
        self.run.failures.append(failure)
        self.run.count("images_failed" if failure.kind == "image" else "failed", failure.source)

    async def spider_closed(self, spider, reason: str) -> None:
        # Wait a little for a store that went away: what still waits is replayed by the next run.
        if self.writer.spool.pending:
            self.run.spool_pending = await maybe_deferred_to_future(deferToThread(self.writer.drain, self.spool_wait))
        self.run.finished = utc_iso(datetime.now(timezone.utc))
        self.run.status = run_status(reason)
        if self.run.status == "failed":
            why = f"the archive refuses writes: {self.refusal}" if self.refusal else f"the crawl stopped early ({reason}); see its log"
            for source in self.run.sources:
                self._fail(Failure(url="", reason=why, source=source, kind="source"))
        if self.local_copy is not None:
            self.local_copy.parent.mkdir(parents=True, exist_ok=True)
            self.local_copy.write_bytes(run_bytes(self.run))
        try:
            await maybe_deferred_to_future(deferToThread(self.writer.write_run, self.run))
        except Exception as exc:  # noqa: BLE001 - the local copy still tells the parent
            logger.error("could not write the run record %s: %s", self.run.key, exc)
