"""Drops HTTP cache entries no crawl has stored for a while.

Scrapy's filesystem cache never deletes anything (an entry per distinct feed,
sitemap or list-page URL: dated child sitemaps, cursor-paged lists), so over
months of unattended runs it would only grow. An entry last stored more than
``NEWSARCHIVE_HTTPCACHE_MAX_AGE_DAYS`` ago is removed when a crawl ends. A
URL still crawled is stored again at every fetch and revalidation (a 304
freshens the entry), so only URLs no crawl asks for any more go.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.project import data_path
from twisted.internet.threads import deferToThread

from crawler.state import SECONDS_PER_DAY, old_files

logger = logging.getLogger(__name__)
# Scrapy's FilesystemCacheStorage: <dir>/<spider>/<key[:2]>/<key>/, this file written with every store.
ENTRY_MARKER = "pickled_meta"


def prune_http_cache(cache_dir: Path, max_age_seconds: float) -> int:
    """Remove the entries last stored more than ``max_age_seconds`` ago; how many were."""
    stale = old_files(cache_dir, f"*/*/*/{ENTRY_MARKER}", max_age_seconds)
    for marker in stale:
        shutil.rmtree(marker.parent, ignore_errors=True)
    return len(stale)


class HttpCachePruner:
    def __init__(self, cache_dir: Path, max_age_days: float) -> None:
        self.cache_dir = cache_dir
        self.max_age_days = max_age_days

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "HttpCachePruner":
        settings = crawler.settings
        max_age_days = settings.getfloat("NEWSARCHIVE_HTTPCACHE_MAX_AGE_DAYS")
        if not settings.getbool("HTTPCACHE_ENABLED") or max_age_days <= 0:
            raise NotConfigured("no HTTP cache, or one kept whole")
        pruner = cls(Path(data_path(settings["HTTPCACHE_DIR"])), max_age_days)
        crawler.signals.connect(pruner.spider_closed, signals.spider_closed)
        return pruner

    async def spider_closed(self, spider=None) -> None:
        removed = await maybe_deferred_to_future(
            deferToThread(prune_http_cache, self.cache_dir, self.max_age_days * SECONDS_PER_DAY))
        if removed:
            logger.info("removed %d HTTP cache entries not stored for %g days", removed, self.max_age_days)
