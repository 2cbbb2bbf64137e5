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
