"""What extraction takes and gives: plain data, and the article's identity (its canonical URL).

Kept apart from :mod:`crawler.extract.core` so that the crawl process, which
only passes these along, never imports trafilatura (a fifth of a second at
every start): extraction runs in the worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from courlan import normalize_url

from crawler.extract.rules import SiteRules


@dataclass
class FeedHints:
    """What a feed or sitemap said about an article; used where the page is silent."""

    title: str | None = None
    published: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    body_html: str | None = None
    language: str | None = None


@dataclass
class ExtractOptions:
    timezone: str | None = None  # the source's, for times given without offset
    include_images: bool = True
    now: datetime | None = None  # "now" for relative times (刚刚, 3小时前); aware
    rules: SiteRules | None = None  # a site's own selectors, winning over generic extraction


@dataclass
class ExtractedArticle:
    url: str
    canonical_url: str
    title: str
    authors: list[str]
    published: str | None  # UTC ISO 8601
    language: str
    categories: list[str]  # from the feed and the page, not the config
    text: str
    html: str  # safe; <img src> are origin URLs until images are mirrored
    image_urls: list[str]  # as found in the page (may be proxied), in order, unique
    image_captions: dict[str, str] = field(default_factory=dict)  # caption by image URL (of image_urls)


class NoArticle(ValueError):
    """The page holds no article text (and the feed gave no body either)."""


def canonical_url(tree: lxml.html.HtmlElement | None, url: str, *, base_url: str | None = None) -> str:
    """The page's rel=canonical when it stays on the same site, else the URL; normalised.

    courlan drops tracking parameters (utm_*, fbclid, ...) and sorts the query.
    A canonical pointing at the site's home page or elsewhere is a CMS
    mistake, not an identity: it would merge every article into one. A
    relative canonical resolves against ``base_url`` (the page's <base href>).
    """
    candidate = url
    if tree is not None:
        for href in tree.xpath("//link[@rel='canonical']/@href")[:1]:
            absolute = urljoin(base_url or url, href.strip())
            parts, page = urlsplit(absolute), urlsplit(url)
            if parts.scheme in ("http", "https") and parts.hostname == page.hostname and parts.path.strip("/"):
                candidate = absolute
    try:
        # Not strict: courlan's strict mode also drops query parameters that
        # identify articles on many CMSs (?a=1), which would merge articles.
        normalised = normalize_url(candidate)
    except ValueError:
        normalised = candidate
    return urldefrag(normalised).url
