"""RSS 0.9x/1.0/2.0, Atom and JSON Feed, through feedparser."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser

from crawler.extract.core import FeedHints
from crawler.sources.xmlsafety import check_xml

# A description at least this long is taken as the article's full body.
FEED_BODY_MIN_CHARS = 400


class FeedError(ValueError):
    """Not a feed, or a hostile one."""


@dataclass
class FeedEntry:
    url: str
    hints: FeedHints


@dataclass
class ParsedFeed:
    title: str | None
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def _entry_body(entry: feedparser.FeedParserDict) -> str | None:
    for content in entry.get("content") or []:
        if content.get("value"):
            return content["value"]
    summary = entry.get("summary") or ""
    return summary if len(summary) >= FEED_BODY_MIN_CHARS else None


def _entry_authors(entry: feedparser.FeedParserDict) -> list[str]:
    names = [a.get("name", "").strip() for a in entry.get("authors") or [] if a.get("name")]
    if not names and entry.get("author"):
        names = [entry["author"].strip()]
    return list(dict.fromkeys(n for n in names if n))


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Entries with their link and what the feed says about each."""
    if not _looks_like_json(body):
        check_xml(body)
    # Bytes, never a string: feedparser would treat a string as a URL or path to fetch.
    parsed = feedparser.parse(body, response_headers={"content-type": content_type or "", "content-location": url})
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"not a feed: {parsed.get('bozo_exception')}")
    language = parsed.feed.get("language")
    feed = ParsedFeed(title=parsed.feed.get("title"), language=language)
    for entry in parsed.entries:
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else None)
        if not link:
            continue
        feed.entries.append(
            FeedEntry(
                url=urljoin(url, link.strip()),
                hints=FeedHints(
                    title=entry.get("title"),
                    published=entry.get("published") or entry.get("updated"),
                    authors=_entry_authors(entry),
                    categories=[t.get("term", "").strip() for t in entry.get("tags") or [] if t.get("term")],
                    body_html=_entry_body(entry),
                    language=language,
                ),
            )
        )
    return feed
