"""Fetching one page for ``newsarchive extract`` (crawls go through Scrapy)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from crawler.config import DEFAULT_USER_AGENT

MAX_PAGE_BYTES = 20 * 1024 * 1024
TIMEOUT_SECONDS = 30


class FetchError(OSError):
    pass


@dataclass
class FetchedPage:
    url: str
    body: bytes
    content_type: str | None


def fetch_page(url: str, *, user_agent: str = DEFAULT_USER_AGENT) -> FetchedPage:
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": "text/html,*/*;q=0.5"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(MAX_PAGE_BYTES + 1)
            if len(body) > MAX_PAGE_BYTES:
                raise FetchError(f"{url}: page larger than {MAX_PAGE_BYTES} bytes")
            return FetchedPage(response.geturl(), body, response.headers.get("Content-Type"))
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise FetchError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
