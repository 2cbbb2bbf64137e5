"""Helpers of the end-to-end crawl tests: configs, running a crawl, reading the archive."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterable

import yaml

from archive.keys import ARTICLES_PREFIX, RUNS_PREFIX
from archive.store import open_store
from tests.conftest import run_cli


def site_sources(site, *, lastmod_days: float | None = 3650 * 3) -> list[dict]:
    """Every feed and the sitemap index of the fixture site, as config sources."""
    sitemap = {"id": "site-sitemap", "kind": "sitemap", "url": site.url("/sitemap_index.xml"), "categories": ["地图"]}
    if lastmod_days is not None:
        sitemap["lastmod_days"] = lastmod_days
    return [
        {"id": "site-rss", "kind": "feed", "url": site.url("/feeds/rss.xml"), "categories": ["要闻", "RSS"]},
        {"id": "site-atom", "kind": "feed", "url": site.url("/feeds/atom.xml"), "categories": ["World"]},
        {"id": "site-json", "kind": "feed", "url": site.url("/feeds/feed.json"), "categories": ["精选"]},
        sitemap,
    ]


def write_config(path: Path, archive_url: str, sources: list[dict], *, endpoint_url: str | None = None, **crawl) -> Path:
    config = {
        "archive": {"url": archive_url, **({"endpoint_url": endpoint_url} if endpoint_url else {})},
        "crawl": {"download_delay": 0, "concurrency": 8, "extract_workers": 2, **crawl},
        "sources": sources,
        "daemon": {"state_dir": str(path.parent / "state")},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def crawl(config: Path, *sources: str, env: dict | None = None, timeout: float = 300):
    result = run_cli("crawl", *sources, "--config", str(config), env=env, timeout=timeout)
    assert result.returncode == 0, f"crawl failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    return result


def archive_store(url: str, endpoint_url: str | None = None):
    return open_store(url, endpoint_url=endpoint_url)


def article_records(store) -> dict[str, dict]:
    """canonical_url -> record, for every record under articles/."""
    records = {}
    for key in store.list(ARTICLES_PREFIX):
        record = json.loads(store.get(key))
        assert record["canonical_url"] not in records, f"two records for {record['canonical_url']}"
        records[record["canonical_url"]] = record
    return records


def object_fingerprints(store, prefix: str) -> dict[str, str]:
    return {key: hashlib.sha256(store.get(key)).hexdigest() for key in store.list(prefix)}


def latest_run(store) -> dict:
    keys = sorted(store.list(RUNS_PREFIX))
    assert keys, "no run record written"
    return json.loads(store.get(keys[-1]))


def archive_backend(request, tmp_path: Path) -> tuple[str, str | None, dict | None]:
    """(archive URL, endpoint, env) of a fresh archive; ``request.param`` is "local" or "s3".

    For a fixture parametrized ``params=["local", "s3"]``; the S3 one also sets
    this process's AWS variables so the test can read the bucket back.
    """
    if request.param == "local":
        return str(tmp_path / "archive"), None, None
    s3 = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_env")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/news", s3.endpoint_url, s3.env()


def check_image(store, record: dict, url: str, *, sha256: str, width: int, height: int, content_type: str) -> dict:
    """The record's image whose origin is `url`, checked against the stored object."""
    by_url = {image["url"]: image for image in record["images"]}
    assert url in by_url, f"{record['canonical_url']}: no image {url} in {sorted(by_url)}"
    image = by_url[url]
    assert (image["sha256"], image["width"], image["height"], image["content_type"]) == (sha256, width, height, content_type)
    data = store.get(image["key"])
    assert hashlib.sha256(data).hexdigest() == sha256 and image["bytes"] == len(data)
    assert f'src="{image["key"]}"' in record["html"], "the page's <img> points at the archived copy"
    return image


def rss_feed(items: Iterable[tuple[str, str]]) -> bytes:
    """A minimal RSS 2.0 feed of (title, link) items."""
    entries = "".join(f"<item><title>{title}</title><link>{link}</link></item>" for title, link in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()


def article_page(title: str, text: str = "of an article, long enough to be counted as its text") -> bytes:
    """A minimal article page: its title, an <h1> and five paragraphs of ``text``."""
    paragraphs = "".join(f"<p>Paragraph {n} {text}.</p>" for n in range(5))
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>").encode()


def add_feed_of_articles(site, folder: str, count: int, *, page: Callable | None = None,
                         listed: Callable[[], int] | None = None) -> list[str]:
    """FOLDER/0.html... served by the fixture site, and FOLDER/feed.xml naming them; returns their URLs.

    ``page(n)`` answers for article n, afresh each time (a Response); by
    default a fixed article page. ``listed()``: how many the feed names now (all by default).
    """
    from tests.fixture_site import Response

    urls = [site.url(f"{folder}/{n}.html") for n in range(count)]
    for n in range(count):
        answer = page or (lambda n: Response(200, article_page(f"{folder} {n}"), "text/html; charset=utf-8"))
        site.add_route(f"{folder}/{n}.html", lambda request, n=n: answer(n))
    site.add_route(f"{folder}/feed.xml", lambda request: Response(
        200, rss_feed((f"{folder} {n}", url) for n, url in enumerate(urls[:listed() if listed else count])), "application/rss+xml"))
    return urls
