"""Fetching one page for ``newsarchive extract`` (crawls go through Scrapy)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from crawler.config import CrawlSettings



class FetchError(OSError):
    """Why a page could not be fetched (the caller names the page)."""


@dataclass
class FetchedPage:
    url: str
    body: bytes
    content_type: str | None


def fetch_page(url: str, settings: CrawlSettings | None = None) -> FetchedPage:
    """The page at ``url``, fetched as a crawl would (its User-Agent, timeout and size limit)."""
    settings = settings or CrawlSettings()
    request = urllib.request.Request(url, headers={"User-Agent": settings.user_agent_header, "Accept": "text/html,*/*;q=0.5"})
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:
            body = response.read(settings.max_page_bytes + 1)
            if len(body) > settings.max_page_bytes:
                raise FetchError(f"page larger than {settings.max_page_bytes} bytes")
            return FetchedPage(response.geturl(), body, response.headers.get("Content-Type"))
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise FetchError(str(getattr(exc, "reason", exc))) from exc
