"""The last step: the record goes into the archive, once."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from archive.records import article_id
from archive.store import open_store
from archive.writer import store_article
from crawler.extract.record import article_record
from crawler.items import ArticlePage


class DuplicateArticle(DropItem):
    """Reached again in this run (another source, another URL form)."""


class ArchiveRecordPipeline:
    def __init__(self, store) -> None:
        self.store = store
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchiveRecordPipeline":
        settings = crawler.settings
        return cls(open_store(settings["NEWSARCHIVE_ARCHIVE_URL"], endpoint_url=settings.get("NEWSARCHIVE_ARCHIVE_ENDPOINT")))

    async def process_item(self, item):
        if not isinstance(item, ArticlePage) or item.article is None:
            return item
        item.article_id = article_id(item.article.canonical_url)
        if item.article_id in self.seen:
            raise DuplicateArticle(f"already archived in this run as {item.article_id}")
        self.seen.add(item.article_id)
        record = article_record(item.article, source=item.source, fetched=item.fetched, categories=item.categories, images=item.images_stored)
        try:
            item.status = await maybe_deferred_to_future(deferToThread(store_article, self.store, record))
        except BaseException:
            # The id is free again: a later copy of the article may still make it.
            self.seen.discard(item.article_id)
            raise
        return item
