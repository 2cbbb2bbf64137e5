"""newsarchive's own signals, beside Scrapy's.

Failures travel as signals so that one extension keeps the run record and
the components that notice a failure need not know about it.
"""

# kwargs: url, reason, source, kind ("article" | "feed" | "sitemap" | "listing" | "image"), article_url (images), attempt
fetch_failed = object()
# kwargs: url, source, status ("skipped": already archived, not fetched; "unchanged": a revisit answered 304)
article_skipped = object()
# kwargs: source, reason (e.g. a WAF challenge): the source as a whole could not be crawled
source_blocked = object()


def connect_run_bookkeeping(crawler, keeper) -> None:
    """Wire the outcome signals of a crawl to a run keeper's methods of the same names.

    Local crawls keep the run record in memory (RunRecordExtension), workers in
    Redis (RedisRunExtension): both listen to exactly these.
    """
    from scrapy import signals as scrapy_signals

    connect = crawler.signals.connect
    connect(keeper.item_scraped, scrapy_signals.item_scraped)
    connect(keeper.item_dropped, scrapy_signals.item_dropped)
    connect(keeper.item_error, scrapy_signals.item_error)
    connect(keeper.fetch_failed, fetch_failed)
    connect(keeper.source_blocked, source_blocked)
    connect(keeper.article_skipped, article_skipped)
