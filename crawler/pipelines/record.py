"""The last step: the record goes into the archive, once, and into the catalog."""

from __future__ import annotations

from typing import Callable

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from archive.catalog import CatalogEntry, catalog_entry, segment_bytes, segment_key
from archive.fields import article_id
from archive.runs import new_run_id, run_started
from archive.spool import SPOOLED
from archive.writer import ARCHIVED, UNCHANGED, UPDATED
from crawler.extract.record import article_record
from crawler.incremental import url_article_id
from crawler.items import ArticlePage
from crawler.storage import archive_writer

# Catalog entries are written in parts, so a killed crawl loses at most this many.
CATALOG_PART_ENTRIES = 100
# Runs whose archived ids a worker remembers: those that may still be in flight at once.
SEEN_RUNS_KEPT = 8


class DuplicateArticle(DropItem):
    """Reached again in this run (another source, another URL form)."""


class ArchiveRecordPipeline:
    def __init__(self, writer, run_id: str, catalogued: Callable[[], dict | None] = lambda: None,
                 run_of: Callable[[str], str | None] = lambda source: None) -> None:
        self.writer = writer
        self.run_id = run_id
        # The article ids the archive's catalog held when the crawl began (None: not read).
        self.catalogued = catalogued
        # The run a source's item belongs to when not this process's (a worker outlives runs).
        self.run_of = run_of
        # Article ids archived, by run: a worker that kept one set took every
        # article of its second run of a source for a duplicate of the first.
        self.seen: dict[str, set[str]] = {}
        self.pending: list[CatalogEntry] = []
        self.parts_written = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchiveRecordPipeline":
        def catalogued() -> dict | None:
            spider = crawler.spider
            return spider.archived if getattr(spider, "catalog_read", False) else None

        def run_of(source: str) -> str | None:
            return getattr(crawler.spider, "run_of", lambda _source: None)(source)

        return cls(archive_writer(crawler), crawler.settings.get("NEWSARCHIVE_RUN_ID") or new_run_id(), catalogued, run_of)

    def _seen(self, item: ArticlePage) -> set[str]:
        run = self.run_of(item.source) or self.run_id
        if run not in self.seen:
            while len(self.seen) >= SEEN_RUNS_KEPT:
                del self.seen[next(iter(self.seen))]  # the oldest run's
            self.seen[run] = set()
        return self.seen[run]

    async def process_item(self, item):
        if not isinstance(item, ArticlePage) or item.article is None:
            return item
        item.article_id = article_id(item.article.canonical_url)
        seen = self._seen(item)
        if item.article_id in seen:
            raise DuplicateArticle(f"already archived in this run as {item.article_id}")
        seen.add(item.article_id)
        record = article_record(item.article, source=item.source, fetched=item.fetched, categories=item.categories,
                                images=item.images_stored, capture=item.capture)
        try:
            item.status = await maybe_deferred_to_future(deferToThread(self.writer.write_article, record))
        except BaseException:
            # The id is free again: a later copy of the article may still make it.
            seen.discard(item.article_id)
            raise
        if item.status in (ARCHIVED, UPDATED, SPOOLED) or self._missing_from_catalog(item):
            self.pending.append(catalog_entry(record, url_id=url_article_id(item.url)))
            if len(self.pending) >= CATALOG_PART_ENTRIES:
                await self.flush_catalog()
        return item

    def _missing_from_catalog(self, item: ArticlePage) -> bool:
        """Stored already, yet not in the catalog: its entry was lost (a crawl
        killed before writing its last part, a part the store refused). Catalogued
        now, or ls, search and export would never show it and every run would fetch it again."""
        catalogued = self.catalogued()
        return item.status == UNCHANGED and catalogued is not None and item.article_id not in catalogued

    async def flush_catalog(self) -> None:
        entries, self.pending = self.pending, []
        if not entries:
            return
        key = segment_key(self.run_id, run_started(self.run_id), self.parts_written)
        self.parts_written += 1
        data = segment_bytes(entries)
        await maybe_deferred_to_future(deferToThread(self.writer.write, "put", key, data, "application/x-ndjson; charset=utf-8"))

    async def close_spider(self) -> None:
        await self.flush_catalog()
