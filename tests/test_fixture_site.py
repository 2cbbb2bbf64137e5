"""The fixture news site itself: every route answers over real HTTP on
127.0.0.1, and what it serves matches the catalog the crawl tests compare
against."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from PIL import Image

from tests.fixture_site import (
    ALL_ARTICLES,
    ARTICLES,
    ARTICLES_BY_KEY,
    FEEDS,
    IMAGE_FILES,
    MISSING_IMAGE_PATHS,
    PRIVATE_PATHS,
    ROUTES,
    SITEMAPS,
    STALE_ARTICLES,
    FixtureSite,
    Markup,
    Request,
    Response,
)
from tests.fixture_site.catalog import check_catalog

ROOT = Path(__file__).resolve().parent.parent
FETCH_TIMEOUT = 10
NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
GBK_ONLY_CHAR = "啰"  # in GBK/GB18030, not in GB2312


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_text(body: bytes, charset: str) -> str:
    return squash(lxml_html.fromstring(body.decode(charset)).text_content())


# --- catalog ----------------------------------------------------------------

def test_catalog_is_consistent_and_covers_the_cases():
    check_catalog()
    zh = [a for a in ARTICLES if a.language == "zh" and a.layout == "portal"]
    assert len(zh) >= 4
    assert len([a for a in ARTICLES if a.language == "en"]) >= 2
    naive_only = ARTICLES_BY_KEY["zh-ejina"]
    assert naive_only.published_utc == "2021-10-26T22:06:31+00:00"
    assert not naive_only.meta_published and not naive_only.json_ld
    assert any(a.meta_published for a in zh) and any(a.json_ld for a in zh)
    assert [a.key for a in ARTICLES if a.feed_body_only] == ["zh-feed-baotou"]
    markups = {f.markup for a in ARTICLES for f in a.figures}
    assert {Markup.PLACEHOLDER_LAZY, Markup.DATA_SRC, Markup.SRCSET, Markup.SRC} <= markups
    assert MISSING_IMAGE_PATHS == ["/images/2020/04/night-patrol.jpg"]
    owners = [a.key for a in ARTICLES if "/images/2020/02/checkpoint.jpg" in [i.path for i in a.images]]
    assert owners == ["zh-party-flag", "zh-hangjinhouqi"]
    # Editors are shown on pages but never count as authors.
    assert ARTICLES_BY_KEY["zh-ejina"].editors == ("刘泽", "张雪冬")


def test_boilerplate_never_overlaps_the_article_text():
    for article in ALL_ARTICLES:
        body = "\n".join([*article.paragraphs, *article.optional_text])
        assert not [b for b in article.boilerplate if b in body], article.key


# --- routes -------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(ROUTES))
def test_every_route_answers(site, path):
    status, headers, body = fetch(site.url(path))
    if path == "/cors/":  # the proxy needs a target
        assert status == 502
        return
    assert status == 200, path
    assert body
    assert int(headers["Content-Length"]) == len(body)


@pytest.mark.parametrize("path, content_type", [
    ("/robots.txt", "text/plain; charset=utf-8"),
    ("/feeds/rss.xml", "application/rss+xml; charset=utf-8"),
    ("/feeds/atom.xml", "application/atom+xml; charset=utf-8"),
    ("/feeds/feed.json", "application/feed+json; charset=utf-8"),
    ("/sitemap_index.xml", "application/xml; charset=utf-8"),
    ("/sitemaps/news.xml", "application/xml; charset=utf-8"),
    ("/sitemaps/pages.xml.gz", "application/x-gzip"),
    ("/static/placeholder.gif", "image/gif"),
    ("/news/2021/10/ejina-police-support.html", "text/html; charset=utf-8"),
    ("/news/2020/02/linchen-shuangjing.html", "text/html"),
])
def test_content_types(site, path, content_type):
    status, headers, _ = fetch(site.url(path))
    assert (status, headers["Content-Type"]) == (200, content_type)


def test_unknown_paths_and_missing_image_are_404(site):
    assert fetch(site.url("/no/such/page.html"))[0] == 404
    for path in MISSING_IMAGE_PATHS:
        assert fetch(site.url(path))[0] == 404


def test_head_requests(site):
    request = urllib.request.Request(site.url("/robots.txt"), method="HEAD")
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
        assert response.status == 200 and response.read() == b""


def test_robots_txt(site):
    _, _, body = fetch(site.url("/robots.txt"))
    text = body.decode()
    assert "Disallow: /private/" in text
    assert f"Sitemap: {site.base_url}/sitemap_index.xml" in text
    assert fetch(site.url(PRIVATE_PATHS[0]))[0] == 200
    _, _, home = fetch(site.url("/"))
    assert PRIVATE_PATHS[0].encode() in home


# --- article pages ------------------------------------------------------------

@pytest.mark.parametrize("article", ALL_ARTICLES, ids=lambda a: a.key)
def test_article_pages_render_the_catalog(site, article):
    status, _, body = fetch(site.url(article.path))
    assert status == 200
    text = page_text(body, article.charset)
    if article.feed_body_only:
        assert not [p for p in article.paragraphs if squash(p) in text]
        assert all(squash(b) in text for b in article.boilerplate)
        return
    tree = lxml_html.fromstring(body.decode(article.charset))
    assert squash(tree.findtext(".//h1")) == squash(article.title)
    assert all(squash(p) in text for p in article.paragraphs)
    # Boilerplate strings really are on the page (so asserting them absent means something).
    assert [b for b in article.boilerplate if squash(b) not in text] == []
    for image in article.images:
        assert image.path in body.decode(article.charset)
    if article.layout != "gbk":
        assert tree.xpath("//link[@rel='canonical']/@href") == [article.url(site.base_url)]
        assert tree.get("lang") == ("zh-CN" if article.language == "zh" else "en")


def test_naive_time_is_the_only_date_of_the_zaker_article(site):
    article = ARTICLES_BY_KEY["zh-ejina"]
    _, _, body = fetch(site.url(article.path))
    page = body.decode()
    assert "发布时间：2021-10-27 06:06:31" in page
    assert "作者：王晓燕" in page and "( 责编：刘泽、张雪冬 )" in page and "分享让更多人看到" in page
    assert "+08:00" not in page and "article:published_time" not in page and "ld+json" not in page
    assert f'data-original="{site.base_url}/images/202110/6178e3198e9f095dc36cd0d3_1024.jpg"' in page
    assert 'src="/static/placeholder.gif"' in page
    assert "10 月 25 日上午" in page  # a date in the body that is not the publish date


def test_structured_dates_and_authors(site):
    _, _, body = fetch(site.url(ARTICLES_BY_KEY["zh-party-flag"].path))
    assert b'<meta property="article:published_time" content="2020-02-06T09:12:45+08:00">' in body
    for key in ("zh-hangjinhouqi", "en-port", "en-wetlands", "en-bakery"):
        article = ARTICLES_BY_KEY[key]
        _, _, body = fetch(site.url(article.path))
        tree = lxml_html.fromstring(body.decode())
        data = json.loads(tree.xpath("//script[@type='application/ld+json']/text()")[0])
        assert data["@type"] == "NewsArticle"
        assert data["datePublished"] == article.published.isoformat()
        assert [a["name"] for a in data["author"]] == list(article.authors)
    assert "dateModified" in data  # en-bakery was updated after publication


def test_gbk_page(site):
    article = ARTICLES_BY_KEY["zh-gbk-shuangjing"]
    _, headers, body = fetch(site.url(article.path))
    assert headers["Content-Type"] == "text/html"
    text = body.decode("gb18030")
    assert GBK_ONLY_CHAR in text and GBK_ONLY_CHAR in article.text
    assert '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />' in text
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_srcset_and_proxy_images(site):
    _, _, body = fetch(site.url(ARTICLES_BY_KEY["zh-wuhan"].path))
    srcset = lxml_html.fromstring(body.decode()).xpath("//img[@srcset]/@srcset")[0]
    assert "wuhan-spring-1280.jpg 1280w" in srcset
    assert [i.path for i in ARTICLES_BY_KEY["zh-wuhan"].images][0].endswith("-1280.jpg")
    origin = ARTICLES_BY_KEY["zh-ejina"].images[1]
    status, headers, proxied = fetch(f"{site.base_url}/cors/?{origin.url(site.base_url)}")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(proxied).hexdigest() == origin.sha256
    assert fetch(f"{site.base_url}/cors/?http://example.com/a.jpg")[0] == 502


# --- images -------------------------------------------------------------------

@pytest.mark.parametrize("path", [p for p, i in IMAGE_FILES.items() if not i.missing])
def test_image_bytes_match_the_catalog(site, path):
    expected = IMAGE_FILES[path]
    status, headers, body = fetch(site.url(path))
    assert status == 200 and headers["Content-Type"] == expected.content_type
    assert hashlib.sha256(body).hexdigest() == expected.sha256
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (expected.width, expected.height)
        assert Image.MIME[image.format] == expected.content_type


def test_images_are_distinct():
    hashes = [i.sha256 for i in IMAGE_FILES.values() if not i.missing]
    assert len(hashes) == len(set(hashes))


# --- feeds and sitemaps -------------------------------------------------------

def test_rss_feed(site):
    _, _, body = fetch(site.url(FEEDS["rss"].path))
    items = etree.fromstring(body).findall("./channel/item")
    assert [i.findtext("link") for i in items] == [
        a.listed_url("rss", site.base_url) for a in FEEDS["rss"].articles
    ]
    assert "?utm_source=rss&utm_medium=feed" in items[0].findtext("link")
    for item, article in zip(items, FEEDS["rss"].articles):
        assert [c.text for c in item.findall("dc:creator", NS)] == list(article.authors)
        assert [c.text for c in item.findall("category")] == list(article.feed_categories)
        assert item.findtext("pubDate").endswith("+0800")
        encoded = item.findtext("content:encoded", namespaces=NS)
        assert (encoded is not None) == article.feed_body_only
        if encoded:
            text = squash(lxml_html.fromstring(encoded).text_content())
            assert all(squash(p) in text for p in article.paragraphs)
            assert article.images[0].url(site.base_url) in encoded


def test_atom_feed(site):
    _, _, body = fetch(site.url(FEEDS["atom"].path))
    entries = etree.fromstring(body).findall("atom:entry", NS)
    assert len(entries) == len(FEEDS["atom"].articles) >= 2
    for entry, article in zip(entries, FEEDS["atom"].articles):
        assert entry.find("atom:link", NS).get("href") == article.url(site.base_url)
        assert entry.findtext("atom:published", namespaces=NS) == article.published.isoformat()
        assert [a.findtext("atom:name", namespaces=NS) for a in entry.findall("atom:author", NS)] == list(article.authors)
        assert [c.get("term") for c in entry.findall("atom:category", NS)] == list(article.feed_categories)


def test_json_feed(site):
    _, _, body = fetch(site.url(FEEDS["jsonfeed"].path))
    document = json.loads(body)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["url"] for i in document["items"]] == [a.url(site.base_url) for a in FEEDS["jsonfeed"].articles]
    assert [i["date_published"] for i in document["items"]] == [
        a.published.isoformat() for a in FEEDS["jsonfeed"].articles
    ]


def test_sitemaps(site):
    _, _, body = fetch(site.url(SITEMAPS["sitemap-index"].path))
    children = etree.fromstring(body).xpath("//sm:sitemap/sm:loc/text()", namespaces=NS)
    assert children == [SITEMAPS[name].url(site.base_url) for name in ("sitemap-news", "sitemap-pages")]

    _, _, body = fetch(site.url(SITEMAPS["sitemap-news"].path))
    news = etree.fromstring(body)
    assert news.xpath("//sm:loc/text()", namespaces=NS) == [
        a.url(site.base_url) for a in SITEMAPS["sitemap-news"].articles
    ]
    assert news.xpath("//news:news/news:title/text()", namespaces=NS) == [
        a.title for a in SITEMAPS["sitemap-news"].articles
    ]
    assert news.xpath("//news:publication/news:language/text()", namespaces=NS)[0] == "zh-cn"

    _, headers, body = fetch(site.url(SITEMAPS["sitemap-pages"].path))
    assert headers["Content-Type"] == "application/x-gzip"
    pages = etree.fromstring(gzip.decompress(body))
    locs = pages.xpath("//sm:loc/text()", namespaces=NS)
    assert locs == [a.url(site.base_url) for a in SITEMAPS["sitemap-pages"].articles]
    lastmods = dict(zip(locs, pages.xpath("//sm:lastmod/text()", namespaces=NS)))
    for article in STALE_ARTICLES:
        assert lastmods[article.url(site.base_url)].startswith("2015-")


def test_one_article_through_two_sources(site):
    article = ARTICLES_BY_KEY["zh-ejina"]
    assert set(article.sources) == {"rss", "sitemap-news"}
    _, _, rss = fetch(site.url(FEEDS["rss"].path))
    _, _, news = fetch(site.url(SITEMAPS["sitemap-news"].path))
    assert article.listed_url("rss", site.base_url).replace("&", "&amp;").encode() in rss
    assert f"<loc>{article.url(site.base_url)}</loc>".encode() in news


# --- server behaviour -----------------------------------------------------------

def test_request_log(site):
    site.reset_log()
    path = ARTICLES_BY_KEY["zh-ejina"].path
    fetch(site.url(path + "?utm_source=rss&utm_medium=feed"), {"User-Agent": "fixture-test/1.0"})
    fetch(site.url(path))
    fetch(site.url("/robots.txt"))
    assert site.count(path) == 2
    assert site.count(path + "?utm_source=rss&utm_medium=feed") == 1
    method, logged_path, headers = site.requests[0]
    assert (method, logged_path) == ("GET", path + "?utm_source=rss&utm_medium=feed")
    assert headers["User-Agent"] == "fixture-test/1.0"
    assert site.paths() == [logged_path, path, "/robots.txt"]
    site.reset_log()
    assert site.requests == [] and site.errors == []


def test_absolute_urls_follow_the_port():
    with FixtureSite() as first, FixtureSite() as second:
        assert first.base_url != second.base_url
        pages = [fetch(s.url(FEEDS["rss"].path))[2].decode() for s in (first, second)]
        assert first.base_url in pages[0] and second.base_url not in pages[0]
        # Everything else is deterministic: same bytes once the origin is factored out.
        assert pages[0].replace(first.base_url, "BASE") == pages[1].replace(second.base_url, "BASE")


def test_fault_routes_can_be_added_per_instance():
    def slow(request: Request) -> Response:
        return Response(body=b"late", content_type="text/plain", delay=0.3)

    def reset(request: Request) -> Response:
        return Response(reset=True)

    def broken(request: Request) -> Response:
        raise ValueError("boom")

    with FixtureSite() as site:
        site.add_route("/faults/slow", slow)
        site.add_route("/faults/reset", reset)
        site.add_route("/faults/broken", broken)
        started = time.monotonic()
        assert fetch(site.url("/faults/slow"))[2] == b"late"
        assert time.monotonic() - started >= 0.3
        # A reset surfaces as ConnectionResetError or, mid-read, an http.client error.
        with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
            fetch(site.url("/faults/reset"))
        assert fetch(site.url("/faults/broken"))[0] == 500
        assert "ValueError: boom" in site.errors[0]
    assert "/faults/slow" not in ROUTES


def test_stop_releases_the_port():
    site = FixtureSite().start()
    port = site.port
    site.stop()
    assert not site.running
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_standalone_module_prints_base_url():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixture_site", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url), base_url
        assert fetch(base_url + "/robots.txt")[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
