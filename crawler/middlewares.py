"""Downloader middlewares of newsarchive's own."""

from __future__ import annotations

import ipaddress
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.error import DNSLookupError
from twisted.internet.task import deferLater

from crawler.items import FALLBACK_META, SOURCE_META

# Scrapy looks for a refresh tag in a page's first 4096 characters. A
# character of UTF-8, GB18030 or UTF-16/32 takes at most 4 bytes, so these
# bytes hold them all, unless a byte order mark or the escapes of an encoding
# that switches mode (ISO-2022-JP, HZ) take room: then fewer characters come
# out, and the whole page is decoded as Scrapy does.
META_REFRESH_CHARS = 4096
META_REFRESH_HEAD_BYTES = META_REFRESH_CHARS * 4
# Characters a cut multi-byte sequence at the end of the copy may decode to.
CUT_SEQUENCE_CHARS = 4
# A server asking for longer than this is not waited for within a run: the
# page is recorded as failed and tried again next run.
MAX_RETRY_AFTER_SECONDS = 120.0


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


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta refresh redirects, decoding only the start of the page to find the tag.

    Scrapy's reads the first 4096 characters of ``response.text``, which
    decodes the whole body: 0.1 ms of the reactor thread for a 100 KB page,
    whose text the crawl process has no other use for (extraction decodes
    it in its own worker). Scrapy's is handed a copy of the response cut to
    the bytes those characters can take, in the page's own encoding.
    """

    def process_response(self, request, response, spider=None):
        if not isinstance(response, HtmlResponse) or len(response.body) <= META_REFRESH_HEAD_BYTES:
            return super().process_response(request, response)
        head = response.replace(body=response.body[:META_REFRESH_HEAD_BYTES])  # its encoding: the page's
        if len(head.text) <= META_REFRESH_CHARS + CUT_SEQUENCE_CHARS:  # see META_REFRESH_HEAD_BYTES
            return super().process_response(request, response)
        result = super().process_response(request, head)
        return response if result is head else result


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's retries, honouring a 429/503's Retry-After before the next try."""

    async def process_response(self, request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request) and response.status in (429, 503):
            delay = retry_after_seconds(response.headers.get(b"Retry-After"))
            if delay is not None:
                if delay > MAX_RETRY_AFTER_SECONDS:
                    return response  # recorded as failed now, tried again next run
                await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return result


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved or address.is_unspecified


class PrivateAddressMiddleware:
    """Refuses to fetch private, loopback and link-local addresses the sources did not name.

    A page can link anywhere: without this, an article or an image URL could
    make the crawler probe the operator's own network. Hosts of the
    configured sources themselves are allowed wherever they are.
    """

    def __init__(self, allowed_hosts: set[str]) -> None:
        self.allowed_hosts = allowed_hosts

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "PrivateAddressMiddleware":
        if crawler.settings.getbool("NEWSARCHIVE_ALLOW_PRIVATE_ADDRESSES"):
            raise NotConfigured
        hosts = {h.lower() for h in crawler.settings.getlist("NEWSARCHIVE_SOURCE_HOSTS")}
        return cls(hosts)

    async def process_request(self, request, spider=None):
        host = (urlsplit(request.url).hostname or "").lower()
        if not host or host in self.allowed_hosts:
            return None
        if host == "localhost" or host.endswith(".localhost"):
            raise IgnoreRequest(f"refused: {host} is a local address")
        if not _looks_like_ip(host) and _through_proxy(request.url, host):
            return None  # the proxy resolves it, on its network: no local lookup to check
        addresses = [host] if _is_private(host) or _looks_like_ip(host) else await _resolve(host)
        if not addresses:
            # Never let through unchecked: a failed lookup is not cached, so the
            # download would ask again, and a hostile name server could answer
            # 127.0.0.1 then. As a DNS error, the retry middleware tries the
            # request (and this check) again. A name that resolves stays in
            # Scrapy's DNS cache: the download connects to the address checked.
            raise DNSLookupError(f"refused unchecked: cannot resolve {host}")
        if any(_is_private(address) for address in addresses):
            raise IgnoreRequest(f"refused: {host} is a private, loopback or link-local address")
        return None


def _through_proxy(url: str, host: str) -> bool:
    """Whether the environment sends this URL through a proxy (as Scrapy's HttpProxyMiddleware does)."""
    scheme = urlsplit(url).scheme
    return bool(getproxies().get(scheme)) and not proxy_bypass(host)


def _looks_like_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


async def _resolve(host: str) -> list[str]:
    """The address the crawl will connect to; none when the name does not resolve."""
    try:
        return [await maybe_deferred_to_future(reactor.resolve(host))]
    except Exception:  # noqa: BLE001 - any failure to resolve: a DNS error to the caller, never let through
        return []


class BlockedSourceMiddleware:
    """Once a source is blocked this run (a WAF challenge), what is still queued of it is not fetched.

    Each request would most likely be answered by the same challenge, and a
    crawler that keeps asking is the one whose address gets banned. The
    requests fail instead (IgnoreRequest, recorded by the spider's errback)
    and are asked for again next run.
    """

    def __init__(self) -> None:
        self.blocked: dict[str, str] = {}  # source id -> why

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "BlockedSourceMiddleware":
        from crawler import signals

        middleware = cls()
        crawler.signals.connect(middleware.source_blocked, signal=signals.source_blocked)
        return middleware

    def source_blocked(self, source: str, reason: str) -> None:
        self.blocked.setdefault(source, reason)

    def process_request(self, request, spider=None):
        source = request.meta.get(SOURCE_META)
        if source in self.blocked:
            raise IgnoreRequest(f"not fetched: the source is blocked this run ({self.blocked[source]})")
        return None
