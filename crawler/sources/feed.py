"""RSS 0.9x/1.0/2.0, Atom and JSON Feed, through feedparser."""

from __future__ import annotations

import codecs
import html
import json
from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser

from crawler.extract.article import FeedHints
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
    return body.removeprefix(codecs.BOM_UTF8).lstrip()[:1] in (b"{", b"[")


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _json_authors(*holders: dict) -> list[str]:
    """JSON Feed 1.1 ``authors`` (1.0 ``author``); an item without any inherits the feed's."""
    for holder in holders:
        people = holder.get("authors")
        if not isinstance(people, list):
            people = [holder["author"]] if isinstance(holder.get("author"), dict) else []
        names = [_text(p.get("name")) for p in people if isinstance(p, dict)]
        if names := list(dict.fromkeys(n for n in names if n)):
            return names
    return []


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except ValueError as exc:
        raise FeedError(f"not a feed: invalid JSON: {exc}") from None
    if (
        not isinstance(data, dict)
        or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/")
        or not isinstance(data.get("items"), list)
    ):
        raise FeedError("not a feed: JSON without a jsonfeed.org version and items")
    language = _text(data.get("language"))
    feed = ParsedFeed(title=_text(data.get("title")), language=language)
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        item_id = _text(item.get("id")) if isinstance(item.get("id"), str) else None
        link = _text(item.get("url")) or _text(item.get("external_url")) or (item_id if item_id and item_id.startswith("http") else None)
        if not link:
            continue
        body_html = _text(item.get("content_html"))
        if body_html is None and (content_text := _text(item.get("content_text"))):
            body_html = "".join(f"<p>{html.escape(p.strip())}</p>" for p in content_text.split("\n\n") if p.strip())
        if body_html is None and len(summary := _text(item.get("summary")) or "") >= FEED_BODY_MIN_CHARS:
            body_html = summary
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        feed.entries.append(
            FeedEntry(
                url=urljoin(url, link),
                hints=FeedHints(
                    title=_text(item.get("title")),
                    published=_text(item.get("date_published")) or _text(item.get("date_modified")),
                    authors=_json_authors(item, data),
                    categories=[t.strip() for t in tags if isinstance(t, str) and t.strip()],
                    body_html=body_html,
                    language=_text(item.get("language")) or language,
                ),
            )
        )
    return feed


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
    if _looks_like_json(body):
        # feedparser 6.0 reads no JSON Feed: that is done here.
        return _parse_json_feed(body, url)
    check_xml(body)
    # Bytes, never a string: feedparser would treat a string as a URL or path to fetch.
    parsed = feedparser.parse(body, response_headers={"content-type": content_type or "", "content-location": url})
    if (parsed.bozo or not parsed.get("version")) and not parsed.entries:
        # No version: well-formed XML that is no RSS or Atom (an XHTML page).
        raise FeedError(f"not a feed: {parsed.get('bozo_exception') or 'no RSS or Atom root element'}")
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
