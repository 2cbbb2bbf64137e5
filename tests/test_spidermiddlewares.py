"""Scrapy's URL length limit, each request it drops a failure of the run."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.test import get_crawler

from crawler.spidermiddlewares import RecordedUrlLengthMiddleware


class _Spider:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []

    def request_failed(self, request: Request, reason: str) -> None:
        self.failed.append((request.url, reason))


def test_a_link_past_the_limit_is_dropped_and_reported_once():
    # Article links are refused before they are requested (NewsSpider.article_request);
    # this one catches the rest: a list's next page, a sitemap's child.
    crawler = get_crawler(settings_dict={"URLLENGTH_LIMIT": 100})
    crawler.spider = spider = _Spider()
    middleware = RecordedUrlLengthMiddleware.from_crawler(crawler)
    long, short = Request("http://127.0.0.1/list?page=2&x=" + "x" * 200), Request("http://127.0.0.1/list?page=3")
    assert middleware.get_processed_request(long, None) is None
    assert middleware.get_processed_request(short, None) is short
    assert spider.failed == [(long.url, "URL longer than 100 characters (not fetched)")]


def test_a_spider_without_failures_of_its_own_only_loses_the_request():
    crawler = get_crawler(settings_dict={"URLLENGTH_LIMIT": 100})
    crawler.spider = object()
    middleware = RecordedUrlLengthMiddleware.from_crawler(crawler)
    assert middleware.get_processed_request(Request("http://127.0.0.1/" + "x" * 200), None) is None


def test_an_overlong_article_link_is_one_failure_of_kind_link_logged_short(caplog):
    from crawler import signals
    from crawler.config import FeedSource
    from crawler.spiders.news import NewsSpider

    crawler = get_crawler(NewsSpider, settings_dict={"URLLENGTH_LIMIT": 100})
    spider = NewsSpider.from_crawler(crawler, sources=[FeedSource(id="s", kind="feed", url="http://127.0.0.1/rss.xml")])
    failed = []

    def on_failed(**kwargs):
        failed.append(kwargs)

    crawler.signals.connect(on_failed, signal=signals.fetch_failed)
    long = "http://127.0.0.1/a.html?utm_content=" + "x" * 5000
    assert spider.article_request(long, "s") is None
    assert spider.article_request(long, "s") is None  # listed twice: one failure
    assert [(f["url"], f["kind"], f["reason"]) for f in failed] == [(long, "link", "URL longer than 100 characters (not fetched)")]
    assert spider.article_request("http://127.0.0.1/a.html", "s") is not None, "the same article's clean link"
    (logged,) = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(logged) < 400 and logged.startswith("link http://127.0.0.1/a.html?utm_content=xxx")
