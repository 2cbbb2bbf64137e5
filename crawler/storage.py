"""The one archive writer of a crawl, shared by its pipelines and extensions.

Every write goes through an ``archive.spool.SpooledWriter``: straight to the
store, or into the local spool while the store is out of reach.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from scrapy.crawler import Crawler

from archive.spool import SpooledWriter, StoreSpool
from archive.store import open_store

SPOOL_SUBDIR = "spool"


def archive_writer(crawler: Crawler) -> SpooledWriter:
    writer = getattr(crawler, "_newsarchive_writer", None)
    if writer is None:
        settings = crawler.settings
        url = settings["NEWSARCHIVE_ARCHIVE_URL"]
        store = open_store(url, endpoint_url=settings.get("NEWSARCHIVE_ARCHIVE_ENDPOINT"))
        # One spool per archive: a config pointed elsewhere never replays into the wrong store.
        name = hashlib.sha256(store.url.encode()).hexdigest()[:16]
        spool_dir = Path(settings.get("NEWSARCHIVE_STATE_DIR") or "state") / SPOOL_SUBDIR / name
        writer = SpooledWriter(store, StoreSpool(spool_dir, settings.getint("NEWSARCHIVE_SPOOL_MAX_BYTES")))
        crawler._newsarchive_writer = writer
    return writer
