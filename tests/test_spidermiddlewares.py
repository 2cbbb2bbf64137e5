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
