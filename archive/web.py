"""``newsarchive serve``: a read-only site to browse and search the archive.

Server-rendered with Flask and Jinja2 (autoescaped). The article HTML was
sanitised when archived and is cleaned again here; a Content-Security-Policy
forbids scripts outright. Only GET routes exist.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlencode

import nh3
from flask import Flask, Response, abort, render_template, request

from archive.catalog import CatalogSnapshot, list_entries
from archive.html import rewrite_images
from archive.keys import IMAGES_PREFIX, BadKey, check_key
from archive.fields import without_controls
from archive.records import load_record
from archive.search import SearchIndex, SearchIndexError
from archive.store import WHOLE_STORE_ERRORS, ArchiveStore, KeyNotFound, StoreError

logger = logging.getLogger(__name__)

FILES_ROUTE = "/files/"
READ_METHODS = frozenset({"GET", "HEAD"})
DAY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
PAGE_SIZE = 100  # entries or hits a page shows; the others are a "next" link away
MAX_PAGE = 1_000_000  # a larger page number (SQLite's OFFSET overflows past 2**63) is this one: empty
HOME_DAYS = 60  # days the home page links to; /days lists every one
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def article_body(html: str, in_archive: Callable[[str], bool], origins: Mapping[str, str] | None = None) -> str:
    """The stored HTML, cleaned again, its mirrored images pointed at /files/.

    An image the archive does not hold (``in_archive`` of its key is false:
    never mirrored, or lost since) is a link to its origin, as in the Hexo
    export (``origins``: archive key -> origin URL, the record's images), not
    an ``<img>`` the browser shows broken; it is never fetched from there.
    """
    if not html:
        return ""
    inner = rewrite_images(html, lambda src: _archived_image_url(src, in_archive), origins)
    return nh3.clean(inner, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def _archived_image_url(src: str, in_archive: Callable[[str], bool]) -> str | None:
    """The page's URL for a mirrored image the archive holds; None for any other."""
    if not src.startswith(IMAGES_PREFIX):
        return None
    try:
        check_key(src)
    except BadKey:
        return None
    return FILES_ROUTE + src if in_archive(src) else None


def _holds(store: ArchiveStore, key: str) -> bool:
    """Whether the store holds an image; one it fails on is as good as gone (a store out of reach or refusing us is a 503)."""
    try:
        return store.exists(key)
    except WHOLE_STORE_ERRORS:
        raise
    except StoreError as exc:
        logger.warning("image %s shown as a link to its origin: %s", key, exc)
        return False


@dataclass
class Pager:
    """Where one page of a long list stands, and the links to its neighbours."""

    number: int
    more: bool  # a next page exists
    total: int | None = None  # when known (search only knows whether more exist)
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.size))

    def link(self, number: int) -> str:
        return "?" + urlencode({**request.args, "page": number})


def _page_number() -> int:
    number = request.args.get("page", 1, type=int)
    return min(number, MAX_PAGE) if number and number > 0 else 1


def _days_newest_first(entries) -> list[tuple[str, int]]:
    """(day, articles) of each day entries sort under, newest first."""
    return sorted(Counter((e.sort_time or "")[:10] for e in entries).items(), reverse=True)


def _entries_page(entries: list, size: int) -> tuple[list, Pager]:
    number = _page_number()
    start = (number - 1) * size
    return entries[start:start + size], Pager(number, start + size < len(entries), len(entries), size)


def create_app(store: ArchiveStore, index: SearchIndex, catalog: CatalogSnapshot | None = None,
               page_size: int = PAGE_SIZE) -> Flask:
    catalog = catalog or CatalogSnapshot(store)
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    # A record archived before extraction dropped control characters may hold them: a
    # snippet shows them no more than the search command does (a page shows them as boxes).
    app.jinja_env.filters["without_controls"] = without_controls
    app.url_map.merge_slashes = False  # /files//etc/passwd is no key: 404, not a redirect to another path

    @app.before_request
    def _read_only():
        if request.method not in READ_METHODS:
            abort(405)  # no write endpoint anywhere, whatever the path

    @app.errorhandler(StoreError)
    def _store_failed(exc: StoreError):
        # The store's message names paths and endpoints: for the log, not for the reader.
        logger.warning("%s: the archive failed: %s", request.path, exc)
        return Response("The archive cannot be read just now.\n", 503, content_type="text/plain; charset=utf-8")

    @app.errorhandler(SearchIndexError)
    def _index_failed(exc: SearchIndexError):
        # Its message names the index file: for the log. Only search waits; browsing works on.
        logger.warning("%s: the search index failed: %s", request.path, exc)
        return Response("Search cannot be used just now: its index cannot be read or written. Browsing still works.\n", 503,
                        content_type="text/plain; charset=utf-8")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/")
    def home():
        entries = list_entries(store, catalog=catalog.entries())
        sources = Counter(e.source for e in entries)
        days = _days_newest_first(entries)
        shown, pager = _entries_page(entries, page_size)
        return render_template("home.html", entries=shown, pager=pager, sources=sorted(sources.items()),
                               days=days[:HOME_DAYS], all_days=len(days), total=len(entries))

    @app.get("/days")
    def days():
        return render_template("days.html", days=_days_newest_first(catalog.entries().values()))

    @app.get("/source/<source>")
    def by_source(source: str):
        shown, pager = _entries_page(list_entries(store, source=source, catalog=catalog.entries()), page_size)
        return render_template("list.html", heading=f"Source {source}", entries=shown, pager=pager)

    @app.get("/day/<day>")
    def by_day(day: str):
        if not DAY_RE.fullmatch(day):
            abort(404)
        try:
            entries = [e for e in list_entries(store, since=day, catalog=catalog.entries()) if (e.sort_time or "").startswith(day)]
        except ValueError:
            abort(404)
        shown, pager = _entries_page(entries, page_size)
        return render_template("list.html", heading=f"Published {day}", entries=shown, pager=pager)

    @app.get("/search")
    def search():
        query = request.args.get("q", "").strip()
        hits, pager = [], Pager(_page_number(), False, size=page_size)
        if query:
            # The segments the catalog snapshot fetched are not fetched again.
            hits = index.search_archive(store, query, limit=page_size + 1, offset=(pager.number - 1) * page_size,
                                        cache_dir=catalog.cache_dir)
            pager.more, hits = len(hits) > page_size, hits[:page_size]
        return render_template("search.html", query=query, hits=hits, pager=pager)

    @app.get("/article/<article_id>")
    def article(article_id: str):
        from archive.keys import article_key

        try:
            record = load_record(store.get(article_key(article_id)))
        except (KeyNotFound, ValueError):  # BadKey, and a damaged record (verify reports it)
            abort(404)
        origins = {image.key: image.url for image in record.images}
        # One question to the store per image, however often the article shows it.
        body = article_body(record.html, functools.cache(lambda key: _holds(store, key)), origins)
        return render_template("article.html", record=record, body=body)

    @app.get(FILES_ROUTE + "<path:key>")
    def files(key: str):
        try:
            check_key(key)
        except BadKey:
            abort(404)
        if not key.startswith(IMAGES_PREFIX):
            abort(404)  # only mirrored images are served raw
        try:
            data = store.get(key)
        except KeyNotFound:
            abort(404)
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if not content_type.startswith("image/") or content_type == "image/svg+xml":
            content_type = "application/octet-stream"
        return Response(data, content_type=content_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return app
