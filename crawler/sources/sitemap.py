"""Sitemaps: index files, plain and gzipped url sets, Google News sitemaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from crawler.extract.dates import parse_datetime, to_utc
from crawler.sources.xmlsafety import maybe_gunzip, parse_xml


class SitemapError(ValueError):
    """Not a sitemap."""


@dataclass
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None  # aware UTC
    news_title: str | None = None
    news_published: str | None = None
    news_language: str | None = None


@dataclass
class ParsedSitemap:
    is_index: bool
    entries: list[SitemapEntry] = field(default_factory=list)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child_text(element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def _news_fields(url_element) -> dict[str, str | None]:
    for child in url_element:
        if _local(child.tag) != "news":
            continue
        language = None
        for publication in child:
            if _local(publication.tag) == "publication":
                language = _child_text(publication, "language")
        return {
            "news_title": _child_text(child, "title"),
            "news_published": _child_text(child, "publication_date"),
            "news_language": language,
        }
    return {}


def parse_sitemap(body: bytes) -> ParsedSitemap:
    try:
        root = parse_xml(maybe_gunzip(body))
    except etree.XMLSyntaxError as exc:  # an empty body: lxml recovers from nothing
        raise SitemapError(f"not a sitemap: {exc}") from None
    if root is None or _local(root.tag) not in ("sitemapindex", "urlset"):
        raise SitemapError("not a sitemap (expected <sitemapindex> or <urlset>)")
    is_index = _local(root.tag) == "sitemapindex"
    sitemap = ParsedSitemap(is_index=is_index)
    for element in root:
        if _local(element.tag) not in ("sitemap", "url"):
            continue
        loc = _child_text(element, "loc")
        if not loc:
            continue
        lastmod_text = _child_text(element, "lastmod")
        lastmod = parse_datetime(lastmod_text) if lastmod_text else None
        sitemap.entries.append(
            SitemapEntry(loc=loc, lastmod=to_utc(lastmod) if lastmod else None, **_news_fields(element))
        )
    return sitemap
