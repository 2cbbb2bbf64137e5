"""The one archive writer of a crawl, shared by its pipelines and extensions.

Every write goes through an ``archive.spool.SpooledWriter``: straight to the
store, or into the local spool while the store is out of reach.
"""

from __future__ import annotations

from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.settings import Settings

from archive.spool import SpooledWriter, StoreSpool, spool_directory
from archive.store import open_store


def state_dir(settings: Settings) -> Path:
    """The crawl's state directory (spools, caches, run-record copies)."""
    return Path(settings.get("NEWSARCHIVE_STATE_DIR") or "state")


def archive_writer(crawler: Crawler) -> SpooledWriter:
    writer = getattr(crawler, "_newsarchive_writer", None)
    if writer is None:
        settings = crawler.settings
        url = settings["NEWSARCHIVE_ARCHIVE_URL"]
        store = open_store(url, endpoint_url=settings.get("NEWSARCHIVE_ARCHIVE_ENDPOINT"))
        spool_dir = spool_directory(state_dir(settings), store)
        writer = SpooledWriter(store, StoreSpool(spool_dir, settings.getint("NEWSARCHIVE_SPOOL_MAX_BYTES")))
        crawler._newsarchive_writer = writer
    return writer
