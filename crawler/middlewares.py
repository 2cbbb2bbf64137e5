"""Downloader middlewares of newsarchive's own."""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler

FALLBACK_META = "newsarchive_fallback_url"


class ProxyFallbackMiddleware:
    """An image fetched from its origin falls back to the proxy URL it was found under.

    Pages such as the seed ZAKER post show images through a CORS proxy; the
    archive records and fetches the origin, and only when the origin fails
    (an error status or a network error) asks the proxy.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ProxyFallbackMiddleware":
        return cls()

    @staticmethod
    def _fallback(request: Request) -> Request | None:
        url = request.meta.get(FALLBACK_META)
        if not url or url == request.url:
            return None
        meta = {k: v for k, v in request.meta.items() if k != FALLBACK_META}
        return request.replace(url=url, meta=meta, dont_filter=True)

    def process_response(self, request, response, spider=None):
        if response.status >= 400 and (fallback := self._fallback(request)):
            return fallback
        return response

    def process_exception(self, request, exception, spider=None):
        return self._fallback(request)
