"""List pages of sites with neither feed nor sitemap (e-paper sites and the like)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html


@dataclass
class ListingPage:
    article_urls: list[str] = field(default_factory=list)
    next_url: str | None = None


def _anchors(elements) -> list:
    """The links a selector names: the <a> it matched, else the links inside what it
    matched (``ul.list li``, ``.pager .next`` select the item, not its link)."""
    anchors = []
    for element in elements:
        anchors += [element] if element.tag == "a" else list(element.iter("a"))
    return anchors


def parse_listing(html: str, base_url: str, *, link_selector: str | None, link_pattern: str | None, next_selector: str | None) -> ListingPage:
    """Article links (by CSS selector, URL pattern, or both) and the next list page."""
    tree = lxml.html.document_fromstring(html)
    anchors = _anchors(tree.cssselect(link_selector)) if link_selector else tree.iter("a")
    pattern = re.compile(link_pattern) if link_pattern else None
    page = ListingPage()
    for anchor in anchors:
        href = anchor.get("href")
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        url = urljoin(base_url, href.strip())
        if pattern is not None and not pattern.search(url):
            continue
        if url not in page.article_urls:
            page.article_urls.append(url)
    if next_selector:
        for element in _anchors(tree.cssselect(next_selector)):
            if (href := element.get("href")) and not href.startswith(("javascript:", "#")):
                page.next_url = urljoin(base_url, href.strip())
                break
    return page
