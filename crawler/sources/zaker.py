"""ZAKER (myzaker.com) channel and source pages.

Today a list page embeds its articles as JSON (``window.WinPageData =
{...}``); older pages carry HTML lists. Both are read, the JSON first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.html

from crawler.extract.article import FeedHints

WIN_PAGE_DATA_RE = re.compile(r"window\.WinPageData\s*=\s*")
# The older HTML lists: article links, and the next page.
HTML_LIST_LINKS = ("div.content-block a[href*='/article/']", ".article-wrap > a", "div.figure.flex-block h2 a")
HTML_NEXT_PAGE = ("#nexturl", "a#nexturl", "input#nexturl")


@dataclass
class ZakerListItem:
    url: str
    hints: FeedHints


@dataclass
class ZakerList:
    items: list[ZakerListItem] = field(default_factory=list)
    next_url: str | None = None


def win_page_data(html: str) -> dict | None:
    """The JSON object assigned to window.WinPageData, or None."""
    match = WIN_PAGE_DATA_RE.search(html)
    if not match:
        return None
    try:
        data, _end = json.JSONDecoder().raw_decode(html, match.end())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _items_from_json(data: dict, base_url: str) -> ZakerList:
    payload = data.get("data") or {}
    listing = ZakerList()
    for article in payload.get("article") or []:
        if not isinstance(article, dict) or not article.get("url"):
            continue
        tags = [t.get("tag") for t in article.get("tag") or [] if isinstance(t, dict) and t.get("tag")]
        listing.items.append(
            ZakerListItem(
                url=urljoin(base_url, article["url"]),
                hints=FeedHints(
                    title=article.get("title"),
                    published=article.get("date"),
                    authors=[article["author_name"]] if article.get("author_name") else [],
                    categories=tags,
                    language="zh-CN",
                ),
            )
        )
    next_url = payload.get("next_url")
    if isinstance(next_url, dict):
        next_url = next_url.get("value")
    listing.next_url = urljoin(base_url, next_url) if isinstance(next_url, str) and next_url else None
    return listing


def _items_from_html(html: str, base_url: str) -> ZakerList:
    tree = lxml.html.document_fromstring(html)
    listing = ZakerList()
    seen: set[str] = set()
    for selector in HTML_LIST_LINKS:
        for anchor in tree.cssselect(selector):
            href = anchor.get("href")
            if not href:
                continue
            url = urljoin(base_url, href)
            if url not in seen:
                seen.add(url)
                title = anchor.get("title") or " ".join(anchor.text_content().split()) or None
                listing.items.append(ZakerListItem(url=url, hints=FeedHints(title=title, language="zh-CN")))
    for selector in HTML_NEXT_PAGE:
        for element in tree.cssselect(selector):
            target = element.get("href") or element.get("value") or (element.text or "").strip()
            if target:
                listing.next_url = urljoin(base_url, target)
                return listing
    return listing


def parse_zaker_list(html: str, base_url: str) -> ZakerList:
    data = win_page_data(html)
    if data is not None:
        return _items_from_json(data, base_url)
    return _items_from_html(html, base_url)
