"""Incremental crawls: conditional feeds, no re-fetch of archived pages, revisits, bounded retries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from archive.runs import Failure, start_run
from archive.store import open_store
from crawler.incremental import MAX_ATTEMPTS, failures_to_retry, revisit_due
from archive.catalog import CatalogEntry
from tests.crawl_helpers import archive_store, crawl, latest_run, write_config
from tests.fixture_site import ARTICLES, FixtureSite
from tests.fixture_site.responses import Response

ETAG = '"feed-v1"'


def _feed(site) -> bytes:
    items = "".join(f"<item><title>{a.title}</title><link>{a.url(site.base_url)}</link></item>" for a in ARTICLES[:3])
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("cache_control", [None, "no-cache"])
def test_feeds_are_fetched_conditionally_and_archived_pages_not_again(tmp_path, cache_control):
    # "no-cache" means "revalidate before use", not "fetch the whole feed again".
    site = FixtureSite().start()
    feed_requests: list[dict] = []
    headers = {"ETag": ETAG, **({"Cache-Control": cache_control} if cache_control else {})}

    def feed(request):
        feed_requests.append(request.headers)
        if request.headers.get("If-None-Match") == ETAG:
            return Response(304, b"", "application/rss+xml", headers=headers)
        return Response(200, _feed(site), "application/rss+xml", headers=headers)

    site.add_route("/cond/feed.xml", feed)
    try:
        config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"),
                              [{"id": "cond", "kind": "feed", "url": site.url("/cond/feed.xml")}])
        crawl(config)
        pages = {a.path: site.count(a.path) for a in ARTICLES[:3]}
        crawl(config)
        assert feed_requests[-1].get("If-None-Match") == ETAG, "the second fetch of the feed is conditional"
        assert {a.path: site.count(a.path) for a in ARTICLES[:3]} == pages, "archived pages are not fetched again"
        run = latest_run(archive_store(str(tmp_path / "archive")))
        assert run["counts"]["skipped"] == 3 and run["status"] == "completed"
    finally:
        site.stop()


def test_young_articles_are_revisited_conditionally(site, tmp_path):
    config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"),
                          [{"id": "rss", "kind": "feed", "url": site.url("/feeds/atom.xml"), "revisit_days": 36500}])
    crawl(config)
    site.reset_log()
    crawl(config)
    article_hits = [h for m, p, h in site.requests if any(p.startswith(a.path) for a in ARTICLES)]
    assert article_hits and all("If-Modified-Since" in h for h in article_hits)
    run = latest_run(archive_store(str(tmp_path / "archive")))
    assert run["counts"]["unchanged"] == len(article_hits) and run["counts"]["skipped"] == 0


def test_revisit_due_by_publication_age():
    now = datetime(2021, 11, 1, tzinfo=timezone.utc)
    entry = CatalogEntry(id="a" * 16, key="k", source="s", title="t", url="u", published="2021-10-30T00:00:00+00:00",
                         fetched="2021-10-30T01:00:00+00:00", language="zh")
    assert revisit_due(entry, 3, now)
    assert not revisit_due(entry, 1, now)
    assert not revisit_due(entry, 0, now)


def test_failures_are_retried_a_bounded_number_of_times(tmp_path):
    store = open_store(str(tmp_path / "archive"))
    now = datetime.now(timezone.utc)
    older = start_run(f"{(now - timedelta(hours=2)):%Y%m%dT%H%M%SZ}-aaaaaa", ["feed-a", "feed-b"])
    older.failures = [Failure(url="http://x/old", reason="HTTP 500", source="feed-a", kind="article")]
    newer = start_run(f"{(now - timedelta(hours=1)):%Y%m%dT%H%M%SZ}-bbbbbb", ["feed-a"])
    newer.failures = [
        Failure(url="http://x/again", reason="HTTP 500", source="feed-a", kind="article", attempt=2),
        Failure(url="http://x/given-up", reason="HTTP 500", source="feed-a", kind="article", attempt=MAX_ATTEMPTS),
        Failure(url="http://x/img.jpg", reason="HTTP 404", source="feed-a", kind="image"),
    ]
    for run in (older, newer):
        run.status = "completed"
        store.put(run.key, json.dumps(run.to_dict()).encode())
    retry = failures_to_retry(store, {"feed-a", "feed-b"}, now)
    # feed-a: only its latest run counts; feed-b's latest run is the older one (no failures of its own).
    assert [(f.url, f.attempt) for f in retry] == [("http://x/again", 2)]


def test_a_run_that_did_not_complete_keeps_the_older_failures(tmp_path):
    # A crawl killed at its run_timeout: the daemon's record of it names only
    # the source's failure. The articles the run before failed on, and what
    # the killed run itself failed on, are all still to be tried again.
    store = open_store(str(tmp_path / "archive"))
    now = datetime.now(timezone.utc)
    completed = start_run(f"{(now - timedelta(hours=3)):%Y%m%dT%H%M%SZ}-aaaaaa", ["feed-a"])
    completed.status = "completed"
    completed.failures = [Failure(url="http://x/a1", reason="HTTP 500", source="feed-a", kind="article"),
                          Failure(url="http://x/a2", reason="HTTP 500", source="feed-a", kind="article")]
    interrupted = start_run(f"{(now - timedelta(hours=2)):%Y%m%dT%H%M%SZ}-bbbbbb", ["feed-a"])
    interrupted.status = "interrupted"
    interrupted.failures = [Failure(url="http://x/a1", reason="HTTP 500", source="feed-a", kind="article", attempt=2),
                            Failure(url="http://x/s1", reason="could not archive: spool full", source="feed-a", kind="store")]
    killed = start_run(f"{(now - timedelta(hours=1)):%Y%m%dT%H%M%SZ}-cccccc", ["feed-a"])
    killed.status = "failed"
    killed.failures = [Failure(url="", reason="timeout: killed after 3600 s", source="feed-a", kind="source")]
    for run in (completed, interrupted, killed):
        store.put(run.key, json.dumps(run.to_dict()).encode())
    retry = sorted((f.url, f.attempt, f.kind) for f in failures_to_retry(store, {"feed-a"}, now))
    assert retry == [("http://x/a1", 2, "article"), ("http://x/a2", 1, "article"), ("http://x/s1", 1, "article")]
    # Given up on in the newest run: an older run's lower attempt does not bring it back.
    killed.failures.append(Failure(url="http://x/a2", reason="HTTP 500", source="feed-a", kind="article", attempt=MAX_ATTEMPTS))
    store.put(killed.key, json.dumps(killed.to_dict()).encode())
    assert "http://x/a2" not in {f.url for f in failures_to_retry(store, {"feed-a"}, now)}


def test_an_archived_article_with_a_failed_image_is_fetched_again(site, tmp_path):
    """The missing image of the fixture site is tried again next run, with its article."""
    missing = next(a for a in ARTICLES if any(i.missing for i in a.images))
    config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"),
                          [{"id": "rss", "kind": "feed", "url": site.url("/feeds/rss.xml")}])
    crawl(config)
    image = next(i for i in missing.images if i.missing)
    hits = site.count(image.path)
    page_hits = site.count(missing.path)
    crawl(config)
    assert site.count(missing.path) == page_hits + 1, "the article page is fetched again"
    assert site.count(image.path) > hits, "and its failed image with it"
    run = latest_run(archive_store(str(tmp_path / "archive")))
    assert any(f["kind"] == "image" and f["attempt"] == 2 for f in run["failures"]), run["failures"]


def test_catalog_entries_lost_by_a_killed_crawl_are_written_again(site, tmp_path):
    # A crawl killed before its last catalog part leaves records the catalog
    # does not know. The next crawl fetches them (they are not skippable),
    # finds them unchanged, and catalogues them: the one after skips them all.
    from archive.catalog import CATALOG_PREFIX, list_entries

    archive = str(tmp_path / "archive")
    config = write_config(tmp_path / "cfg.yaml", archive, [{"id": "rss", "kind": "feed", "url": site.url("/feeds/atom.xml")}])
    crawl(config)
    store = archive_store(archive)
    ids = {entry.id for entry in list_entries(store)}
    assert ids
    for key in list(store.list(CATALOG_PREFIX)):
        store.delete(key)
    crawl(config)
    run = latest_run(store)
    assert run["counts"]["unchanged"] == len(ids) and run["counts"]["archived"] == 0
    assert {entry.id for entry in list_entries(store)} == ids, "the lost entries are back"
    crawl(config)
    assert latest_run(store)["counts"]["skipped"] == len(ids)


def test_a_feed_answered_from_the_http_cache_is_not_captured_again(tmp_path):
    import io

    from warcio.archiveiterator import ArchiveIterator

    from archive.warc import WARC_PREFIX

    site = FixtureSite().start()
    site.add_route("/fresh/feed.xml", lambda request: Response(200, _feed(site), "application/rss+xml",
                                                                headers={"Cache-Control": "max-age=3600"}))
    try:
        archive = str(tmp_path / "archive")
        config = write_config(tmp_path / "cfg.yaml", archive, [{"id": "fresh", "kind": "feed", "url": site.url("/fresh/feed.xml")}])
        crawl(config)
        crawl(config)
        assert site.count("/fresh/feed.xml") == 1, "the second crawl took the feed from the cache"
        store = archive_store(archive)
        captured = []
        for key in store.list(WARC_PREFIX):
            for record in ArchiveIterator(io.BytesIO(store.get(key))):
                if record.rec_type == "response":
                    captured.append(record.rec_headers.get_header("WARC-Target-URI"))
        assert captured.count(site.url("/fresh/feed.xml")) == 1, "captured when fetched, not when read from the cache"
    finally:
        site.stop()


def test_http_cache_entries_not_stored_for_a_month_are_removed(tmp_path):
    # Scrapy's cache never deletes: a crawl's end removes entries last stored
    # more than NEWSARCHIVE_HTTPCACHE_MAX_AGE_DAYS (30) ago. A feed still in
    # use is stored again at each revalidation (304), so it stays.
    import os
    import time

    from crawler.extensions.cacheprune import ENTRY_MARKER

    site = FixtureSite().start()
    requests: list[dict] = []

    def feed(request):
        requests.append(request.headers)
        if request.headers.get("If-None-Match") == ETAG:
            return Response(304, b"", "application/rss+xml", headers={"ETag": ETAG})
        return Response(200, _feed(site), "application/rss+xml", headers={"ETag": ETAG})

    site.add_route("/aging/feed.xml", feed)
    site.add_route("/other/feed.xml", lambda request: Response(200, _feed(site), "application/rss+xml", headers={"ETag": '"other"'}))
    cache = tmp_path / "state" / "httpcache"

    def age(entry: Path, days: float) -> None:
        old = time.time() - days * 86400
        for path in entry.iterdir():
            os.utime(path, (old, old))

    try:
        archive = str(tmp_path / "archive")
        aging = write_config(tmp_path / "cfg.yaml", archive, [{"id": "aging", "kind": "feed", "url": site.url("/aging/feed.xml")}])
        other = write_config(tmp_path / "other.yaml", archive, [{"id": "other", "kind": "feed", "url": site.url("/other/feed.xml")}])
        crawl(aging)
        (entry,) = [m.parent for m in cache.glob(f"*/*/*/{ENTRY_MARKER}")]
        age(entry, 31)
        crawl(aging)  # revalidated: stored again, so kept
        assert requests[-1].get("If-None-Match") == ETAG and entry.exists()
        age(entry, 29)
        crawl(other)
        assert entry.exists(), "29 days unused: kept"
        age(entry, 31)
        crawl(other)
        assert not entry.exists(), "31 days unused: removed"
        assert len(list(cache.glob(f"*/*/*/{ENTRY_MARKER}"))) == 1, "the other feed's entry stays"
        crawl(aging)
        assert "If-None-Match" not in requests[-1], "fetched whole once more"
    finally:
        site.stop()


def test_a_failed_page_archived_since_is_not_fetched_again(site, tmp_path):
    # A run failed on a page, and a later run that did not complete archived
    # it: the retry finds it in the catalog and skips it.
    archive = str(tmp_path / "archive")
    config = write_config(tmp_path / "cfg.yaml", archive, [{"id": "rss", "kind": "feed", "url": site.url("/feeds/atom.xml")}])
    crawl(config)
    store = archive_store(archive)
    record = next(iter(json.loads(store.get(key)) for key in store.list("articles/") if key.endswith(".json")))
    failed = start_run(f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-ffffff", ["rss"])
    failed.status = "completed"
    failed.failures = [Failure(url=record["url"], reason="HTTP 500", source="rss", kind="article")]
    store.put(failed.key, json.dumps(failed.to_dict()).encode())
    path = record["url"].split(site.base_url, 1)[1].split("?")[0]
    before = site.count(path)
    crawl(config)
    assert site.count(path) == before, "archived: not fetched again"


def test_a_catalog_that_could_not_be_read_is_not_taken_for_an_empty_one(tmp_path):
    # The store is out of reach at the crawl's start: nothing is known, and
    # no article found unchanged may be taken for one missing from the catalog
    # (each would be catalogued again once the store is back).
    from archive.store import StoreUnavailable
    from crawler.incremental import archived_articles
    from crawler.pipelines.record import ArchiveRecordPipeline

    class Unreachable:
        url = "s3://down"

        def list(self, prefix=""):
            raise StoreUnavailable("connection refused")

    assert archived_articles(Unreachable(), tmp_path / "cache") is None
    assert archived_articles(open_store(str(tmp_path / "never-made")), tmp_path / "cache2") is None, "no archive there"
    empty = open_store(str(tmp_path / "empty"))
    empty.ensure()  # as a crawl does before it reads the catalog
    assert archived_articles(empty, tmp_path / "cache3") == {}

    class Item:
        status, article_id = "unchanged", "a" * 16

    assert ArchiveRecordPipeline(None, "r", lambda: {})._missing_from_catalog(Item())
    assert not ArchiveRecordPipeline(None, "r", lambda: None)._missing_from_catalog(Item())
    assert not ArchiveRecordPipeline(None, "r", lambda: {"a" * 16: None})._missing_from_catalog(Item())


def _article_with_a_photo(site, folder: str, title: str, item_extra: str = "") -> tuple[bytes, bytes]:
    """An article page at FOLDER/a.html showing FOLDER/photo.jpg, and a feed naming it."""
    body = (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p><img src='{folder}/photo.jpg' alt='photo'></p>"
            + "".join(f"<p>Paragraph {n} of an article whose photo failed, long enough to be text.</p>" for n in range(6))
            + "</article></body></html>").encode()
    feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>{title}</title>'
            f'<link>{site.url(folder + "/a.html")}</link>{item_extra}</item></channel></rss>').encode()
    return body, feed


def test_an_article_whose_image_retry_failed_is_still_fetched_for_its_image(tmp_path):
    # Run 1 archives the article without its image; run 2's retry of the page
    # itself fails (a 500); run 3 must still fetch it for the image, though the
    # catalog holds the article and the last failure was the page's.
    site = FixtureSite().start()
    page_status = [200]
    body, feed = _article_with_a_photo(site, "/img-retry", "Image retry")
    site.add_route("/img-retry/feed.xml", lambda request: Response(200, feed, "application/rss+xml"))
    site.add_route("/img-retry/a.html", lambda request: Response(page_status[0], body, "text/html; charset=utf-8"))
    site.add_route("/img-retry/photo.jpg", lambda request: Response(404, b"", "text/plain"))
    try:
        config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"),
                              [{"id": "img", "kind": "feed", "url": site.url("/img-retry/feed.xml")}])
        crawl(config)
        page_status[0] = 500
        crawl(config)
        page_status[0] = 200
        fetched = site.count("/img-retry/a.html")
        crawl(config)
        assert site.count("/img-retry/a.html") == fetched + 1, "fetched again for its image"
    finally:
        site.stop()


def test_a_young_article_fetched_again_for_its_image_is_not_asked_conditionally(tmp_path):
    # With revisit_days, an archived young article is revisited with
    # If-Modified-Since, and a 304 means "unchanged": nothing more is done.
    # Fetched again for a failed image, it must be asked for whole, or the
    # 304 leaves the image lost for good.
    from tests.fixture_site.images import IMAGES, image_bytes

    site = FixtureSite().start()
    image_status = [404]
    conditional: list[bool] = []
    key = next(iter(IMAGES))
    body, feed = _article_with_a_photo(site, "/young", "Young article",
                                       f"<pubDate>{datetime.now(timezone.utc):%a, %d %b %Y %H:%M:%S +0000}</pubDate>")

    def page(request):
        conditional.append("If-Modified-Since" in request.headers)
        if "If-Modified-Since" in request.headers:
            return Response(304, b"", "text/html")
        return Response(200, body, "text/html; charset=utf-8")

    site.add_route("/young/feed.xml", lambda request: Response(200, feed, "application/rss+xml"))
    site.add_route("/young/a.html", page)
    site.add_route("/young/photo.jpg", lambda request: Response(image_status[0], image_bytes(key) if image_status[0] == 200 else b"",
                                                               "image/jpeg" if image_status[0] == 200 else "text/plain"))
    try:
        archive = str(tmp_path / "archive")
        config = write_config(tmp_path / "cfg.yaml", archive,
                              [{"id": "young", "kind": "feed", "url": site.url("/young/feed.xml"), "revisit_days": 30}])
        crawl(config)
        image_status[0] = 200
        crawl(config)
        assert conditional == [False, False], "fetched whole for its image"
        store = archive_store(archive)
        (record,) = [json.loads(store.get(k)) for k in store.list("articles/") if k.endswith(".json")]
        assert [image["url"] for image in record["images"]] == [site.url("/young/photo.jpg")]
        crawl(config)
        assert conditional[-1], "images in: revisited conditionally again"
    finally:
        site.stop()
