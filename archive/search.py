"""Full-text search over titles and bodies: a local SQLite FTS5 index.

The index lives in the user's cache (it is rebuilt from the archive at any
time) and is brought up to date from the catalog before each search: only
catalog segments it has not seen are read, and only records whose content
changed are fetched. FTS5's trigram tokenizer matches any substring, which
Chinese (no spaces between words) needs; queries shorter than three
characters fall back to a substring scan. Whitespace is made alike in the
indexed text and in the query (``searchable``): ``10 月 25 日`` and
``10月25日`` are the same words.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from archive.catalog import catalog_entries, read_segment, read_whole_catalog
from archive.records import ArticleRecord, load_record
from archive.searchtext import Snippet, searchable, snippet
from archive.store import ArchiveStore, KeyNotFound
from archive.userdirs import user_cache_dir

logger = logging.getLogger(__name__)

TRIGRAM_MIN_CHARS = 3
# PRAGMA user_version of the index file. Raised whenever what is indexed
# changes: an index of another version is dropped and filled again (it is
# a cache of the archive), since unchanged records are never read again.
INDEX_VERSION = 5
# What FTS5's highlight() puts around a match in the text it indexed: the
# index's text holds no control character (searchable drops them).
MATCH_OPEN, MATCH_CLOSE = "\x01", "\x02"
SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, rowid_ INTEGER, source TEXT, title TEXT,
                                 published TEXT, content_sha256 TEXT, text TEXT);
CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize='trigram');
"""


# SQLite's primary result codes for a file that is no database, or a damaged one
# (the extended codes keep them in their low byte). The index is a cache of the
# archive: such a file is dropped and the index made again. A locked or
# unwritable index is no damage, and is reported.
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
DAMAGE_CODES = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})
# What SQLite may keep beside the index file (a rollback journal, a write-ahead log).
SIDE_FILE_SUFFIXES = ("-journal", "-wal", "-shm")


class SearchIndexError(Exception):
    """The local index cannot be used (its folder not writable, the file locked); the message names it."""


class SearchIndexDamaged(SearchIndexError):
    """The index file is damaged or no database: it has been dropped, and the next update makes it again."""


@dataclass
class SearchHit:
    id: str
    source: str
    title: str
    published: str | None
    snippet: Snippet


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def default_index_path(archive_url: str) -> Path:
    cache = user_cache_dir()
    if cache is None:
        raise SearchIndexError("no directory for the search index: set HOME or XDG_CACHE_HOME")
    return cache / f"search-{hashlib.sha256(archive_url.encode()).hexdigest()[:16]}.sqlite"


class SearchIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the file the connection opened
        self._lock = threading.RLock()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc
            # One connection shared by the web server's threads, serialised by SQLite itself.
            db = sqlite3.connect(self.path, check_same_thread=False)
            self._file_id = _file_id(self.path)  # what a damaged file's removal checks (see _drop_file)
            try:
                if db.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
                    db.executescript("DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS segments; DROP TABLE IF EXISTS fts;")
                    db.execute(f"PRAGMA user_version = {INDEX_VERSION}")
                db.executescript(SCHEMA)
            except BaseException:
                db.close()  # set up again by the next use (it may have been locked only)
                raise
            self._db = db
        return self._db

    @contextmanager
    def _using(self) -> Iterator[None]:
        """The index to itself, its SQLite errors (unwritable, damaged, locked by another writer) said as SearchIndexError.

        A damaged file is dropped on the spot (SearchIndexDamaged): whoever
        meets the damage, the next update finds no index and makes it again.
        """
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in DAMAGE_CODES:
                    raise SearchIndexError(f"search index {self.path}: {exc}") from exc
                if not self._drop_file():
                    raise SearchIndexError(f"search index {self.path} is damaged ({exc}) and could not be removed: "
                                           "remove it, it is made again") from exc
                raise SearchIndexDamaged(f"search index {self.path} was damaged ({exc}): dropped, to be made again") from exc

    def _drop_file(self) -> bool:
        """Remove the damaged file this connection opened; False if it could not be removed.

        Only that very file: another process (serve, a search) that met the
        damage first may have made a new index under the same name already.
        """
        opened = self._file_id
        self.close()
        if opened is None or _file_id(self.path) != opened:
            return True  # gone or made anew: the next use opens what is there now
        try:
            self.path.unlink()
        except FileNotFoundError:
            return True
        except OSError as exc:
            logger.warning("search index file %s not removed: %s", self.path, exc)
            return False
        for side in SIDE_FILE_SUFFIXES:
            self.path.with_name(self.path.name + side).unlink(missing_ok=True)
        return True

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._file_id = None

    def update(self, store: ArchiveStore, cache_dir: Path | None = None) -> int:
        """Index what the catalog added since last time; returns how many records were (re)indexed.

        ``cache_dir``: local copies of catalog segments (a CatalogSnapshot's):
        segments read already are read from there, and those read here kept there.
        A damaged index is made again from the whole catalog (a warning says so).
        """
        def index_what_is_new() -> int:
            with self._using():
                return read_whole_catalog(store, cache_dir, lambda current: self._update(store, current, cache_dir))

        try:
            return index_what_is_new()
        except SearchIndexDamaged as exc:
            logger.warning("%s", exc)
            return index_what_is_new()

    def _update(self, store: ArchiveStore, current: list[str], cache_dir: Path | None) -> int:
        seen = {row[0] for row in self.db.execute("SELECT key FROM segments")}
        if seen - set(current):
            # Segments went away (the catalog was rebuilt, or this is another archive at
            # the same URL): read the whole catalog again and drop what it no longer lists.
            return self._resync(store, current, cache_dir)
        indexed = 0
        replaced: set[str] = set()  # by a merged segment (it sorts first): its lines are read already
        for segment in current:
            if segment in seen:
                continue
            if segment not in replaced:
                for entry in read_segment(store, segment, cache_dir, replaced):
                    indexed += self._index_entry(store, entry)
            self.db.execute("INSERT OR IGNORE INTO segments(key) VALUES (?)", (segment,))
            self.db.commit()
        return indexed

    def _index_entry(self, store: ArchiveStore, entry) -> int:
        """(Re)index one catalog entry's record unless the index has this very version; 1 if it did."""
        row = self.db.execute("SELECT rowid_, content_sha256, title FROM docs WHERE id = ?", (entry.id,)).fetchone()
        if row and row[1] == entry.content_sha256 and row[2] == entry.title:
            return 0
        try:
            record = load_record(store.get(entry.key))
        except (KeyNotFound, ValueError):
            # Gone or damaged, verify reports it: not JSON, or JSON but no record (a list, a
            # title that is a list, a lone surrogate SQLite cannot store); the others are indexed.
            return 0
        self._put(record, row[0] if row else None)
        return 1

    def _resync(self, store: ArchiveStore, segments: list[str], cache_dir: Path | None) -> int:
        entries = {entry.id: entry for entry in catalog_entries(store, segments, cache_dir)}
        indexed = 0
        for doc_id, rowid in self.db.execute("SELECT id, rowid_ FROM docs").fetchall():
            if doc_id not in entries:
                self.db.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
                self.db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
        for entry in entries.values():
            indexed += self._index_entry(store, entry)
        self.db.execute("DELETE FROM segments")
        self.db.executemany("INSERT INTO segments(key) VALUES (?)", [(segment,) for segment in segments])
        self.db.commit()
        return indexed

    def _put(self, record: ArticleRecord, rowid: int | None) -> None:
        if rowid is not None:
            self.db.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
        cursor = self.db.execute("INSERT INTO fts(title, body) VALUES (?, ?)", (searchable(record.title), searchable(record.text)))
        # The text as the record has it, for snippets (the index holds it made searchable).
        self.db.execute(
            "INSERT OR REPLACE INTO docs(id, rowid_, source, title, published, content_sha256, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.id, cursor.lastrowid, record.source, record.title, record.published, record.content_sha256, record.text),
        )

    def search(self, text: str, limit: int = 50, offset: int = 0) -> list[SearchHit]:
        """Hits ``offset`` to ``offset + limit`` (a page of them)."""
        with self._using():
            return self._search(text, limit, offset)

    def search_archive(self, store: ArchiveStore, text: str, limit: int = 50, offset: int = 0,
                       cache_dir: Path | None = None) -> list[SearchHit]:
        """``search`` once the index is up to date with the archive (``update``).

        Damage only a query meets (in FTS5's own pages, which an update does
        not read) drops the index too: it is made again, and asked again.
        """
        with self._lock:  # no other thread drops the index between the update and the query
            try:
                self.update(store, cache_dir)
                return self.search(text, limit, offset)
            except SearchIndexDamaged as exc:
                logger.warning("%s", exc)
            self.update(store, cache_dir)
            return self.search(text, limit, offset)

    def _search(self, text: str, limit: int, offset: int) -> list[SearchHit]:
        text = searchable(text)
        if not text:
            return []
        if len(text) >= TRIGRAM_MIN_CHARS:
            phrase = '"' + text.replace('"', '""') + '"'
            rows = self.db.execute(
                "SELECT d.id, d.source, d.title, d.published, d.text, fts.rowid "
                "FROM fts JOIN docs d ON d.rowid_ = fts.rowid WHERE fts MATCH ? ORDER BY rank LIMIT ? OFFSET ?",
                (phrase, limit, offset),
            ).fetchall()
            return [SearchHit(*row[:4], snippet(row[4] or "", text, lambda rowid=row[5]: self._body_match(phrase, rowid)))
                    for row in rows]
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT d.id, d.source, d.title, d.published, d.text "
            "FROM fts JOIN docs d ON d.rowid_ = fts.rowid WHERE fts.title LIKE ? ESCAPE '\\' OR fts.body LIKE ? ESCAPE '\\' "
            "ORDER BY d.published DESC LIMIT ? OFFSET ?",
            (like, like, limit, offset),
        ).fetchall()
        return [SearchHit(*row[:4], snippet(row[4] or "", text)) for row in rows]

    def _body_match(self, phrase: str, rowid: int) -> tuple[int, int] | None:
        """Where FTS5 first matched ``phrase`` in a document's body: (start, end) in its searchable text; None if only in its title."""
        row = self.db.execute("SELECT highlight(fts, 1, ?, ?) FROM fts WHERE fts MATCH ? AND rowid = ?",
                              (MATCH_OPEN, MATCH_CLOSE, phrase, rowid)).fetchone()
        marked = row[0] if row else ""
        start = marked.find(MATCH_OPEN)
        if start < 0:
            return None
        end = marked.find(MATCH_CLOSE, start)
        return (start, end - len(MATCH_OPEN)) if end > start else None
