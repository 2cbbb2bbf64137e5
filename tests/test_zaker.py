"""ZAKER sources (issue 3): list pages in both markups, article pages in ZAKER's
markup, WAF challenges, link.php wrappers and CORS-proxied images.

Unit tests run on pages rendered by the fixture site's ZAKER module; the
end-to-end tests crawl that site (``newsarchive crawl``) into a directory and
into S3 and compare each record field by field with the ZAKER catalog.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import base64
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from archive.keys import ARTICLES_PREFIX
from archive.fields import article_id
from archive.records import load_record
from crawler.extract.core import ExtractOptions, FeedHints, NoArticle, extract_article
from crawler.extract.rules import ZAKER_RULES, is_challenge_page, unwrap_link
from crawler.extract.zh_dates import parse_zh_datetime
from crawler.sources.zaker import parse_zaker_list
from tests.crawl_helpers import (
    archive_backend, archive_store, article_records, check_image, crawl, latest_run, write_config,
)
from tests.fixture_site.zaker_catalog import (
    BLOCKED_CHANNEL_PATH, CHALLENGED, CHANNEL_LISTING, CHANNEL_PATH, EJINA, FAIR, HARVEST, LINK_WRAPPER_PATH,
    PARKING, POPLARS, PROXY_ONLY_IMAGES, RSSHUB_FEED_PATH, SNOW, SOURCE_PATH, ZAKER_ARTICLES, ZakerArticle,
    boilerplate, channel_articles, channel_page_path, check_zaker_catalog, source_articles, source_page_path,
    wrapped_link,
)
from tests.fixture_site.zaker_pages import article_body, article_page, challenge_page, channel_page, source_page
from tests.fixture_site.templates_common import CORS_PROXY_PATH

SH = ZoneInfo("Asia/Shanghai")
BASE = "http://127.0.0.1:8000"  # unit tests render pages for this origin; no server involved
CHALLENGE_TEXT = ("请稍候", "window.captcha", "请开启 JavaScript")
MAX_PAGES = 2
CONFIGURED = {"zaker-news": ["新媒体", "ZAKER"], "zaker-source": ["ZAKER", "来源"], "zaker-feed": ["RSSHub"]}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def zaker_sources(site, *, feed: bool = True, blocked: bool = True, max_pages: int = MAX_PAGES) -> list[dict]:
    sources = [
        {"id": "zaker-news", "kind": "zaker", "url": site.url(CHANNEL_PATH), "max_pages": max_pages,
         "categories": CONFIGURED["zaker-news"]},
        {"id": "zaker-source", "kind": "zaker", "url": site.url(SOURCE_PATH), "categories": CONFIGURED["zaker-source"]},
    ]
    if feed:
        sources.append({"id": "zaker-feed", "kind": "feed", "url": site.url(RSSHUB_FEED_PATH),
                        "categories": CONFIGURED["zaker-feed"]})
    if blocked:
        sources.append({"id": "zaker-blocked", "kind": "zaker", "url": site.url(BLOCKED_CHANNEL_PATH), "categories": ["ZAKER"]})
    return sources


def requests_of(site, path: str) -> int:
    """How often exactly `path` (query included, or none) was requested."""
    return site.paths().count(path)


def assert_published(record: dict, article: ZakerArticle) -> None:
    """The UTC instant, exact for absolute times, within the catalog's tolerance for relative ones."""
    assert record["published"].endswith("+00:00"), record["published"]
    expected, tolerance = article.shown.expected(datetime.fromisoformat(record["fetched"]))
    got = datetime.fromisoformat(record["published"])
    assert abs(got - expected) <= tolerance, (article.key, article.shown.text(now_utc()), got, expected)


# --- the catalog ----------------------------------------------------------------


def test_zaker_catalog_is_consistent():
    check_zaker_catalog()
    assert EJINA.shown.expected(now_utc()) == (datetime(2021, 10, 26, 22, 6, 31, tzinfo=timezone.utc), timedelta(0))
    labels = {a.shown.text(now_utc()) for a in ZAKER_ARTICLES}
    assert {"3小时前", "25分钟前", "昨天 08:15", "前天", "刚刚", "2021-10-27 06:06:31"} <= labels


@pytest.mark.parametrize("article", [a for a in ZAKER_ARTICLES if not a.challenge], ids=lambda a: a.key)
def test_fixture_pages_hold_what_the_tests_expect_gone(site, article):
    """The boilerplate, the proxied images and the wrapped link really are on the pages."""
    with urllib.request.urlopen(site.url(article.path), timeout=10) as response:
        page = response.read().decode()
    text = " ".join(lxml.html.document_fromstring(page).text_content().split())
    assert [b for b in boilerplate(article) if b not in text] == []
    assert '<span class="time">' in page and ('class="article-auther"' in page) == (article.author_markup == "a")
    for image in article.image_list:
        assert f'data-original="{image.url(site.base_url)}"' in page
        assert f'src="{site.base_url}{CORS_PROXY_PATH}?{image.url(site.base_url)}"' in page
    if article.link:
        assert f"{LINK_WRAPPER_PATH}?" in page and article.link[1] not in page


# --- parse_zaker_list --------------------------------------------------------------


def test_win_page_data_channel_page():
    now = now_utc()
    listing = parse_zaker_list(channel_page(BASE, 1, now), BASE + CHANNEL_PATH)
    assert [item.url for item in listing.items] == [a.url(BASE) for a in CHANNEL_LISTING[0]]  # protocol-relative resolved
    first = listing.items[0].hints
    assert (first.title, first.authors, first.categories, first.published, first.language) == (
        EJINA.title, [EJINA.author], list(EJINA.tags), "10月27日", "zh-CN")
    assert listing.next_url == BASE + channel_page_path(2)
    last = parse_zaker_list(channel_page(BASE, len(CHANNEL_LISTING), now), BASE + channel_page_path(3))
    assert [i.url for i in last.items] == [POPLARS.url(BASE)] and last.next_url is None


@pytest.mark.parametrize(("script", "urls", "next_url"), [
    # next_url as a plain string; an entry without url is skipped; tag missing
    ('window.WinPageData = {"data": {"article": [{"title": "甲", "url": "//h.example/article/a1"}, {"title": "乙"}],'
     ' "next_url": "/channel/1?page=2"}};', ["http://h.example/article/a1"], "http://z.example/channel/1?page=2"),
    # more script after the object; no next_url
    ('window.WinPageData={"data":{"article":[{"url":"https://h.example/article/b2","tag":[{"tag":"X"}]}]}};var a=1;',
     ["https://h.example/article/b2"], None),
])
def test_win_page_data_variants(script, urls, next_url):
    listing = parse_zaker_list(f"<html><body><script>{script}</script></body></html>", "http://z.example/channel/1")
    assert [i.url for i in listing.items] == urls
    assert listing.next_url == next_url


def test_broken_win_page_data_falls_back_to_the_html_list():
    page = ('<html><body><script>window.WinPageData = {"data": {"article": [</script>'
            '<div class="figure flex-block"><h2><a href="//h.example/article/c3" title="丙">丙</a></h2></div>'
            '<a id="nexturl" href="//h.example/channel/1?page=2">更多</a></body></html>')
    listing = parse_zaker_list(page, "https://z.example/channel/1")
    assert [(i.url, i.hints.title) for i in listing.items] == [("https://h.example/article/c3", "丙")]
    assert listing.next_url == "https://h.example/channel/1?page=2"


def test_older_html_list_source_pages():
    now = now_utc()
    first = parse_zaker_list(source_page(BASE, 1, now), BASE + SOURCE_PATH)
    # The content-block's image link and title link are one article; the wrapped one stays wrapped here.
    assert [i.url for i in first.items] == [FAIR.url(BASE), wrapped_link(BASE, HARVEST.url(BASE), HARVEST.zaker_id)]
    assert [i.hints.title for i in first.items] == [FAIR.title, HARVEST.title]
    assert unwrap_link(first.items[1].url) == HARVEST.url(BASE)
    assert first.next_url == BASE + source_page_path(2)  # <input id="nexturl" value=...>
    second = parse_zaker_list(source_page(BASE, 2, now), BASE + source_page_path(2))
    assert [i.url for i in second.items] == [SNOW.url(BASE)] and second.next_url is None


# --- unwrap_link ----------------------------------------------------------------------

TARGET = "http://www.huhhot.gov.cn/xxgk/202110/t20211027_1126843.html?from=zaker&id=>>?"


def _b64(text: str, **kwargs) -> str:
    return base64.b64encode(text.encode(), **kwargs).decode()


@pytest.mark.parametrize(("url", "expected"), [
    (wrapped_link("https://app.myzaker.com", TARGET, "6178f0a18e9f0941c3000001"), TARGET),
    # "+" and "/" of the base64 left unescaped: the "+" arrives as a space
    (f"https://app.myzaker.com/zaker/link.php?pk=1&b={_b64(TARGET)}", TARGET),
    # URL-safe alphabet, padding dropped
    (f"https://app.myzaker.com/zaker/link.php?b={_b64(TARGET, altchars=b'-_').rstrip('=')}&f=web", TARGET),
    # not an http(s) target, not base64, no b, not a link.php
    (f"https://app.myzaker.com/zaker/link.php?b={quote(_b64('javascript:alert(1)'))}", None),
    ("https://app.myzaker.com/zaker/link.php?b=%%%not-base64%%%", None),
    ("https://app.myzaker.com/zaker/link.php?pk=1&f=web", None),
    (f"https://app.myzaker.com/zaker/other.php?b={quote(_b64(TARGET))}", None),
])
def test_unwrap_link(url, expected):
    assert "+" in _b64(TARGET) and "/" in _b64(TARGET)  # the case above is real
    assert unwrap_link(url) == (expected or url)


# --- is_challenge_page ------------------------------------------------------------------


def _tree(html: str):
    return lxml.html.document_fromstring(html)


def test_challenge_page_is_detected_despite_its_inline_script():
    page = challenge_page(CHALLENGED.path)
    assert len(page) > 2000 and "window.captcha" in page  # kilobytes of script, a few words of text
    assert is_challenge_page(_tree(page), page)


def test_challenge_check_of_unparsed_text_never_raises():
    from crawler.extract.rules import is_challenge_text

    page = challenge_page(CHALLENGED.path)
    assert is_challenge_text('<?xml version="1.0" encoding="utf-8"?>' + page), "an XML declaration in front"
    assert not is_challenge_text("<!-- _waf_ -->"), "a comment alone: nothing a visitor sees"
    assert not is_challenge_text("")


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030", "utf-16", "utf-16-le", "hz", "iso2022_jp_2"])
def test_undecoded_challenge_bodies_are_never_cleared(encoding):
    from crawler.extract.rules import is_challenge_text, may_be_challenge

    page = challenge_page(CHALLENGED.path)
    assert may_be_challenge(page.encode(encoding))
    assert may_be_challenge(page.replace("window.captcha", "WINDOW.CAPTCHA").encode(encoding))
    # A challenge named only in Chinese (no script marker) is found in its GBK bytes too.
    chinese = "<html><body><p>请完成安全验证</p><script>var x = 1;</script></body></html>"
    assert is_challenge_text(chinese) and may_be_challenge(chinese.encode(encoding))


def test_undecoded_articles_are_cleared_on_their_bytes():
    from crawler.extract.rules import may_be_challenge

    page = article_page(EJINA, BASE, datetime(2021, 10, 27, tzinfo=timezone.utc))
    assert not may_be_challenge(page.encode("utf-8")) and not may_be_challenge(page.encode("gb18030"))
    # A tilde or an escape byte alone is no HZ or ISO-2022 shift (CSS sibling selectors, ~~x in scripts).
    decorated = page.replace("</head>", "<style>h1 ~ p {margin: 0}</style><script>var n = ~~x; // \x1b</script></head>")
    assert not may_be_challenge(decorated.encode("utf-8"))


@pytest.mark.parametrize("page", [
    article_page(EJINA, BASE, datetime(2021, 10, 27, tzinfo=timezone.utc)),
    # An article that mentions a verification page, and one that embeds a captcha widget for comments.
    "<html><body><h1>网站上线访问验证功能</h1><p>" + "为保障网站安全，本网近日上线了访问验证功能，读者在访问频率过高时需要完成验证。" * 20 + "</p></body></html>",
    "<html><body><article><p>" + "额济纳旗继续实行居家管控措施，志愿者将物资送到居民家门口。" * 25 + "</p></article>"
    "<div id='comment'><script>window.captcha = {appid: 1};</script></div></body></html>",
    "<html><body><p>页面加载中</p></body></html>",  # little text, but no challenge marker
])
def test_pages_that_are_no_challenge(page):
    assert not is_challenge_page(_tree(page), page)


# --- extraction of ZAKER article pages ------------------------------------------------------

PAGE_ARTICLES = [a for a in ZAKER_ARTICLES if not a.challenge]


@pytest.mark.parametrize("article", PAGE_ARTICLES, ids=lambda a: a.key)
def test_extract_zaker_article_page(article):
    now = now_utc()
    page = article_page(article, BASE, now)
    extracted = extract_article(page.encode(), article.url(BASE), options=ExtractOptions(now=now, rules=ZAKER_RULES))
    assert extracted.title == article.title
    # The header's account, not the span.auther of the recommendation and hot lists around it.
    assert extracted.authors == [article.author]
    expected, tolerance = article.shown.expected(now)
    assert abs(datetime.fromisoformat(extracted.published) - expected) <= tolerance, article.shown.text(now)
    assert extracted.categories == list(article.tags)
    assert extracted.language == "zh"
    for paragraph in article.paragraphs:
        assert paragraph in extracted.text.split("\n\n"), f"{article.key}: {paragraph[:30]!r} not a paragraph of its own"
    for noise in boilerplate(article):
        assert noise not in extracted.text and noise not in extracted.html, (article.key, noise)
    assert "link.php" not in extracted.html
    # Each image once, shown through the proxy that wraps its origin (the fallback).
    assert extracted.image_urls == [f"{BASE}{CORS_PROXY_PATH}?{BASE}{image.path}" for image in article.image_list]


@pytest.mark.parametrize("host", ["www.myzaker.com", "app.myzaker.com"])
def test_a_zaker_page_reached_from_any_source_gets_zakers_rules(host):
    # Through a feed (RSSHub) or a sitemap, or `newsarchive extract`: the
    # byline row led the text and authors and tags were empty.
    now = now_utc()
    for article in PAGE_ARTICLES:
        page = article_page(article, BASE, now).encode()
        url = f"http://{host}{urlsplit(article.url(BASE)).path}"
        by_host = extract_article(page, url, options=ExtractOptions(now=now))
        by_kind = extract_article(page, url, options=ExtractOptions(now=now, rules=ZAKER_RULES))
        assert (by_host.title, by_host.authors, by_host.categories, by_host.text) == (
            by_kind.title, by_kind.authors, by_kind.categories, by_kind.text), article.key
        assert by_host.authors == [article.author] and by_host.categories == list(article.tags)


def test_outbound_link_php_is_unwrapped_in_the_html():
    extracted = extract_article(article_page(PARKING, BASE, now_utc()).encode(), PARKING.url(BASE),
                                options=ExtractOptions(now=now_utc(), rules=ZAKER_RULES))
    anchor, target = PARKING.link
    assert f'href="{target}"' in extracted.html and f">{anchor}</a>" in extracted.html


def test_the_seed_article_in_zaker_markup():
    extracted = extract_article(article_page(EJINA, BASE, now_utc()).encode(), EJINA.url(BASE),
                                options=ExtractOptions(now=now_utc(), rules=ZAKER_RULES))
    assert extracted.published == "2021-10-26T22:06:31+00:00"
    assert extracted.text.split("\n\n")[:5] == list(EJINA.paragraphs)
    assert "分享让更多人看到" not in extracted.text and "分享让更多人看到" not in extracted.html
    assert "刘泽" not in extracted.authors and "张雪冬" not in extracted.authors  # ( 责编：… ) are editors


def test_challenge_page_is_never_an_article():
    page = challenge_page(CHALLENGED.path).encode()
    with pytest.raises(NoArticle, match="challenge"):
        extract_article(page, CHALLENGED.url(BASE), options=ExtractOptions(now=now_utc(), rules=ZAKER_RULES))
    # With the body an RSSHub feed carries, the feed's article stands in for it.
    feed = FeedHints(title=CHALLENGED.title, published="Wed, 27 Oct 2021 02:30:00 GMT", authors=[CHALLENGED.feed_author],
                     categories=list(CHALLENGED.feed_categories), body_html=article_body(CHALLENGED, BASE, furniture=False))
    extracted = extract_article(page, CHALLENGED.url(BASE), feed=feed, options=ExtractOptions(now=now_utc()))
    assert (extracted.title, extracted.authors, extracted.published) == (
        CHALLENGED.title, [CHALLENGED.feed_author], "2021-10-27T02:30:00+00:00")
    assert extracted.text.split("\n\n") == list(CHALLENGED.paragraphs)
    assert not [t for t in CHALLENGE_TEXT if t in extracted.text or t in extracted.html]


def test_a_challenge_verdict_given_is_not_checked_again():
    """The spider has looked: extraction takes its word (and spares the search)."""
    page = article_page(EJINA, BASE, now_utc()).encode()
    feed = FeedHints(title=CHALLENGED.title, body_html=article_body(CHALLENGED, BASE, furniture=False))
    # An ordinary page the spider found to be a challenge: the feed's body stands in for it...
    extracted = extract_article(page, EJINA.url(BASE), feed=feed, options=ExtractOptions(now=now_utc()), challenge=True)
    assert extracted.text.split("\n\n") == list(CHALLENGED.paragraphs)
    # ... and without one there is no article.
    with pytest.raises(NoArticle, match="challenge"):
        extract_article(page, EJINA.url(BASE), options=ExtractOptions(now=now_utc()), challenge=True)
    # Not looked at (None): the page is looked at here, and is its own article.
    extracted = extract_article(page, EJINA.url(BASE), feed=feed, options=ExtractOptions(now=now_utc()))
    assert extracted.title == EJINA.title


def _spider_and_response(page: bytes, url: str, *, content_type: str | None = "text/html; charset=utf-8"):
    from scrapy.http import Request
    from scrapy.http.response import Response
    from scrapy.http.response.html import HtmlResponse
    from scrapy.utils.test import get_crawler

    from crawler.config import FeedSource
    from crawler.spiders.news import ARTICLE_ID_META, NewsSpider

    spider = NewsSpider.from_crawler(get_crawler(NewsSpider), sources=[FeedSource(id="z", kind="feed", url=f"{BASE}/rss.xml")])
    request = Request(url, meta={ARTICLE_ID_META: article_id(url)})
    if content_type is None:  # what Scrapy makes of a body with control bytes and no Content-Type
        return spider, Response(url, body=page, request=request)
    return spider, HtmlResponse(url, body=page, request=request, headers={"Content-Type": content_type})


def test_the_spider_hands_its_challenge_verdict_to_extraction():
    feed = FeedHints(title=CHALLENGED.title, body_html=article_body(CHALLENGED, BASE, furniture=False))
    url = CHALLENGED.url(BASE)
    # An ordinary page: looked at, no challenge.
    spider, response = _spider_and_response(article_page(EJINA, BASE, now_utc()).encode(), url)
    assert [page.challenge for page in spider.parse_article(response, "z", FeedHints())] == [False]
    # With a feed body at hand, extraction looks (and reads the body if it must).
    assert [page.challenge for page in spider.parse_article(response, "z", feed)] == [None]
    # A challenge: its feed's body stands in, known to be needed.
    spider, response = _spider_and_response(challenge_page(CHALLENGED.path).encode(), url)
    spider.feed_bodies[article_id(url)] = ("z", feed)
    [page] = spider.parse_article(response, "z", FeedHints())
    assert page.challenge is True and page.hints.body_html == feed.body_html
    # A challenge met before its feed: kept, then stood in for when the feed comes.
    spider, response = _spider_and_response(challenge_page(CHALLENGED.path).encode(), url)
    assert list(spider.parse_article(response, "z", FeedHints())) == []
    spider.feed_bodies[article_id(url)] = ("z", feed)
    assert spider.feed_stand_in(url).challenge is True


def test_a_challenge_no_feed_stood_in_for_keeps_its_attempt_count():
    """Walled run after run, the article is given up on after MAX_ATTEMPTS like any failure, not asked for forever."""
    from crawler import signals
    from crawler.spiders.news import ATTEMPT_META

    spider, response = _spider_and_response(challenge_page(CHALLENGED.path).encode(), CHALLENGED.url(BASE))
    response.meta[ATTEMPT_META] = 3  # the third run in a row to ask for it
    failed = []

    def on_failed(**kwargs):
        failed.append(kwargs)

    spider.crawler.signals.connect(on_failed, signal=signals.fetch_failed)
    assert list(spider.parse_article(response, "z", FeedHints())) == []
    spider.report_unanswered_challenges()
    assert [(f["url"], f["attempt"]) for f in failed] == [(CHALLENGED.url(BASE), 3)]


@pytest.mark.parametrize("encoding", ["utf-16", "iso2022_jp_2"])
def test_a_page_scrapy_cannot_read_as_text_is_looked_at_too(encoding):
    """No Content-Type and control bytes: a plain Response, decoded by the spider as extraction would."""
    url = CHALLENGED.url(BASE)
    feed = FeedHints(title=CHALLENGED.title, body_html=article_body(CHALLENGED, BASE, furniture=False))
    spider, response = _spider_and_response(challenge_page(CHALLENGED.path).encode(encoding), url, content_type=None)
    assert not hasattr(response, "text")
    # A challenge: kept until a feed of the run carries the article, which then stands in.
    assert list(spider.parse_article(response, "z", FeedHints())) == []
    spider.feed_bodies[article_id(url)] = ("z", feed)
    page = spider.feed_stand_in(url)
    assert page.challenge is True
    extracted = extract_article(page.body, url, content_type=page.content_type, feed=page.hints, options=page.options,
                                challenge=page.challenge)
    assert extracted.text.split("\n\n") == list(CHALLENGED.paragraphs)
    # An article in such a body is one.
    spider, response = _spider_and_response(article_page(EJINA, BASE, now_utc()).encode(encoding), url, content_type=None)
    [page] = spider.parse_article(response, "z", FeedHints())
    assert page.challenge is False


def test_links_of_a_feed_body_standing_in_for_a_challenge_are_unwrapped():
    page = challenge_page(CHALLENGED.path).encode()
    wrapped = f"https://app.myzaker.com/zaker/link.php?pk=1&b={quote(_b64(TARGET))}"
    body = article_body(CHALLENGED, BASE, furniture=False).replace("</p>", f'<a href="{wrapped}">原文链接</a></p>', 1)
    feed = FeedHints(title=CHALLENGED.title, body_html=body)
    extracted = extract_article(page, CHALLENGED.url(BASE), feed=feed, options=ExtractOptions(now=now_utc()))
    assert "原文链接" in extracted.text
    assert "link.php" not in extracted.html and TARGET.replace("&", "&amp;").replace(">", "&gt;") in extracted.html

@pytest.mark.parametrize("page", [
    challenge_page(PARKING.path),  # the page is a WAF challenge
    '<html><body><div id="app">加载中…</div><script src="/app.js"></script></body></html>',  # an app shell
], ids=["challenge", "shell"])
def test_a_feed_body_keeps_zakers_inline_links_inside_their_paragraph(page):
    # RSSHub relays ZAKER's markup: the paragraph after an image box is a bare
    # text node, here with the outbound link in it (据<a>…</a>消息…).
    body = article_body(PARKING, BASE, furniture=False)
    anchor, target = PARKING.link
    assert f">{anchor}</a>" in body and "<p>据<a" not in body, "the fixture still has the shape tested"
    feed = FeedHints(title=PARKING.title, body_html=body)
    extracted = extract_article(page.encode(), PARKING.url(BASE), feed=feed, options=ExtractOptions(now=now_utc()))
    assert extracted.text.split("\n\n") == list(PARKING.paragraphs)
    paragraphs = lxml.html.fragment_fromstring(extracted.html, create_parent="div").findall("p")
    linked = [p for p in paragraphs if p.find("a") is not None]
    assert len(linked) == 1 and " ".join(linked[0].text_content().split()) == next(
        p for p in PARKING.paragraphs if anchor in p)
    assert linked[0].find("a").get("href") == target


# --- relative times as ZAKER shows them -------------------------------------------------------

NOW = datetime(2021, 10, 27, 12, 0, tzinfo=SH)


@pytest.mark.parametrize(("text", "expected"), [
    ("前天", datetime(2021, 10, 25, 0, 0, tzinfo=SH)),  # a bare day word: the day, no time
    ("昨天", datetime(2021, 10, 26, 0, 0, tzinfo=SH)),
    (" 昨日 ", datetime(2021, 10, 26, 0, 0, tzinfo=SH)),
    ("今天", datetime(2021, 10, 27, 0, 0, tzinfo=SH)),
    ("1小时前", datetime(2021, 10, 27, 11, 0, tzinfo=SH)),
    ("59分钟前", datetime(2021, 10, 27, 11, 1, tzinfo=SH)),
    ("30秒前", datetime(2021, 10, 27, 11, 59, 30, tzinfo=SH)),
    ("2021-10-27 06:06:31", datetime(2021, 10, 27, 6, 6, 31)),  # absolute: naive, read in the source's zone
])
def test_zaker_time_labels(text, expected):
    assert parse_zh_datetime(text, now=NOW) == expected


@pytest.mark.parametrize("text", [
    "前天的新闻", "昨天下午", "今日头条", "前天夜里发生的事故",  # day words inside words and prose
    "小时前", "分钟前",  # no number
])
def test_not_zaker_time_labels(text):
    assert parse_zh_datetime(text, now=NOW) is None


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    return archive_backend(request, tmp_path)


@pytest.fixture
def zaker_crawl(site, backend, tmp_path):
    """Channel (max_pages=2), source page, RSSHub feed and a blocked channel, crawled once."""
    url, endpoint, env = backend
    config = write_config(tmp_path / "newsarchive.yaml", url, zaker_sources(site), endpoint_url=endpoint)
    site.reset_log()
    crawl(config, env=env)
    assert site.errors == []
    store = archive_store(url, endpoint)
    return store, article_records(store), latest_run(store)


def test_zaker_articles_field_by_field(site, zaker_crawl):
    store, records, _run = zaker_crawl
    base = site.base_url
    from_pages = [a for a in channel_articles(MAX_PAGES) if not a.challenge] + source_articles()
    assert set(records) == {a.url(base) for a in from_pages} | {CHALLENGED.url(base)}
    for article in from_pages:
        record = records[article.url(base)]
        load_record(store.get(f"{ARTICLES_PREFIX}{record['id'][:2]}/{record['id']}.json"))  # schema-valid
        source = "zaker-source" if article in source_articles() else "zaker-news"
        assert (record["id"], record["source"], record["url"]) == (article_id(article.url(base)), source, article.url(base))
        assert record["title"] == article.title
        assert record["authors"] == [article.author]
        assert_published(record, article)
        assert record["language"] == "zh"
        assert record["categories"] == [*CONFIGURED[source], *article.tags]
        assert [p for p in article.paragraphs if p not in record["text"].split("\n\n")] == []
        for noise in boilerplate(article):
            assert noise not in record["text"] and noise not in record["html"], (article.key, noise)
        assert "link.php" not in record["html"] and "<script" not in record["html"]
    assert records[EJINA.url(base)]["published"] == "2021-10-26T22:06:31+00:00"
    assert records[EJINA.url(base)]["text"].split("\n\n")[:5] == list(EJINA.paragraphs)
    assert f'href="{PARKING.link[1]}"' in records[PARKING.url(base)]["html"]


def test_zaker_images_are_origins_stored_and_verified(site, zaker_crawl):
    store, records, run = zaker_crawl
    base = site.base_url
    for article in [*channel_articles(MAX_PAGES), *source_articles()]:
        record = records[article.url(base)]
        assert [image["url"] for image in record["images"]] == [i.url(base) for i in article.image_list]
        for image in article.image_list:
            check_image(store, record, image.url(base), sha256=image.sha256, width=image.width,
                        height=image.height, content_type=image.content_type)
        assert not [i for i in record["images"] if CORS_PROXY_PATH in i["url"]], "the origin, never the proxy"
    assert run["counts"]["images_failed"] == 0
    # Origins first; the proxy only for the image whose origin is gone.
    for article in ZAKER_ARTICLES:
        for image in article.image_list:
            proxied = f"{CORS_PROXY_PATH}?{image.url(base)}"
            if article in channel_articles(MAX_PAGES):
                assert site.count(image.path) == 1, image.path
            assert site.count(proxied) == (1 if image.key in PROXY_ONLY_IMAGES else 0), proxied


def test_challenge_article_comes_from_the_feed_and_blocked_list_is_recorded(site, zaker_crawl):
    store, records, run = zaker_crawl
    base = site.base_url
    record = records[CHALLENGED.url(base)]
    assert record["source"] == "zaker-feed"
    assert (record["title"], record["authors"]) == (CHALLENGED.title, [CHALLENGED.feed_author])
    assert record["published"] == CHALLENGED.feed_published.astimezone(timezone.utc).isoformat() == "2021-10-27T02:30:00+00:00"
    assert record["categories"] == [*CONFIGURED["zaker-feed"], *CHALLENGED.feed_categories]
    assert record["text"].split("\n\n") == list(CHALLENGED.paragraphs)
    for image in CHALLENGED.image_list:  # the feed shows it through the proxy; the origin is recorded
        check_image(store, record, image.url(base), sha256=image.sha256, width=image.width,
                    height=image.height, content_type=image.content_type)
    for other in records.values():
        assert not [t for t in CHALLENGE_TEXT if t in other["text"] or t in other["html"]], other["url"]
    assert site.count(CHALLENGED.path) == 1, "the challenge is neither solved nor retried"
    # The channel whose list page is a challenge: blocked, nothing of it followed or archived.
    assert set(run["blocked"]) == {"zaker-blocked"} and "WAF challenge" in run["blocked"]["zaker-blocked"]
    assert [(f["source"], f["kind"], f["url"]) for f in run["failures"]] == [
        ("zaker-blocked", "listing", site.url(BLOCKED_CHANNEL_PATH))]
    assert not [r for r in records.values() if r["source"] == "zaker-blocked"]
    assert requests_of(site, BLOCKED_CHANNEL_PATH) == 1
    assert run["status"] == "completed" and run["counts"]["archived"] == len(records)


def test_paging_follows_next_url_up_to_max_pages(site, zaker_crawl):
    _store, records, _run = zaker_crawl
    for page in range(1, MAX_PAGES + 1):
        assert requests_of(site, channel_page_path(page)) == 1, channel_page_path(page)
    assert requests_of(site, channel_page_path(MAX_PAGES + 1)) == 0, "beyond max_pages"
    assert site.count(POPLARS.path) == 0 and POPLARS.url(site.base_url) not in records
    assert [requests_of(site, source_page_path(p)) for p in (1, 2, 3)] == [1, 1, 0]  # #nexturl, default max_pages 3
    assert site.count(LINK_WRAPPER_PATH) == 0, "link.php is unwrapped, never requested"
    for article in [*channel_articles(MAX_PAGES), *source_articles()]:
        assert site.count(article.path) == 1, article.key


def test_challenge_without_a_feed_is_a_failure_not_an_article(site, tmp_path):
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "newsarchive.yaml", str(archive),
                          zaker_sources(site, feed=False, blocked=False, max_pages=1))
    site.reset_log()
    crawl(config)
    store = archive_store(str(archive))
    records, run = article_records(store), latest_run(store)
    expected = [a for a in channel_articles(1) if not a.challenge] + source_articles()
    assert set(records) == {a.url(site.base_url) for a in expected}
    assert run["blocked"] == {}, "one challenged article does not block the source"
    failures = [(f["source"], f["kind"], f["url"]) for f in run["failures"]]
    assert failures == [("zaker-news", "article", CHALLENGED.url(site.base_url))]
    assert "WAF challenge" in run["failures"][0]["reason"]
    assert [requests_of(site, channel_page_path(p)) for p in (1, 2)] == [1, 0]  # max_pages=1
    assert site.count(CHALLENGED.path) == 1
