"""End to end: `newsarchive crawl` over the fixture news site into a directory and into S3.

Each record is checked field by field against what the site served.
"""

from __future__ import annotations

import hashlib

import pytest

from archive.fields import article_id
from archive.records import load_record
from archive.keys import ARTICLES_PREFIX, IMAGES_PREFIX
from tests.crawl_helpers import (
    archive_store, article_records, crawl, latest_run, object_fingerprints, site_sources, write_config,
)
from tests.fixture_site import ARTICLES, STALE_ARTICLES


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    """(archive URL, endpoint, env) for a fresh archive in a directory or a bucket."""
    if request.param == "local":
        return str(tmp_path / "archive"), None, None
    s3 = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_env")  # this process reads the bucket back
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/news", s3.endpoint_url, s3.env()


@pytest.fixture
def crawled(site, backend, tmp_path):
    """The fixture site crawled once; yields (store, records, run record)."""
    url, endpoint, env = backend
    config = write_config(tmp_path / "newsarchive.yaml", url, site_sources(site, lastmod_days=3650), endpoint_url=endpoint)
    site.reset_log()
    crawl(config, env=env)
    store = archive_store(url, endpoint)
    return config, env, store, article_records(store), latest_run(store)


def test_every_article_lands_once_with_its_fields(site, crawled):
    _config, _env, store, records, _run = crawled
    base = site.base_url
    expected = {a.url(base): a for a in ARTICLES}
    assert set(records) == set(expected), "exactly the live articles, each once"
    for canonical, article in expected.items():
        record = records[canonical]
        load_record(store.get(f"{ARTICLES_PREFIX}{record['id'][:2]}/{record['id']}.json"))  # schema-valid
        assert record["id"] == article_id(canonical)
        assert record["title"] == article.title, canonical
        assert record["authors"] == list(article.authors), canonical
        assert record["published"] == article.published_utc, canonical
        assert record["language"] == article.language, canonical
        for paragraph in article.paragraphs:
            assert paragraph in record["text"], f"{canonical}: missing paragraph {paragraph[:40]!r}"
        for noise in article.boilerplate:
            assert noise not in record["text"], f"{canonical}: boilerplate {noise[:40]!r} kept"
        assert "<script" not in record["html"] and "onerror" not in record["html"]


def test_images_are_mirrored_once_and_verified(site, crawled):
    _config, _env, store, records, run = crawled
    base = site.base_url
    image_keys = set(store.list(IMAGES_PREFIX))
    stored_hashes = set()
    for article in ARTICLES:
        record = records[article.url(base)]
        by_url = {image["url"]: image for image in record["images"]}
        for expected in article.images:
            if expected.missing:
                assert expected.url(base) not in by_url
                continue
            image = by_url[expected.url(base)]  # the origin, never the proxy
            assert image["sha256"] == expected.sha256
            assert (image["width"], image["height"]) == (expected.width, expected.height)
            assert image["content_type"] == expected.content_type
            assert hashlib.sha256(store.get(image["key"])).hexdigest() == expected.sha256
            assert f'src="{image["key"]}"' in record["html"]
            stored_hashes.add(image["sha256"])
    # Content-addressed: one object per distinct image, shared ones included.
    assert len(image_keys) == len(stored_hashes)
    missing = [f for f in run["failures"] if f["kind"] == "image"]
    assert {f["url"] for f in missing} == {i.url(base) for a in ARTICLES for i in a.images if i.missing}


def test_run_record_and_site_traffic(site, crawled):
    _config, _env, _store, records, run = crawled
    assert run["status"] == "completed"
    assert run["counts"]["archived"] == len(ARTICLES)
    assert not [f for f in run["failures"] if f["kind"] != "image"], run["failures"]
    assert not site.paths() or not any(p.startswith("/private/") for p in site.paths())
    for stale in STALE_ARTICLES:
        assert stale.url(site.base_url) not in records, "lastmod filtering skips old pages"
        assert site.count(stale.path) == 0
    runs_dir = _config.parent / "state" / "runs"
    assert not list(runs_dir.glob("*.json")) if runs_dir.exists() else True, "the crawl's local copy of its run record is gone"


def test_categories_join_config_and_feed(site, crawled):
    config, _env, _store, records, _run = crawled
    configured = {source["id"]: source for source in site_sources(site)}
    for article in ARTICLES:
        record = records[article.url(site.base_url)]
        source = configured[record["source"]]
        assert record["categories"][: len(source["categories"])] == source["categories"]
        if source["kind"] == "feed":
            for category in article.feed_categories:
                assert category in record["categories"], (article.key, record["categories"])


def test_second_crawl_writes_no_new_article_objects(site, crawled):
    config, env, store, records, _run = crawled
    before = object_fingerprints(store, ARTICLES_PREFIX)
    # An article whose image failed is fetched again (its image with it); the rest is not.
    retried = [a for a in ARTICLES if any(i.missing for i in a.images)]
    settled = [a for a in ARTICLES if a not in retried]
    pages_before = {a.path: site.count(a.path) for a in ARTICLES}
    crawl(config, env=env)
    assert object_fingerprints(store, ARTICLES_PREFIX) == before
    run = latest_run(store)
    assert run["counts"]["archived"] == 0 and run["counts"]["updated"] == 0
    # Incremental: what the archive holds is not even fetched again.
    assert run["counts"]["skipped"] == len(settled)
    assert run["counts"]["unchanged"] == len(retried) > 0
    assert all(site.count(a.path) == pages_before[a.path] for a in settled)
    assert all(site.count(a.path) == pages_before[a.path] + 1 for a in retried)


def test_without_incremental_a_second_crawl_compares_and_writes_nothing(site, backend, tmp_path):
    url, endpoint, env = backend
    config = write_config(tmp_path / "full.yaml", url, site_sources(site, lastmod_days=3650), endpoint_url=endpoint, incremental=False)
    crawl(config, env=env)
    store = archive_store(url, endpoint)
    before = object_fingerprints(store, ARTICLES_PREFIX)
    crawl(config, env=env)
    assert object_fingerprints(store, ARTICLES_PREFIX) == before
    run = latest_run(store)
    assert run["counts"]["unchanged"] == len(ARTICLES) and run["counts"]["archived"] == 0
