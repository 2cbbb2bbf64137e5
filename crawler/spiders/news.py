"""One spider for every source of a run; each kind is a small handler.

The handlers only turn what a source publishes into article requests: the
parsing is in ``crawler.sources`` (plain functions) and everything after
the fetch happens in the pipelines.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import scrapy
from scrapy import signals as scrapy_signals
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import signals
from crawler.capture import CAPTURE_META
from crawler.config import SourceBase
from crawler.extract.article import ExtractOptions, FeedHints
from crawler.extract.decode import decode_html
from crawler.incremental import LISTING_KINDS, revisit_due, url_article_id
from crawler.items import KIND_META, SOURCE_META, ArticlePage
from crawler.extract.rules import ZAKER_RULES, SiteRules, is_challenge_text, may_be_challenge, unwrap_link
from crawler.sources.feed import FeedError, parse_feed
from crawler.sources.listing import parse_listing
from crawler.sources.sitemap import SitemapError, parse_sitemap
from crawler.sources.xmlsafety import UnsafeXML
from crawler.sources.zaker import parse_zaker_list
from crawler.spidermiddlewares import overlong_reason

if TYPE_CHECKING:
    from archive.runs import Failure as RunFailure  # Failure here is Twisted's

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
ARTICLE_ID_META = "newsarchive_article_id"
# An article request's claim in a distributed run (runcounts.claim_token), settled by its outcome.
CLAIM_META = "newsarchive_claim"
ATTEMPT_META = "newsarchive_attempt"  # the how-manieth run in a row this page is tried
LOGGED_URL_CHARS = 300  # of a failed URL, in its warning
# Article pages answered by a WAF challenge in a row that block their source
# for the rest of the run (one may be a fluke of one page; several mean the
# site now challenges this crawler, and asking on gets it banned).
CHALLENGES_IN_A_ROW_TO_BLOCK = 3
IMAGES_RETRY_META = "newsarchive_images_retry"  # fetched again, archived already, for its failed images


def site_rules(source: SourceBase) -> SiteRules | None:
    """The selectors that override generic extraction for a source, if any."""
    if source.kind == "zaker":
        return ZAKER_RULES
    if source.kind == "listing":
        return SiteRules(title=source.title_selector, published=source.date_selector,
                         author=source.author_selector, body=source.body_selector, caption=source.caption_selector)
    return None


def content_type(response: Response) -> str | None:
    """The response's Content-Type header as sent, None when it has none."""
    return response.headers.get("Content-Type", b"").decode("latin-1") or None


def failure_reason(failure: Failure) -> str:
    """A short, operator-readable reason for a failed request."""
    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    message = failure.getErrorMessage()
    return f"{failure.type.__name__}: {message}" if message else failure.type.__name__


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, sources: Iterable[SourceBase] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources = {source.id: source for source in sources}
        self.requested_ids: set[str] = set()
        # A WAF challenge answered instead of an article: the article is taken
        # from a feed of this run that carries its whole body, whichever of the
        # two arrives first. Article id -> (challenge response, source id) /
        # (feed source id, the feed's hints).
        self.challenged: dict[str, tuple[Response, str]] = {}
        self.feed_bodies: dict[str, tuple[str, FeedHints]] = {}
        self.challenges_in_a_row: dict[str, int] = {}  # source id -> article pages
        self.overlong_links: set[str] = set()  # links past URLLENGTH_LIMIT this run, each a failure once

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "NewsSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.report_unanswered_challenges, signal=scrapy_signals.spider_idle)
        return spider

    # -- start ---------------------------------------------------------------
    async def start(self):
        await self.load_archive_state()
        for source in self.sources.values():
            handler = getattr(self, f"start_{source.kind}", None)
            if handler is None:
                self.report_failure(source.start_urls[0], f"source kind {source.kind!r} is not supported", source.id, kind="source")
                continue
            for request in handler(source):
                yield request
        for request in self.retry_requests(self.retries):
            yield request

    def retry_requests(self, failures: Iterable[RunFailure]) -> Iterator[scrapy.Request]:
        """Pages that failed last time, asked for again even if no list names them now:
        unless archived since (by a run that did not complete), but always an
        archived article one of whose images failed."""
        for failure in failures:
            force = failure.article_url is not None
            if failure.source in self.sources and (request := self.article_request(failure.url, failure.source, force=force,
                                                                                 attempt=failure.attempt + 1)):
                request.meta[IMAGES_RETRY_META] = force
                yield request

    async def load_archive_state(self, *, with_retries: bool = True) -> None:
        """What the archive already holds (incremental crawls) and what failed last run."""
        if not hasattr(self, "archived"):
            self.archived, self.retries, self.catalog_read = {}, [], False
        if not self.settings.getbool("NEWSARCHIVE_INCREMENTAL"):
            return
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet.threads import deferToThread

        from crawler.incremental import archived_articles, failures_to_retry
        from crawler.state import CATALOG_CACHE_DIR
        from crawler.storage import archive_writer, state_dir

        store = archive_writer(self.crawler).store
        cache = state_dir(self.settings) / CATALOG_CACHE_DIR
        known = await maybe_deferred_to_future(deferToThread(archived_articles, store, cache))
        retries = await maybe_deferred_to_future(deferToThread(failures_to_retry, store, set(self.sources))) if with_retries else []
        # Set together, once read: a worker reads them again while it crawls.
        self.catalog_read = known is not None  # else the archive may hold more than `archived` says
        self.archived, self.retries = known or {}, retries

    def start_feed(self, source: SourceBase) -> Iterator[scrapy.Request]:
        for url in source.start_urls:
            yield self.listing_request(url, source, self.parse_feed, kind="feed")

    def start_sitemap(self, source: SourceBase) -> Iterator[scrapy.Request]:
        for url in source.start_urls:
            yield self.listing_request(url, source, self.parse_sitemap, kind="sitemap", depth=0)

    def start_zaker(self, source: SourceBase) -> Iterator[scrapy.Request]:
        for url in source.start_urls:
            yield self.listing_request(url, source, self.parse_zaker_list, kind="listing", page=1)

    def start_listing(self, source: SourceBase) -> Iterator[scrapy.Request]:
        for url in source.start_urls:
            yield self.listing_request(url, source, self.parse_listing, kind="listing", page=1)

    # -- requests ------------------------------------------------------------
    def listing_request(self, url: str, source: SourceBase, callback, *, kind: str, **cb_kwargs: Any) -> scrapy.Request:
        """A feed, sitemap or list page: fetched every run, never deduplicated away."""
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            dont_filter=True,
            cb_kwargs={"source_id": source.id, **cb_kwargs},
            meta={SOURCE_META: source.id, KIND_META: kind},
        )

    def article_request(self, url: str, source_id: str, hints: FeedHints | None = None, *, force: bool = False,
                        attempt: int = 1) -> scrapy.Request | None:
        """None when this run already asked for the same article through another URL."""
        url = unwrap_link(url)
        if self._overlong(url, source_id, attempt):
            return None
        candidate = url_article_id(url)
        archived = getattr(self, "archived", {}).get(candidate)
        # Forced (fetched again for failed images), never conditionally: a 304
        # would count as unchanged, and the images would not be tried.
        revisit = (archived is not None and not force
                   and revisit_due(archived, getattr(self.sources[source_id], "revisit_days", 0), datetime.now(timezone.utc)))
        if archived is not None and not revisit and not force and candidate not in self.requested_ids:
            self.requested_ids.add(candidate)
            self.crawler.signals.send_catch_log(signals.article_skipped, url=url, source=source_id)
            return None
        if candidate in self.requested_ids or (claim := self.claim_article(candidate, source_id, url, attempt)) is None:
            self.crawler.stats.inc_value("newsarchive/duplicate_links")
            if hints is not None and hints.body_html:
                # Kept in case the page turns out to be a WAF challenge.
                self.feed_bodies.setdefault(candidate, (source_id, hints))
            return None
        self.requested_ids.add(candidate)
        meta = {SOURCE_META: source_id, KIND_META: "article", ARTICLE_ID_META: candidate, ATTEMPT_META: attempt}
        if claim:
            meta[CLAIM_META] = claim
        headers = {}
        if revisit:
            # Revisited while young: conditionally, and a 304 means unchanged.
            headers["If-Modified-Since"] = format_datetime(datetime.fromisoformat(archived.fetched), usegmt=True)
            meta["handle_httpstatus_list"] = [304]
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            # Deduplicated above by article id; Scrapy's filter would also
            # silently swallow redirect loops, which must be recorded.
            dont_filter=True,
            headers=headers,
            cb_kwargs={"source_id": source_id, "hints": hints or FeedHints()},
            meta=meta,
        )

    def _overlong(self, url: str, source_id: str, attempt: int) -> bool:
        """A link Scrapy would drop for its length (URLLENGTH_LIMIT; see RecordedUrlLengthMiddleware): a failure.

        Told here, before the article counts as asked for (or is claimed): a
        shorter link to it (the same article without its tracking query) is
        still fetched in this run. Of kind "link", which the next run does not
        ask for again: it would be as long then.
        """
        limit = self.settings.getint("URLLENGTH_LIMIT")
        if not limit or len(url) <= limit:
            return False
        if url not in self.overlong_links:
            self.overlong_links.add(url)
            self.report_failure(url, overlong_reason(limit), source_id, kind="link", attempt=attempt)
        return True

    def claim_article(self, candidate: str, source_id: str, url: str, attempt: int = 1) -> str | None:
        """None when another process fetches the article, else the claim its outcome settles ("": none to settle).

        Distributed workers share the claims; a local crawl has the article to itself.
        """
        return ""

    def feed_stand_in(self, url: str) -> ArticlePage | None:
        """The article of a challenge page met earlier, now that a feed carries its body."""
        candidate = url_article_id(unwrap_link(url))
        if candidate not in self.challenged or candidate not in self.feed_bodies:
            return None
        response, _page_source = self.challenged.pop(candidate)
        source_id, hints = self.feed_bodies.pop(candidate)
        return self.article_page(response, source_id, hints, challenge=True)

    def report_failure(self, url: str, reason: str, source_id: str, *, kind: str, attempt: int = 1,
                       article_url: str | None = None, claimed: str | None = None) -> None:
        """A failure of the run; ``claimed``: the claim it settles (CLAIM_META, a distributed run's)."""
        # The run record keeps the whole URL; a log line, its start (an over-long link runs to kilobytes).
        shown = url if len(url) <= LOGGED_URL_CHARS else url[:LOGGED_URL_CHARS] + "…"
        self.logger.warning("%s %s failed: %s", kind, shown, reason)
        self.crawler.signals.send_catch_log(signals.fetch_failed, url=url, reason=reason, source=source_id, kind=kind, attempt=attempt,
                                            article_url=article_url, claimed=claimed)

    def on_error(self, failure: Failure):
        request = failure.request
        source_id, kind = request.meta.get(SOURCE_META, ""), request.meta.get(KIND_META, "article")
        reason = failure_reason(failure)
        response = failure.value.response if failure.check(HttpError) else None
        # WAFs often serve their challenge with a 403 or 503: it is handled as
        # one served with a 200 is. An article's comes from a feed that
        # carries it; a feed's or list's blocks its source.
        if response is not None and self._is_challenge(response):
            if request.callback == self.parse_article:
                return self.parse_article(response, **request.cb_kwargs)
            reason = f"WAF challenge page ({reason}) at {response.url}"
            if kind in LISTING_KINDS:
                self.crawler.signals.send_catch_log(signals.source_blocked, source=source_id, reason=reason)
        self.request_failed(request, reason)
        return None

    def request_failed(self, request: scrapy.Request, reason: str) -> None:
        """report_failure for one of this spider's requests: its source, kind, attempt and claim from its meta."""
        # An archived article fetched again for its failed images stays one to
        # fetch whatever the catalog says, until its images are in.
        article_url = request.url if request.meta.get(IMAGES_RETRY_META) else None
        self.report_failure(request.url, reason, request.meta.get(SOURCE_META, ""), kind=request.meta.get(KIND_META, "article"),
                            attempt=request.meta.get(ATTEMPT_META, 1), article_url=article_url, claimed=request.meta.get(CLAIM_META))

    # -- callbacks -----------------------------------------------------------
    def parse_feed(self, response: Response, source_id: str):
        try:
            feed = parse_feed(response.body, response.url, content_type(response) or "")
        except (FeedError, UnsafeXML) as exc:
            self.report_failure(response.url, str(exc), source_id, kind="feed")
            return
        for entry in feed.entries:
            if request := self.article_request(entry.url, source_id, entry.hints):
                yield request
            elif entry.hints.body_html and (page := self.feed_stand_in(entry.url)):
                yield page

    def parse_sitemap(self, response: Response, source_id: str, depth: int):
        source = self.sources[source_id]
        try:
            sitemap = parse_sitemap(response.body)
        except (SitemapError, UnsafeXML, ValueError) as exc:
            self.report_failure(response.url, str(exc), source_id, kind="sitemap")
            return
        if sitemap.is_index:
            if depth + 1 >= getattr(source, "max_depth", 3):
                self.report_failure(response.url, "sitemap index nested too deep", source_id, kind="sitemap")
                return
            for entry in sitemap.entries:
                if self._recent_enough(source, entry.lastmod):
                    yield self.listing_request(response.urljoin(entry.loc), source, self.parse_sitemap, kind="sitemap", depth=depth + 1)
            return
        for entry in sitemap.entries:
            published = entry.news_published
            if not self._recent_enough(source, entry.lastmod):
                continue
            hints = FeedHints(title=entry.news_title, published=published, language=entry.news_language)
            if request := self.article_request(response.urljoin(entry.loc), source_id, hints):
                yield request

    @staticmethod
    def _is_challenge(response: Response) -> bool:
        # The bytes first: most responses are cleared without decoding them.
        if not may_be_challenge(response.body):
            return False
        if isinstance(response, TextResponse):
            return is_challenge_text(response.text)
        # A body Scrapy could not take for text (no Content-Type, control
        # bytes: UTF-16, ISO-2022) is decoded as extraction would.
        text, _encoding = decode_html(response.body, content_type(response))
        return is_challenge_text(text)

    def _blocked(self, response: Response, source_id: str) -> bool:
        """A WAF challenge instead of the list: say so, and leave the source alone this run.

        Not solved and not retried: the list's paging and articles are not
        requested, and the run record marks the source blocked (the daemon
        backs off from blocked sources).
        """
        if not self._is_challenge(response):
            return False
        reason = f"WAF challenge page at {response.url}"
        self.report_failure(response.url, reason, source_id, kind="listing")
        self.crawler.signals.send_catch_log(signals.source_blocked, source=source_id, reason=reason)
        return True

    def parse_zaker_list(self, response: Response, source_id: str, page: int):
        source = self.sources[source_id]
        if self._blocked(response, source_id):
            return
        listing = parse_zaker_list(response.text, response.url)
        if not listing.items:
            self.report_failure(response.url, "no articles found on the ZAKER list page", source_id, kind="listing")
        for item in listing.items:
            if request := self.article_request(item.url, source_id, item.hints):
                yield request
        if listing.next_url and page < source.max_pages:
            yield self.listing_request(listing.next_url, source, self.parse_zaker_list, kind="listing", page=page + 1)

    def parse_listing(self, response: Response, source_id: str, page: int):
        source = self.sources[source_id]
        if self._blocked(response, source_id):
            return
        listing = parse_listing(response.text, response.url, link_selector=source.link_selector,
                                link_pattern=source.link_pattern, next_selector=source.next_selector)
        if not listing.article_urls:
            self.report_failure(response.url, "no article links found on the list page", source_id, kind="listing")
        for url in listing.article_urls:
            if request := self.article_request(url, source_id):
                yield request
        if listing.next_url and page < source.max_pages:
            yield self.listing_request(listing.next_url, source, self.parse_listing, kind="listing", page=page + 1)

    @staticmethod
    def _recent_enough(source: SourceBase, lastmod: datetime | None) -> bool:
        days = getattr(source, "lastmod_days", None)
        if days is None or lastmod is None:
            return True
        return lastmod >= datetime.now(timezone.utc) - timedelta(days=days)

    def parse_article(self, response: Response, source_id: str, hints: FeedHints):
        if response.status == 304:
            self.crawler.signals.send_catch_log(signals.article_skipped, url=response.url, source=source_id, status="unchanged",
                                                claimed=response.meta.get(CLAIM_META))
            return
        mime = (content_type(response) or "text/html").split(";")[0].strip().lower()
        if mime not in HTML_CONTENT_TYPES:
            self.report_failure(response.url, f"not an HTML page ({mime})", source_id, kind="article",
                                attempt=response.meta.get(ATTEMPT_META, 1), claimed=response.meta.get(CLAIM_META))
            return
        # Looked for here, and extraction does not look again; left to it (None)
        # with a feed body at hand, which it reads instead of a challenge.
        challenge = None if hints.body_html else self._is_challenge(response)
        if challenge:
            # Never archived, never solved: the article comes from a feed that
            # carries it, now or when that feed is read, else it is a failure.
            self.crawler.stats.inc_value("newsarchive/challenge_pages")
            self._count_challenge(source_id, response.url)
            candidate = response.meta.get(ARTICLE_ID_META) or url_article_id(response.url)
            if candidate in self.feed_bodies:
                source_id, hints = self.feed_bodies.pop(candidate)
            else:
                self.challenged[candidate] = (response, source_id)
                return
        else:
            self.feed_bodies.pop(response.meta.get(ARTICLE_ID_META), None)  # the page itself will do
            if challenge is False:
                self.challenges_in_a_row.pop(source_id, None)
        yield self.article_page(response, source_id, hints, challenge=challenge)

    def _count_challenge(self, source_id: str, url: str) -> None:
        """Block the source (see BlockedSourceMiddleware) at its CHALLENGES_IN_A_ROW_TO_BLOCK-th challenged article."""
        count = self.challenges_in_a_row.get(source_id, 0) + 1
        self.challenges_in_a_row[source_id] = count
        if count == CHALLENGES_IN_A_ROW_TO_BLOCK:
            reason = f"WAF challenge pages instead of {count} articles in a row (the last at {url})"
            self.crawler.signals.send_catch_log(signals.source_blocked, source=source_id, reason=reason)

    def report_unanswered_challenges(self, spider=None) -> None:
        """At the end of the run: challenge pages no feed stood in for are failures."""
        for response, source_id in self.challenged.values():
            self.report_failure(response.url, "WAF challenge page instead of the article (not solved; no feed of this run carries it)",
                                source_id, kind="article", attempt=response.meta.get(ATTEMPT_META, 1),
                                claimed=response.meta.get(CLAIM_META))
        self.challenged.clear()

    def article_page(self, response: Response, source_id: str, hints: FeedHints, *, challenge: bool | None = None) -> ArticlePage:
        source = self.sources[source_id]
        return ArticlePage(
            source=source_id,
            url=response.url,
            body=response.body,
            content_type=content_type(response),
            fetched=datetime.now(timezone.utc),
            categories=list(source.categories),
            hints=hints,
            capture=response.meta.get(CAPTURE_META),
            attempt=response.meta.get(ATTEMPT_META, 1),
            challenge=challenge,
            claimed=response.meta.get(CLAIM_META),
            options=ExtractOptions(
                timezone=source.timezone,
                include_images=self.settings.getbool("NEWSARCHIVE_IMAGES"),
                now=datetime.now(timezone.utc),
                rules=site_rules(source),
            ),
        )
