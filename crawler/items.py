"""What flows from the spider through the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.extract.article import ExtractedArticle, ExtractOptions, FeedHints

# Request meta the spider sets on every request: the source it is made for, and what it fetches.
SOURCE_META = "newsarchive_source"
KIND_META = "newsarchive_kind"  # "article", or a listing kind (crawler.incremental.LISTING_KINDS)
# An image fetched from its origin: the proxy URL it was found under, asked when the origin fails.
FALLBACK_META = "newsarchive_fallback_url"


@dataclass
class ArticlePage:
    """One fetched article page, filled in as it goes down the pipelines."""

    source: str
    url: str
    # The page, its hints and its article stay out of the item's repr, which
    # Scrapy logs with every dropped item: a failed article wrote its whole
    # page (up to tens of KB) into the log.
    body: bytes = field(repr=False)
    content_type: str | None
    fetched: datetime
    categories: list[str]  # the source's configured ones
    hints: FeedHints = field(default_factory=FeedHints, repr=False)  # a feed's body_html, perhaps
    options: ExtractOptions = field(default_factory=ExtractOptions, repr=False)
    capture: Any = None  # archive.warc.Capture of the page's response
    attempt: int = 1  # the how-manieth run in a row this page is tried
    challenge: bool | None = None  # a WAF challenge page, as the spider found; None: not looked at
    claimed: str | None = None  # its claim in a distributed run (runcounts.claim_token), settled by its outcome
    # Set by ExtractPipeline:
    article: ExtractedArticle | None = field(default=None, repr=False)
    image_urls: list[str] = field(default_factory=list)
    # Set by ArchiveImagesPipeline: one dict per image stored, in image_urls order.
    images_stored: list[dict[str, Any]] = field(default_factory=list)
    # Set by ArchiveRecordPipeline: "archived", "updated" or "unchanged".
    status: str | None = None
    article_id: str | None = None
