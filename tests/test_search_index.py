"""The search index over a small hand-made archive: what a query matches.

The fixture site's crawl (tests/test_archive_commands.py) covers search end
to end; here the texts are chosen to the character.
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from archive.search import SearchIndex, SearchIndexDamaged, SearchIndexError
from archive.searchtext import SNIPPET_AFTER_CHARS, SNIPPET_BEFORE_CHARS, Snippet, searchable, searchable_with_sources
from archive.web import create_app
from tests.archive_helpers import made_record, small_archive
from tests.conftest import run_cli

SPACED_DATE = "人民网呼和浩特 10 月 25 日电 危难之间显勇毅"
TIGHT_DATE = "10月26日，包头市公安局党委第一时间响应"
LATIN = "The port   congestion\n\neased by Friday"
UNRELATED = "量子纠缠实验取得进展"


@pytest.fixture
def archive(tmp_path):
    records = [made_record(1, SPACED_DATE, "公安干警驰援"), made_record(2, TIGHT_DATE, "包头 公安 出征"),
               made_record(3, LATIN, "Port news"), made_record(4, UNRELATED, "科研")]
    return small_archive(tmp_path / "archive", records), {r["text"]: r["id"] for r in records}


def hit_ids(store, index_path, query: str) -> set[str]:
    index = SearchIndex(index_path)
    try:
        index.update(store)
        return {hit.id for hit in index.search(query)}
    finally:
        index.close()


@pytest.mark.parametrize("query, text", [
    ("10月25日", SPACED_DATE),
    ("10 月 25 日", SPACED_DATE),
    ("呼和浩特10月", SPACED_DATE),
    ("10 月 26 日", TIGHT_DATE),
    ("10月 26日，包头", TIGHT_DATE),
    ("包头公安", TIGHT_DATE),  # the title
    ("port congestion", LATIN),
    ("congestion eased", LATIN),  # across a paragraph break
    ("25 日", SPACED_DATE),
    ("月25", SPACED_DATE),  # shorter than a trigram: the substring scan
])
def test_whitespace_differences_do_not_matter(archive, tmp_path, query, text):
    store, ids = archive
    assert hit_ids(store, tmp_path / "index.sqlite", query) == {ids[text]}


def test_whitespace_between_latin_words_still_separates_them(archive, tmp_path):
    store, _ = archive
    assert hit_ids(store, tmp_path / "index.sqlite", "portcongestion") == set()


@pytest.mark.parametrize("separator", ["\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u2028", "\u3000"])
def test_every_kind_of_whitespace_separates_latin_words(separator):
    # Dropped as control characters before the whitespace was read, "\r" and
    # its kind joined the words around them.
    assert searchable(f"port{separator}congestion") == "port congestion"
    assert searchable(f"10{separator}月{separator}25{separator}日") == "10月25日"
    assert searchable("a\x00b") == "ab", "a NUL separates nothing: it is dropped"


def test_an_index_made_before_whitespace_was_normalised_is_filled_again(archive, tmp_path):
    # An index file of the earlier layout (no user_version) holds the raw text
    # and has every segment marked read: kept, it would never match "10月25日".
    store, ids = archive
    path = tmp_path / "index.sqlite"
    index = SearchIndex(path)
    index.update(store)
    index.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 0")
        db.execute("UPDATE fts SET body = ? WHERE rowid = (SELECT rowid_ FROM docs WHERE id = ?)", (SPACED_DATE, ids[SPACED_DATE]))
    assert hit_ids(store, path, "10月25日") == {ids[SPACED_DATE]}


def test_the_search_command_and_the_web_search_match_alike(archive, tmp_path):
    store, ids = archive
    cache = tmp_path / "cache"
    result = run_cli("search", "10月25日", "--archive", store.url, env={"XDG_CACHE_HOME": str(cache)}, timeout=60)
    assert result.returncode == 0 and ids[SPACED_DATE] in result.stdout, result.stdout + result.stderr
    client = create_app(store, SearchIndex(tmp_path / "web-index.sqlite")).test_client()
    page = client.get("/search", query_string={"q": "10 月 26 日"})
    assert page.status_code == 200 and f'href="/article/{ids[TIGHT_DATE]}"' in page.get_data(as_text=True)


def test_a_query_holding_control_characters_matches_as_without_them(archive, tmp_path):
    # Records hold none (extraction drops them); a NUL ended FTS5's reading of the query.
    store, ids = archive
    assert hit_ids(store, tmp_path / "index.sqlite", "危难\x00之间") == {ids[SPACED_DATE]}
    assert hit_ids(store, tmp_path / "index.sqlite", "\x00") == set()
    page = create_app(store, SearchIndex(tmp_path / "web-index.sqlite")).test_client().get("/search?q=conges%00tion%20eased")
    assert page.status_code == 200 and f'href="/article/{ids[LATIN]}"' in page.get_data(as_text=True)


# Valid JSON, but no record: verify reports each; search indexes the others.
DAMAGED_RECORDS = [pytest.param(b"[]", id="a-list"),
                   pytest.param(b'{"id": "x", "title": ["not", "a", "string"], "text": "t"}', id="a-title-that-is-a-list"),
                   pytest.param(b'{"id": "x", "title": "t", "text": "broken emoji \\ud83d here"}', id="a-lone-surrogate")]


@pytest.mark.parametrize("damage", DAMAGED_RECORDS)
def test_a_damaged_record_is_left_out_of_the_index_and_the_others_searched(tmp_path, damage):
    # Indexing it raised (AttributeError, UnicodeEncodeError from SQLite):
    # search printed a traceback and exited 1, "no match"; serve answered 500.
    from archive.keys import article_key

    records = [made_record(1, "额济纳胡杨林"), made_record(2, "另一篇")]
    store = small_archive(tmp_path / "archive", records)
    store.put(article_key(records[1]["id"]), damage)
    assert hit_ids(store, tmp_path / "index.sqlite", "额济纳") == {records[0]["id"]}
    result = run_cli("search", "额济纳", "--archive", store.url, env={"XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=60)
    assert result.returncode == 0 and records[0]["id"] in result.stdout, result.stderr[-600:]
    client = create_app(store, SearchIndex(tmp_path / "web-index.sqlite")).test_client()
    page = client.get("/search", query_string={"q": "额济纳"})
    assert page.status_code == 200 and f'href="/article/{records[0]["id"]}"' in page.get_data(as_text=True)
    assert client.get(f"/article/{records[1]['id']}").status_code == 404, "damaged: as if not there"


def test_a_web_snippet_shows_no_control_character_as_the_search_command_shows_none(tmp_path):
    # A record archived before extraction dropped them: the terminal never saw them, the page did.
    record = made_record(1, "人民网\x1b[2J呼和浩特 危难\x07之间显勇毅\x9f")
    store = small_archive(tmp_path / "archive", [record])
    page = create_app(store, SearchIndex(tmp_path / "index.sqlite")).test_client().get("/search", query_string={"q": "危难之间"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<mark>危难之间</mark>" in html, html
    assert not any(ch in html for ch in "\x1b\x07\x9f")
    assert "人民网[2J呼和浩特 " in html and "显勇毅</div>" in html


# --- snippets: the record's own text around the hit -------------------------------


def hits_by_id(store, index_path, query: str) -> dict:
    index = SearchIndex(index_path)
    try:
        index.update(store)
        return {hit.id: hit for hit in index.search(query)}
    finally:
        index.close()


@pytest.mark.parametrize("query, text, match, before, after", [
    # The index holds "人民网呼和浩特10月25日电危难之间显勇毅": the snippet showed that.
    ("10月25日", SPACED_DATE, "10 月 25 日", "人民网呼和浩特 ", "电 危难之间显勇毅"),
    ("呼和浩特10月", SPACED_DATE, "呼和浩特 10 月", "人民网", " 25 日电 危难之间显勇毅"),
    ("10 月 26 日，包头", TIGHT_DATE, "10月26日，包头", "", "市公安局党委第一时间响应"),
    ("Congestion  EASED", LATIN, "congestion\n\neased", "The port   ", " by Friday"),
    ("月25", SPACED_DATE, "月 25", "人民网呼和浩特 10 ", " 日电 危难之间显勇毅"),  # the substring scan's hits too
])
def test_a_snippet_is_the_records_own_text_with_the_match_marked(archive, tmp_path, query, text, match, before, after):
    store, ids = archive
    hit = hits_by_id(store, tmp_path / "index.sqlite", query)[ids[text]]
    assert hit.snippet == Snippet(before, match, after)
    assert "".join(hit.snippet) == text


def test_a_long_texts_snippet_is_cut_around_the_match(tmp_path):
    text = "前言" * 100 + "\n\n额济纳 胡杨林  的秋天" + " and then some more words" * 20
    record = made_record(1, text)
    store = small_archive(tmp_path / "archive", [record])
    hit = hits_by_id(store, tmp_path / "index.sqlite", "额济纳胡杨林的秋天")[record["id"]]
    assert hit.snippet.match == "额济纳 胡杨林  的秋天"
    assert hit.snippet.before == "…" + "前言" * 11 + "\n\n" and hit.snippet.after.startswith(" and then") and hit.snippet.after.endswith("…")
    assert len(hit.snippet.before) == SNIPPET_BEFORE_CHARS + 1 and len(hit.snippet.after) <= SNIPPET_AFTER_CHARS + 1


def test_a_snippet_is_cut_between_user_perceived_characters(tmp_path):
    # Cut by code point, the snippet began inside a ZWJ emoji (a lone joiner and
    # half a scientist) and ended between a letter and its accent.
    scientist, accented = "\U0001F469\u200d\U0001F52C", "e\u0301"
    text = "a" * 50 + scientist + "b" * 23 + "额济纳胡杨林" + "c" * 47 + accented + "d" * 50
    assert text.index("额") - SNIPPET_BEFORE_CHARS == 52  # the cut fell on the emoji's joiner
    assert text.index(accented) + 1 == text.index("额") + 6 + SNIPPET_AFTER_CHARS  # and on the accent
    record = made_record(1, text)
    store = small_archive(tmp_path / "archive", [record])
    hit = hits_by_id(store, tmp_path / "index.sqlite", "额济纳胡杨林")[record["id"]]
    assert hit.snippet == Snippet("…" + "b" * 23, "额济纳胡杨林", "c" * 47 + accented + "…")


def test_a_hit_in_the_title_alone_shows_the_texts_beginning(archive, tmp_path):
    store, ids = archive
    hit = hits_by_id(store, tmp_path / "index.sqlite", "公安干警")[ids[SPACED_DATE]]
    assert hit.snippet == Snippet("", "", SPACED_DATE)


GREEK_ROAD = "Νέα έργα στην περιοχή. " * 10 + "Το οδόστρωμα ανακαινίζεται από τον δήμο."


@pytest.mark.parametrize("text, query, match", [
    (GREEK_ROAD, "οδός", "οδόσ"),  # "road", its final sigma: FTS5 finds it in "οδόστρωμα"
    ("开头。" * 40 + "每日摄入 5 µg 维生素", "5 μg", "5 µg"),  # the micro sign as keyboards type it, the Greek mu queried
    ("ΤΟ ΟΔΟΣΤΡΩΜΑ", "οδος", "ΟΔΟΣ"),  # str.lower makes a word's last capital sigma final
], ids=["final-sigma", "micro-sign", "capital-sigma"])
def test_a_hit_is_marked_however_fts5_folded_its_case(tmp_path, text, query, match):
    # FTS5 folds ς as σ, µ as μ, ϐ as β...; the snippet folded with str.lower
    # alone, found nothing to mark and showed the text's beginning.
    record = made_record(1, text)
    store = small_archive(tmp_path / "archive", [record])
    hit = hits_by_id(store, tmp_path / "index.sqlite", query)[record["id"]]
    assert hit.snippet.match == match, hit.snippet


def test_snippets_fold_case_as_fts5_does_for_every_character():
    # What FTS5's trigram tokenizer folds alike (SQLite's table, as fts5vocab
    # lists the trigram "ccc" of each character c), _folded folds alike.
    from archive.searchtext import _folded

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='trigram')")
    # What the index holds: no control character, no whitespace (searchable drops them), no lone surrogate.
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and searchable(chr(c)) == chr(c)]
    db.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", ((ord(c), c * 3) for c in characters))
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    folded_by_fts5 = {chr(doc): term for term, doc in db.execute("SELECT term, doc FROM v")}
    assert len(folded_by_fts5) == len(characters)
    differing = [(c, term) for c, term in folded_by_fts5.items() if _folded(c * 3) != _folded(term)]
    assert differing == [], [f"U+{ord(c):04X} -> {term[0]!r}" for c, term in differing]


def test_a_hit_folding_cannot_place_is_shown_where_the_index_found_it(tmp_path, monkeypatch):
    # Were folding ever to differ again, the hit is still marked where FTS5
    # matched it, not shown by the text's beginning.
    from archive import searchtext

    monkeypatch.setattr(searchtext, "FTS5_FOLDS", {})  # str.lower alone, as before
    record = made_record(1, GREEK_ROAD)
    store = small_archive(tmp_path / "archive", [record])
    hit = hits_by_id(store, tmp_path / "index.sqlite", "οδός")[record["id"]]
    assert hit.snippet.match == "οδόσ" and hit.snippet.before.endswith("Το "), hit.snippet


ODD_CHARACTERS = ["a", "B", "İ", "月", "日", "，", "1", " ", "  ", "\n\n", "\t", "\r", "\x0b", "\x85", "\u2028", "\u3000",
                  "\x00", "\x07", "\x1b", "\x9f", "é", "ß"]


def test_the_snippets_reading_of_a_text_is_the_indexs():
    # The snippet maps the index's text back to the record's: the same rule
    # worked word by word, which must give the same text.
    generator = random.Random(20261124)
    texts = [SPACED_DATE, TIGHT_DATE, LATIN, UNRELATED, "", "   ", "\x00", "a \x00 b", "月 \x00 a", " 月\x1b日 "]
    texts += ["".join(generator.choice(ODD_CHARACTERS) for _ in range(generator.randint(1, 40))) for _ in range(3000)]
    for text in texts:
        normal, sources = searchable_with_sources(text)
        assert normal == searchable(text), repr(text)
        assert len(sources) == len(normal) and sources == sorted(set(sources))
        assert all(text[i] == ch for i, ch in zip(sources, normal) if ch != " "), repr(text)


@pytest.mark.parametrize("query, line", [("10月25日", "人民网呼和浩特 [10 月 25 日]电 危难之间显勇毅"),
                                         ("congestion eased", "The port [congestion eased] by Friday")])
def test_the_search_command_prints_the_records_text_around_the_match(archive, tmp_path, query, line):
    store, _ = archive
    result = run_cli("search", query, "--archive", store.url, env={"XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"    {line}\n" in result.stdout, "on one line, its whitespace one space each"


# --- a damaged index: a cache of the archive, made again ------------------------------


def _indexed_archive(tmp_path):
    """An archive of one record, and an index of it: (record, store, index path)."""
    record = made_record(1, "人民网呼和浩特报道")
    store = small_archive(tmp_path / "archive", [record])
    path = tmp_path / "index.sqlite"
    assert list(hits_by_id(store, path, "呼和浩特")) == [record["id"]]
    return record, store, path


def _another_writer(path, monkeypatch, begin: str) -> sqlite3.Connection:
    """A connection holding the index in a ``begin`` transaction; the index's own give up on a lock after 0.1 s."""
    import functools

    import archive.search

    monkeypatch.setattr(archive.search.sqlite3, "connect", functools.partial(sqlite3.connect, timeout=0.1))
    writer = sqlite3.connect(path)
    writer.execute(begin)
    return writer


def _no_database(path) -> None:
    path.write_bytes(b"not a SQLite database" * 100)


def _damaged_pages(path) -> None:
    """The file's header kept, the headers of every other page after it garbled (SQLITE_CORRUPT)."""
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 8192):
        data[offset:offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_no_database, _damaged_pages], ids=["not-a-database", "damaged-pages"])
def test_a_damaged_index_is_made_again_from_the_archive(tmp_path, caplog, damage):
    records = [made_record(n, f"第{n}篇：人民网呼和浩特报道" + "内容" * 200) for n in range(1, 31)]
    store = small_archive(tmp_path / "archive", records)
    path = tmp_path / "index.sqlite"
    assert len(hits_by_id(store, path, "呼和浩特")) == 30
    damage(path)
    index = SearchIndex(path)
    try:
        assert index.update(store) == 30, "every record indexed again"
        assert len(index.search("呼和浩特", limit=100)) == 30
    finally:
        index.close()
    assert any("was damaged" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_damage_met_by_a_search_drops_the_file_and_the_next_update_makes_it_again(tmp_path):
    record, store, path = _indexed_archive(tmp_path)
    _no_database(path)
    index = SearchIndex(path)
    try:
        with pytest.raises(SearchIndexDamaged, match="dropped"):
            index.search("呼和浩特")
        assert not path.exists()
        index.update(store)
        assert [hit.id for hit in index.search("呼和浩特")] == [record["id"]]
    finally:
        index.close()


def test_an_index_locked_by_another_writer_is_reported_not_dropped(tmp_path, monkeypatch):
    record, store, path = _indexed_archive(tmp_path)
    writer = _another_writer(path, monkeypatch, "BEGIN EXCLUSIVE")
    index = SearchIndex(path)
    try:
        with pytest.raises(SearchIndexError, match="locked") as raised:
            index.update(store)
        assert not isinstance(raised.value, SearchIndexDamaged)
    finally:
        index.close()
        writer.rollback()
        writer.close()
    assert list(hits_by_id(store, path, "呼和浩特")) == [record["id"]], "the index kept"


def _damaged_fts(path) -> None:
    """FTS5's own pages garbled, in place: an update reads no such page, a query does."""
    db = sqlite3.connect(path)
    db.execute("UPDATE fts_data SET block = ? WHERE id = 10", (b"\xff" * 64,))
    db.commit()
    db.close()


def test_damage_only_a_query_meets_is_made_again_and_asked_again(tmp_path, caplog):
    record, store, path = _indexed_archive(tmp_path)
    _damaged_fts(path)
    index = SearchIndex(path)
    try:
        assert index.update(store) == 0, "the update met no damage"
        assert [hit.id for hit in index.search_archive(store, "呼和浩特")] == [record["id"]]
    finally:
        index.close()
    assert any("was damaged" in r.getMessage() for r in caplog.records)


def test_an_index_another_process_made_again_is_not_removed_for_the_old_ones_damage(tmp_path):
    # serve still held the damaged file a search had replaced already: removing by
    # name, it took the new index away (or the one being made).
    record = made_record(1, "人民网呼和浩特报道")
    store = small_archive(tmp_path / "archive", [record])
    path = tmp_path / "index.sqlite"
    serve, search = SearchIndex(path), SearchIndex(path)
    try:
        assert [hit.id for hit in serve.search_archive(store, "呼和浩特")] == [record["id"]]
        _damaged_fts(path)
        assert [hit.id for hit in search.search_archive(store, "呼和浩特")] == [record["id"]]
        remade = path.stat().st_ino
        assert [hit.id for hit in serve.search_archive(store, "呼和浩特")] == [record["id"]]
        assert path.stat().st_ino == remade, "the new index kept"
    finally:
        serve.close()
        search.close()


def test_a_damaged_index_that_cannot_be_removed_says_so(tmp_path, monkeypatch):
    from pathlib import Path

    _, store, path = _indexed_archive(tmp_path)
    _no_database(path)

    def refused(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refused)
    index = SearchIndex(path)
    try:
        with pytest.raises(SearchIndexError, match="could not be removed") as raised:
            index.search_archive(store, "呼和浩特")
        assert not isinstance(raised.value, SearchIndexDamaged)
    finally:
        index.close()


def test_an_index_locked_as_it_is_first_opened_is_set_up_at_the_next_use(tmp_path, monkeypatch):
    # Its connection was kept half set up: after the lock, "no such table" until restarted.
    import archive.search

    record, store, path = _indexed_archive(tmp_path)
    older = sqlite3.connect(path)  # an index of an older version, with other tables: to be dropped and made again
    older.executescript(f"DROP TABLE segments; PRAGMA user_version = {archive.search.INDEX_VERSION - 1};")
    older.close()
    writer = _another_writer(path, monkeypatch, "BEGIN IMMEDIATE")  # readers read on: the version is read, the schema not made
    index = SearchIndex(path)
    try:
        with pytest.raises(SearchIndexError, match="locked"):
            index.search_archive(store, "呼和浩特")
        writer.rollback()
        assert [hit.id for hit in index.search_archive(store, "呼和浩特")] == [record["id"]]
    finally:
        writer.close()
        index.close()
