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
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import regex

from archive.catalog import catalog_entries, read_segment, read_whole_catalog
from archive.records import CONTROL_CHARS_RE, ArticleRecord, load_record, without_controls
from archive.store import ArchiveStore, KeyNotFound
from archive.userdirs import user_cache_dir

logger = logging.getLogger(__name__)

TRIGRAM_MIN_CHARS = 3
# A hit's snippet, in characters of the record's own text: this many before
# the match, this many after it (the whole match, however long), and this
# many from the start of a text that matched in its title only.
SNIPPET_BEFORE_CHARS = 24
SNIPPET_AFTER_CHARS = 48
SNIPPET_LEAD_CHARS = 72
ELLIPSIS = "…"
# A snippet is cut between user-perceived characters (grapheme clusters), never
# inside one: a cut there left an accent without its letter, or half of an
# emoji joined with ZWJ (👩‍🔬) or of a flag. A cluster is looked for this far
# back from a cut (longer ones, runs of marks, are cut as code points).
GRAPHEME_RE = regex.compile(r"\X")
CLUSTER_LOOKBACK_CHARS = 32
# PRAGMA user_version of the index file. Raised whenever what is indexed
# changes: an index of another version is dropped and filled again (it is
# a cache of the archive), since unchanged records are never read again.
INDEX_VERSION = 5
# Han, kana, bopomofo, CJK punctuation (not the ideographic space itself)
# and full-width forms. Hangul is left out: Korean separates words by spaces.
CJK_CHARS = ("\u2e80-\u2fdf\u3001-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f")
# Chinese news sets digits and Latin words off by spaces or not at all
# ("10 月 25 日", "10月25日"): whitespace beside a CJK character separates nothing.
SPACE_BESIDE_CJK_RE = re.compile(f"\\s+(?=[{CJK_CHARS}])|(?<=[{CJK_CHARS}])\\s+")
CJK_CHAR_RE = re.compile(f"[{CJK_CHARS}]")
WORD_RE = re.compile(r"\S+")  # \s is str.split()'s whitespace (str.isspace)
# Where FTS5 folds case otherwise than str.lower does, character by character:
# its tokenizers' table (sqlite's fts5_unicode2.c) folds these letter forms to
# the letter, so "οδός" (final sigma) matches "ΟΔΟΣΤΡΩΜΑ" and "5 μg" matches
# "5 µg" (micro sign); a snippet that folded with str.lower alone found no
# match to mark. Checked against SQLite's own folding (fts5vocab) over every
# code point in tests/test_search_index.py. The other way, str.lower folds
# some letters FTS5 leaves alone (İ, Cherokee, letters newer than its table):
# query and text are folded alike, so they never hide a match from a snippet.
FTS5_FOLDS = str.maketrans({
    "\u00b5": "\u03bc",  # MICRO SIGN: mu
    "\u017f": "s",  # LONG S
    "\u0345": "\u03b9",  # COMBINING GREEK YPOGEGRAMMENI: iota
    "\u03c2": "\u03c3",  # FINAL SIGMA: sigma (str.lower even makes it, of a word's last capital sigma)
    "\u03d0": "\u03b2",  # BETA SYMBOL
    "\u03d1": "\u03b8",  # THETA SYMBOL
    "\u03d5": "\u03c6",  # PHI SYMBOL
    "\u03d6": "\u03c0",  # PI SYMBOL
    "\u03f0": "\u03ba",  # KAPPA SYMBOL
    "\u03f1": "\u03c1",  # RHO SYMBOL
    "\u03f5": "\u03b5",  # LUNATE EPSILON SYMBOL
    "\u1e9b": "\u1e61",  # LONG S WITH DOT ABOVE: s with dot above
    "\u1fbe": "\u03b9",  # GREEK PROSGEGRAMMENI: iota
    "\ufffe": "\ufffd",  # noncharacters SQLite reads as the replacement character
    "\uffff": "\ufffd",
})
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


class Snippet(NamedTuple):
    """Where a hit is, in the record's own text: ``match`` is what the query matched, written as the record writes it.

    No match in the text (the title matched): ``before`` and ``match`` are
    empty, and ``after`` is the text's beginning.
    """

    before: str
    match: str
    after: str


@dataclass
class SearchHit:
    id: str
    source: str
    title: str
    published: str | None
    snippet: Snippet


def searchable(text: str) -> str:
    """Text as the index holds it and as a query is matched: control characters dropped (as
    extraction drops them from records), whitespace beside CJK dropped, other runs one space.

    A NUL ends FTS5's reading of a query ("unterminated string": serve's
    /search?q=a%00b was a 500).
    """
    # Whitespace first, while \r, \x0c or U+0085 still separate words (dropped
    # as control characters, "port\rcongestion" became one word).
    spaced = without_controls(" ".join(text.split()))
    return " ".join(SPACE_BESIDE_CJK_RE.sub("", spaced).split())


def searchable_with_sources(text: str) -> tuple[str, list[int]]:
    """``searchable(text)``, and for each of its characters the index in ``text`` it comes from.

    The same rule, worked word by word to keep the sources: whitespace
    separates words and control characters are dropped within them; between
    two words one space, unless one side is CJK. A space comes from the
    whitespace before the word it precedes. Only hits' texts go through here:
    ``searchable`` is the fast way for what is indexed.
    """
    chars: list[str] = []
    sources: list[int] = []
    for word in WORD_RE.finditer(text):
        start, kept = word.start(), word.group()
        if without_controls(kept) != kept:
            picked = [(start + i, ch) for i, ch in enumerate(kept) if not CONTROL_CHARS_RE.match(ch)]
            if not picked:
                continue  # controls only: the whitespace around it still separates
            kept = "".join(ch for _, ch in picked)
            where = [i for i, _ in picked]
        else:
            where = list(range(start, word.end()))
        if chars and not CJK_CHAR_RE.match(chars[-1]) and not CJK_CHAR_RE.match(kept[0]):
            chars.append(" ")
            sources.append(start - 1)
        chars.extend(kept)
        sources.extend(where)
    return "".join(chars), sources


def _folded(text: str) -> str:
    """Case folded as FTS5 matches, one character for one (str.lower turns "İ" into two)."""
    lower = text.lower()
    if len(lower) != len(text):
        lower = "".join(ch.lower()[0] for ch in text)
    return lower.translate(FTS5_FOLDS)


def _cluster_boundary(text: str, index: int) -> int:
    """The first boundary between grapheme clusters at or after ``index`` (a cut there splits none)."""
    if index <= 0 or index >= len(text):
        return max(0, min(index, len(text)))
    for cluster in GRAPHEME_RE.finditer(text, max(0, index - CLUSTER_LOOKBACK_CHARS), index + CLUSTER_LOOKBACK_CHARS):
        if cluster.end() >= index:
            return cluster.start() if cluster.start() == index else cluster.end()
    return index


def snippet(text: str, query: str, index_match: Callable[[], tuple[int, int] | None] | None = None) -> Snippet:
    """Where ``query`` (``searchable`` already) first matches ``text``, in ``text``'s own characters, with some around it.

    The index holds the text made searchable (whitespace beside CJK dropped):
    a snippet cut from that showed "10月25日" where the record says "10 月 25 日".
    ``index_match``: where the index says the query matched that text (start,
    end), asked only when folding finds no match in it, so a hit is marked
    where the index found it rather than shown by the text's beginning.
    """
    normal, sources = searchable_with_sources(text)
    at = _folded(normal).find(_folded(query)) if query else -1
    span = (at, at + len(query)) if at >= 0 else index_match() if index_match else None
    if span is None or not 0 <= span[0] < span[1] <= len(normal):
        lead = text[:_cluster_boundary(text, SNIPPET_LEAD_CHARS)]
        return Snippet("", "", lead + (ELLIPSIS if len(text) > len(lead) else ""))
    # The query has no space at either end (searchable): its ends are characters of the text.
    start, end = sources[span[0]], sources[span[1] - 1] + 1
    before_from = _cluster_boundary(text, max(0, start - SNIPPET_BEFORE_CHARS))
    before = text[before_from:start]
    after = text[end:_cluster_boundary(text, end + SNIPPET_AFTER_CHARS)]
    return Snippet((ELLIPSIS + before.lstrip()) if before_from else before, text[start:end],
                   (after.rstrip() + ELLIPSIS) if end + len(after) < len(text) else after)


def default_index_path(archive_url: str) -> Path:
    cache = user_cache_dir()
    if cache is None:
        raise SearchIndexError("no directory for the search index: set HOME or XDG_CACHE_HOME")
    return cache / f"search-{hashlib.sha256(archive_url.encode()).hexdigest()[:16]}.sqlite"


class SearchIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc
            # One connection shared by the web server's threads, serialised by SQLite itself.
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            if self._db.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
                self._db.executescript("DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS segments; DROP TABLE IF EXISTS fts;")
                self._db.execute(f"PRAGMA user_version = {INDEX_VERSION}")
            self._db.executescript(SCHEMA)
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
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF in DAMAGE_CODES:
                    self._drop_file()
                    raise SearchIndexDamaged(f"search index {self.path} was damaged ({exc}): dropped, to be made again") from exc
                raise SearchIndexError(f"search index {self.path}: {exc}") from exc

    def _drop_file(self) -> None:
        self.close()
        for path in [self.path, *(self.path.with_name(self.path.name + suffix) for suffix in SIDE_FILE_SUFFIXES)]:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("search index file %s not removed: %s", path, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

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
