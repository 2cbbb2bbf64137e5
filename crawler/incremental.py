"""What a crawl need not fetch again, and what it must try again.

The state lives with the archive (its catalog and run records), so a second
machine or a wiped work directory does not re-crawl everything; the
catalog's segments are cached locally in the state directory.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scrapy.extensions.httpcache import RFC2616Policy

from archive.catalog import KnownArticle, known_articles
from archive.keys import RUNS_PREFIX
from archive.fields import article_id
from archive.runs import Failure
from archive.store import ArchiveStore, StoreError
from crawler.extract.article import canonical_url
from crawler.items import KIND_META

# A page that failed this many runs in a row is left alone (its failures stay in the run records).
MAX_ATTEMPTS = 5
# How far back run records are read for failures to try again.
RETRY_LOOKBACK_DAYS = 14
LISTING_KINDS = ("feed", "sitemap", "listing")
# Failures of an article page itself: not fetched, not extracted, or not stored.
ARTICLE_FAILURE_KINDS = ("article", "store")


class ListingCachePolicy(RFC2616Policy):
    """HTTP caching (ETag, Last-Modified, max-age) for feeds, sitemaps and list pages only.

    Articles are skipped through the archive's catalog instead, and images
    are content-addressed: caching their bodies locally would only cost disk.
    """

    def should_cache_request(self, request) -> bool:
        return request.meta.get(KIND_META) in LISTING_KINDS and super().should_cache_request(request)

    def is_cached_response_fresh(self, cachedresponse, request) -> bool:
        # "Cache-Control: no-cache" asks to revalidate before use (RFC 9111),
        # yet Scrapy's policy then sends no validators: many feeds say it,
        # and each would come back whole every run instead of as a 304.
        if b"no-cache" in self._parse_cachecontrol(cachedresponse):
            self._set_conditional_validators(request, cachedresponse)
            return False
        return super().is_cached_response_fresh(cachedresponse, request)


def url_article_id(url: str) -> str:
    """The article id a URL gives before its page is read (the page may name another canonical)."""
    return article_id(canonical_url(None, url))


def archived_articles(store: ArchiveStore, cache_dir: Path | None) -> dict[str, KnownArticle] | None:
    """Article id -> what is known of it, also under the id its fetched URL alone gives.

    A page whose rel=canonical differs from its URL is recognised before it
    is fetched again. None when the catalog could not be read: everything is
    then fetched and compared, nothing lost.
    """
    try:
        return known_articles(store, cache_dir, url_article_id)
    except StoreError:
        return None


def revisit_due(entry: KnownArticle, revisit_days: float, now: datetime) -> bool:
    """Still young enough that the site may edit it: fetch it again (conditionally)."""
    if revisit_days <= 0:
        return False
    published = datetime.fromisoformat(entry.published or entry.fetched)
    return now - published <= timedelta(days=revisit_days)


def failures_to_retry(store: ArchiveStore, source_ids: set[str], now: datetime | None = None) -> list[Failure]:
    """Article pages that failed (fetch, extraction, store) or whose images failed, under MAX_ATTEMPTS.

    A source's failures are those of its latest completed run, plus those of
    any later run that did not complete (killed, interrupted, crashed): such a
    run may never have got to the older ones. The newest attempt at a URL counts.
    """
    now = now or datetime.now(timezone.utc)
    keys: list[str] = []
    try:
        for days_back in range(RETRY_LOOKBACK_DAYS):
            day = now - timedelta(days=days_back)
            keys += list(store.list(f"{RUNS_PREFIX}{day:%Y/%m/%d}/"))
    except StoreError:
        return []
    pending: dict[tuple[str, str], Failure] = {}  # (source, url) -> the newest failure
    covered: set[str] = set()
    for key in sorted(keys, reverse=True):
        try:
            run = json.loads(store.get(key))
        except (StoreError, ValueError):
            continue
        fresh = set(run.get("sources", [])) & source_ids - covered
        if not fresh:
            continue
        if run.get("status") == "completed":
            covered |= fresh
        for failure in run.get("failures", []):
            if failure.get("source") not in fresh:
                continue
            if failure.get("kind") in ARTICLE_FAILURE_KINDS:
                retry = Failure(**{**failure, "kind": "article"})
            elif failure.get("kind") == "image" and failure.get("article_url"):
                # The article is fetched again: its images are tried again with it.
                retry = Failure(**{**failure, "url": failure["article_url"], "kind": "article"})
            else:
                continue
            pending.setdefault((retry.source, retry.url), retry)  # the newest attempt, even one given up on
        if covered == source_ids:
            break
    return [failure for failure in pending.values() if failure.attempt < MAX_ATTEMPTS]
