"""The catalog: what the archive holds, without listing articles/.

Each crawl appends segments (JSON Lines, one entry per record it wrote)
under ``catalog/<yyyy>/<mm>/<dd>/<run id>-<part>.jsonl``; a later entry for
an id replaces an earlier one. The daemon merges the segments of past days
and months now and then (archive/compaction.py); ``rebuild_catalog`` makes
one segment from the records themselves (``newsarchive verify --rebuild-index``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, TypeVar

from archive.keys import ARTICLES_PREFIX, article_key
from archive.store import WHOLE_STORE_ERRORS, ArchiveStore, KeyNotFound, LocalStore, StoreError, patiently

logger = logging.getLogger(__name__)
T = TypeVar("T")

CATALOG_PREFIX = "catalog/"
REBUILT_RUN_ID = "rebuilt"
SEGMENT_CONTENT_TYPE = "application/x-ndjson; charset=utf-8"
# Listings of the catalog a reader makes when segments it listed were merged
# away (archive/compaction.py) before it read them.
READ_ATTEMPTS = 3
# A merged segment: named to sort before the segments it replaces (run ids
# start with the year, day folders with a digit), and first says which.
MERGED_PREFIX = "0-merged-"
REPLACES_FIELD = "replaces"


@dataclass
class CatalogEntry:
    id: str
    key: str
    source: str
    title: str
    url: str
    published: str | None
    fetched: str
    language: str
    categories: list[str] = field(default_factory=list)
    content_sha256: str = ""
    images: int = 0
    # The id the fetched URL alone gives (before its page named a canonical):
    # a crawl recognises the article by it before fetching. Empty in entries
    # written before it was kept, and in rebuilt ones: then worked out at reading.
    url_id: str = ""

    @property
    def sort_time(self) -> str:
        """Newest first by publication, fetch time where no date exists."""
        return self.published or self.fetched


def catalog_entry(record: dict[str, Any], url_id: str = "") -> CatalogEntry:
    return CatalogEntry(
        id=record["id"], key=article_key(record["id"]), source=record["source"], title=record["title"],
        url=record["url"], published=record.get("published"), fetched=record["fetched"],
        language=record.get("language", ""), categories=list(record.get("categories") or []),
        content_sha256=record.get("content_sha256", ""), images=len(record.get("images") or []), url_id=url_id,
    )


class KnownArticle(NamedTuple):
    """What a crawl needs of an archived article: whether to skip it, or revisit it conditionally."""

    published: str | None
    fetched: str


def segment_key(run_id: str, started: datetime, part: int) -> str:
    return f"{CATALOG_PREFIX}{started:%Y/%m/%d}/{run_id}-{part:04d}.jsonl"


def segment_bytes(entries: Iterable[CatalogEntry]) -> bytes:
    return "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in entries).encode("utf-8")


def write_segment(store: ArchiveStore, key: str, entries: Iterable[CatalogEntry]) -> None:
    write_segment_bytes(store, key, segment_bytes(entries))


def write_segment_bytes(store: ArchiveStore, key: str, data: bytes) -> None:
    store.put(key, data, SEGMENT_CONTENT_TYPE)


def segment_keys(store: ArchiveStore) -> list[str]:
    """In reading order: a later segment's entry for an id replaces an earlier one's."""
    return sorted(k for k in store.list(CATALOG_PREFIX) if k.endswith(".jsonl"))


ENTRY_FIELDS = frozenset(CatalogEntry.__dataclass_fields__)


def _segment_bytes(store: ArchiveStore, key: str, cache_dir: Path | None) -> bytes:
    """A segment never changes once written, so a local copy is as good as the store's.

    The cache is a local store of its own: crawls running at once (the
    daemon's) fill it together, each through a temp file of its own, and the
    last rename wins with the same bytes. The copy only saves a download:
    failing to keep it never fails the read.
    """
    cache = LocalStore(cache_dir) if cache_dir is not None else None
    if cache is not None:
        try:
            return cache.get(key)
        except StoreError:
            pass
    data = store.get(key)
    if cache is not None:
        try:
            cache.put(key, data, SEGMENT_CONTENT_TYPE)
        except StoreError as exc:
            logger.warning("catalog segment %s not cached: %s", key, exc)
    return data


def segment_lines(store: ArchiveStore, key: str, cache_dir: Path | None,
                  replaced: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The parsed entry lines of one segment; a damaged one is skipped (``verify --rebuild-index`` remakes the catalog).

    A merged segment's first line names the segments it replaces: added to ``replaced``.
    """
    # Lines end at "\n" only: str.splitlines() also breaks at U+2028, U+0085
    # and others, which json.dumps(ensure_ascii=False) leaves unescaped in values.
    for line in _segment_bytes(store, key, cache_dir).decode("utf-8", errors="replace").split("\n"):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and isinstance(data.get("id"), str) and isinstance(data.get("fetched"), str):
                yield data
                continue
            if (names := _replaced_names(data)) is not None:
                if replaced is not None:
                    replaced.update(names)
                continue
        except ValueError:
            pass
        logger.warning("skipping a damaged line of catalog segment %s", key)


def catalog_lines(store: ArchiveStore, keys: Iterable[str], cache_dir: Path | None,
                  replaced: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """The entry lines of these segments in reading order, less those of segments a merged one replaces.

    A merged segment sorts before the segments it replaces (MERGED_PREFIX), so
    its list is known before they come: those a compaction could not remove
    yet are skipped, not read again over newer lines.
    """
    replaced = set() if replaced is None else replaced
    for key in keys:
        if key not in replaced:
            yield from segment_lines(store, key, cache_dir, replaced)


def _replaced_names(data: Any) -> set[str] | None:
    """The segments a merged segment's header line (``{"replaces": [...]}``) names; None for any other line."""
    if isinstance(data, dict) and isinstance(data.get(REPLACES_FIELD), list):
        return {name for name in data[REPLACES_FIELD] if isinstance(name, str)}
    return None


def replaced_by(store: ArchiveStore, key: str, cache_dir: Path | None) -> set[str]:
    """The segments a merged segment names in its first line (none for another segment)."""
    first = _segment_bytes(store, key, cache_dir).split(b"\n", 1)[0]
    try:
        data = json.loads(first)
    except ValueError:
        return set()
    return _replaced_names(data) or set()


def read_segment(store: ArchiveStore, key: str, cache_dir: Path | None = None,
                 replaced: set[str] | None = None) -> Iterator[CatalogEntry]:
    """The entries of one segment (a merged one adds the segments it replaces to ``replaced``)."""
    yield from _entries(segment_lines(store, key, cache_dir, replaced), key)


def catalog_entries(store: ArchiveStore, keys: Iterable[str], cache_dir: Path | None = None) -> Iterator[CatalogEntry]:
    """The entries of these segments in reading order, less those of segments a merged one replaces."""
    yield from _entries(catalog_lines(store, keys, cache_dir), store.url)


def _entries(lines: Iterable[dict[str, Any]], where: str) -> Iterator[CatalogEntry]:
    for data in lines:
        try:
            yield CatalogEntry(**{k: v for k, v in data.items() if k in ENTRY_FIELDS})
        except TypeError:
            logger.warning("skipping a damaged line of catalog %s", where)


def parse_since(value: str) -> datetime:
    """``--since``: a date (``2021-10-26``, midnight UTC) or an ISO instant (naive means UTC)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def entry_instant(entry: CatalogEntry) -> datetime:
    """When the entry sorts: its publication, else its fetch (UTC)."""
    try:
        moment = datetime.fromisoformat(entry.sort_time)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _current_segments(store: ArchiveStore, cache_dir: Path | None) -> list[str]:
    """The catalog's segment keys; the local cache loses the copies of segments gone from the store."""
    keys = segment_keys(store)
    if cache_dir is not None:
        cache = LocalStore(cache_dir)
        try:
            cache.ensure()  # drops temp files a killed crawl left in the cache
            # Segments a rebuild (verify --rebuild-index) replaced: kept, they would only fill the disk.
            for stale in set(cache.list(CATALOG_PREFIX)) - set(keys):
                cache.delete(stale)
        except (StoreError, OSError) as exc:
            logger.warning("catalog cache %s unusable: %s", cache_dir, exc)
    return keys


def read_whole_catalog(store: ArchiveStore, cache_dir: Path | None, read: Callable[[list[str]], T]) -> T:
    """``read`` over the catalog's segment keys, listed again if some are gone before it read them.

    A compaction writes its merged segment before it removes those it merged:
    a listing made after the removal finds every line.
    """
    for attempt in range(READ_ATTEMPTS):
        try:
            return read(_current_segments(store, cache_dir))
        except KeyNotFound:
            if attempt == READ_ATTEMPTS - 1:
                raise
            logger.info("catalog segments were merged while being read: listing them again")
    raise AssertionError("unreachable")


def load_catalog(store: ArchiveStore, cache_dir: Path | None = None) -> dict[str, CatalogEntry]:
    """id -> its newest entry (segments sort by date and run id, i.e. in time)."""

    def read(keys: list[str]) -> dict[str, CatalogEntry]:
        return {entry.id: entry for entry in catalog_entries(store, keys, cache_dir)}

    return read_whole_catalog(store, cache_dir, read)


def known_articles(store: ArchiveStore, cache_dir: Path | None, url_id: Callable[[str], str]) -> dict[str, KnownArticle]:
    """Article id -> KnownArticle, also under the id its fetched URL alone gives.

    What every crawl reads at its start, so kept small: a crawl of an archive of
    a million articles held 1.3 KB a catalog entry, and spent most of its start
    working out URL ids (``url_id`` of an entry's URL), now kept in the entries.
    """

    def read(keys: list[str]) -> dict[str, KnownArticle]:
        known: dict[str, KnownArticle] = {}
        by_url: dict[str, KnownArticle] = {}
        for data in catalog_lines(store, keys, cache_dir):
            article = KnownArticle(data.get("published"), data["fetched"])
            known[data["id"]] = article  # a later entry wins
            by_url[data.get("url_id") or url_id(data.get("url") or "")] = article
        for key, article in by_url.items():
            known.setdefault(key, article)  # an article's own id wins over another's URL id
        return known

    return read_whole_catalog(store, cache_dir, read)


class CatalogSnapshot:
    """The catalog as a long-running reader (``serve``) sees it.

    Read again at most every ``max_age`` seconds, not at every page view: on
    a bucket, each reading lists the catalog and fetches the segments not in
    ``cache_dir`` yet.
    """

    def __init__(self, store: ArchiveStore, cache_dir: Path | None = None, max_age: float = 30.0) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.max_age = max_age
        self._lock = threading.Lock()
        self._entries: dict[str, CatalogEntry] | None = None
        self._read_at = 0.0

    def entries(self) -> dict[str, CatalogEntry]:
        with self._lock:
            now = time.monotonic()
            if self._entries is None or now - self._read_at >= self.max_age:
                self._entries, self._read_at = load_catalog(self.store, self.cache_dir), now
            return self._entries


def list_entries(store: ArchiveStore, *, source: str | None = None, since: str | datetime | None = None,
                 catalog: Mapping[str, CatalogEntry] | None = None) -> list[CatalogEntry]:
    """Entries newest first; ``since`` (a date or instant, see ``parse_since``) is compared with the publication time.

    ``catalog``: entries read already (a CatalogSnapshot's), else the store's catalog is read now.
    """
    cutoff = parse_since(since) if isinstance(since, str) else since
    entries = [
        e for e in (load_catalog(store) if catalog is None else catalog).values()
        if (source is None or e.source == source) and (cutoff is None or entry_instant(e) >= cutoff)
    ]
    return sorted(entries, key=lambda e: (entry_instant(e), e.id), reverse=True)


def rebuild_catalog(store: ArchiveStore) -> int:
    """One segment from every record under articles/; older segments removed. Returns the count.

    A record damaged or unreadable (verify reports it) is left out, and the
    catalog made of the others; a store out of reach or refusing stops it.
    """
    old = segment_keys(store)
    entries = []
    for key in store.list(ARTICLES_PREFIX):
        if key.endswith(".json"):
            try:
                entries.append(catalog_entry(json.loads(patiently(lambda: store.get(key)))))
            except WHOLE_STORE_ERRORS:
                raise
            except (StoreError, ValueError, KeyError, TypeError):  # KeyNotFound too: gone since listed
                continue
    now = datetime.now(timezone.utc)
    new_key = segment_key(f"{now:%Y%m%dT%H%M%SZ}-{REBUILT_RUN_ID}", now, 0)
    write_segment(store, new_key, entries)
    for key in old:
        if key != new_key:
            store.delete(key)
    return len(entries)
