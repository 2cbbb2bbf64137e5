"""The local cache of catalog segments, shared by crawls that run at once."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from archive.catalog import CatalogEntry, load_catalog, segment_key, write_segment
from archive.store import open_store

RUN_ID = "20260101T000000Z-abcdef"


def entries(count: int) -> list[CatalogEntry]:
    return [CatalogEntry(id=f"{i:064x}", key=f"articles/{i:064x}.json", source="site", title=f"第{i}条",
                         url=f"https://news.example/{i}.html", published=None, fetched="2026-01-01T00:00:00Z",
                         language="zh") for i in range(count)]


def archive_with_segments(tmp_path, segments: int = 3, per_segment: int = 2000):
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    started = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for part in range(segments):
        write_segment(store, segment_key(RUN_ID, started, part), entries(per_segment)[part::segments])
    return store


def test_crawls_filling_an_empty_cache_at_once_all_read_the_whole_catalog(tmp_path):
    # The daemon starts several crawls at once after a restart: each loads the
    # catalog through the same, still empty, cache. None may fail.
    store = archive_with_segments(tmp_path)
    cache = tmp_path / "state" / "catalog-cache"
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def crawl_start() -> None:
        barrier.wait()
        try:
            results.append(len(load_catalog(store, cache)))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    for _round in range(5):
        for path in sorted(cache.rglob("*.jsonl"), reverse=True) if cache.exists() else ():
            path.unlink()
        threads = [threading.Thread(target=crawl_start) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert results == [2000] * 40
    assert sorted(p.name for p in cache.rglob("*.jsonl")) == sorted(k.rsplit("/", 1)[-1] for k in store.list("catalog/"))


def test_a_cache_that_cannot_be_written_only_costs_a_download(tmp_path, caplog):
    store = archive_with_segments(tmp_path, segments=1, per_segment=10)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    assert len(load_catalog(store, blocked / "catalog-cache")) == 10
    assert "not cached" in caplog.text


def _entry(article_id: str) -> CatalogEntry:
    return CatalogEntry(id=article_id, key=f"articles/{article_id}.json", source="site", title=article_id,
                        url=f"https://news.example/{article_id}.html", published=None, fetched="2026-01-01T00:00:00Z",
                        language="zh")


class CountingStore:
    """A store that counts its listings and reads (what serve's page views cost on a bucket)."""

    def __init__(self, store) -> None:
        self.store, self.lists, self.gets = store, 0, 0
        self.got: list[str] = []  # the keys read, in order
        self.url = store.url

    def list(self, prefix: str = ""):
        self.lists += 1
        return self.store.list(prefix)

    def get(self, key: str) -> bytes:
        self.gets += 1
        self.got.append(key)
        return self.store.get(key)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_catalog_snapshot_is_read_again_only_when_old_and_only_new_segments(tmp_path):
    from archive.catalog import CatalogSnapshot

    store = CountingStore(open_store(str(tmp_path / "archive")))
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    write_segment(store.store, segment_key("20260101T000000Z-aaaaaa", now, 0), [_entry("a")])
    snapshot = CatalogSnapshot(store, tmp_path / "cache", max_age=3600)
    assert set(snapshot.entries()) == {"a"}
    reads = (store.lists, store.gets)
    write_segment(store.store, segment_key("20260101T010000Z-bbbbbb", now, 0), [_entry("b")])
    for _ in range(5):  # page views within max_age: nothing read
        assert set(snapshot.entries()) == {"a"}
    assert (store.lists, store.gets) == reads
    snapshot.max_age = 0
    assert set(snapshot.entries()) == {"a", "b"}
    assert store.gets == reads[1] + 1, "only the new segment was fetched; the first came from the cache"


def test_known_articles_are_small_and_take_url_ids_from_the_entries(tmp_path):
    from archive.catalog import KnownArticle, known_articles

    store = open_store(str(tmp_path / "archive"))
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    new = CatalogEntry(id="a" * 16, key="articles/aa/x.json", source="s", title="t", url="https://news.example/a?utm_source=x",
                       published="2026-01-01T00:00:00+00:00", fetched="2026-01-02T00:00:00+00:00", language="zh", url_id="b" * 16)
    old = CatalogEntry(id="c" * 16, key="articles/cc/y.json", source="s", title="t", url="https://news.example/c",
                       published=None, fetched="2026-01-03T00:00:00+00:00", language="zh")  # written before url_id was kept
    write_segment(store, segment_key("20260101T000000Z-aaaaaa", now, 0), [new, old])
    asked: list[str] = []

    def url_id(url: str) -> str:
        asked.append(url)
        return "d" * 16

    known = known_articles(store, tmp_path / "cache", url_id)
    assert asked == ["https://news.example/c"], "worked out only where the entry does not carry it"
    assert known == {
        "a" * 16: KnownArticle("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"),
        "b" * 16: KnownArticle("2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"),
        "c" * 16: KnownArticle(None, "2026-01-03T00:00:00+00:00"),
        "d" * 16: KnownArticle(None, "2026-01-03T00:00:00+00:00"),
    }


def test_a_crawl_keeps_each_articles_url_id_in_the_catalog(site, tmp_path):
    from archive.catalog import load_catalog
    from crawler.incremental import url_article_id
    from tests.crawl_helpers import crawl, write_config

    archive = str(tmp_path / "archive")
    crawl(write_config(tmp_path / "cfg.yaml", archive, [{"id": "rss", "kind": "feed", "url": site.url("/feeds/atom.xml")}]))
    entries = load_catalog(open_store(archive)).values()
    assert entries and all(entry.url_id == url_article_id(entry.url) for entry in entries)


def test_the_cache_forgets_segments_gone_from_the_catalog(tmp_path):
    from archive.catalog import CATALOG_PREFIX, rebuild_catalog

    store = archive_with_segments(tmp_path, segments=3, per_segment=10)
    cache = tmp_path / "state" / "catalog-cache"
    load_catalog(store, cache)
    cached = set(open_store(str(cache)).list(CATALOG_PREFIX))
    assert cached == set(store.list(CATALOG_PREFIX)) and len(cached) == 3
    rebuild_catalog(store)  # one segment from the records replaces the three (there are no records here)
    load_catalog(store, cache)
    assert set(open_store(str(cache)).list(CATALOG_PREFIX)) == set(store.list(CATALOG_PREFIX))


def test_entries_holding_unicode_line_separators_are_read_whole(tmp_path):
    # json.dumps(ensure_ascii=False) writes U+2028, U+2029 and U+0085 as they
    # are; a reader splitting at them lost the article from ls, search and serve.
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    odd = CatalogEntry(id="f" * 16, key="articles/ff/ffff.json", source="site", title="A\u2028B\x85C", url="https://news.example/x",
                       published=None, fetched="2026-01-01T00:00:00Z", language="en", categories=["Politics\u2028Local", "X\u2029Y"])
    write_segment(store, segment_key(RUN_ID, datetime(2026, 1, 1, tzinfo=timezone.utc), 0), [odd, *entries(2)])
    catalog = load_catalog(store)
    assert len(catalog) == 3 and catalog["f" * 16] == odd


def test_serves_search_reads_no_segment_the_catalog_snapshot_fetched(tmp_path):
    # The search index read every segment from the store once more, beside the
    # copies serve's catalog snapshot keeps: on a bucket, the whole catalog
    # downloaded again at the first search.
    from archive.catalog import CATALOG_PREFIX, CatalogSnapshot, catalog_entry
    from archive.keys import article_key
    from archive.records import dump_record
    from archive.search import SearchIndex
    from archive.web import create_app
    from tests.archive_helpers import fill_archive, made_record

    records = [made_record(n, f"第{n}篇 危难之间显勇毅") for n in range(1, 5)]
    store = CountingStore(fill_archive(open_store(str(tmp_path / "archive")), records[:2]))
    now = datetime(2026, 2, 2, tzinfo=timezone.utc)
    for part, record in enumerate(records[2:]):  # segments of later crawls
        store.store.put(article_key(record["id"]), dump_record(record))
        write_segment(store.store, segment_key("20260202T000000Z-bbbbbb", now, part), [catalog_entry(record)])
    snapshot = CatalogSnapshot(store, tmp_path / "cache" / "search-x-catalog", max_age=3600)
    assert len(snapshot.entries()) == 4  # serve reads the catalog before it listens
    assert sum(key.startswith(CATALOG_PREFIX) for key in store.got) == 3
    client = create_app(store, SearchIndex(tmp_path / "cache" / "search-x.sqlite"), snapshot).test_client()
    store.got.clear()
    first = client.get("/search", query_string={"q": "危难之间"})
    assert first.status_code == 200 and first.get_data(as_text=True).count('class="title"') == 4
    assert sorted(store.got) == sorted(article_key(r["id"]) for r in records), "the records only: no segment again"
    store.got.clear()
    second = client.get("/search", query_string={"q": "显勇毅"})
    assert second.status_code == 200 and second.get_data(as_text=True).count('class="title"') == 4
    assert store.got == [], "nothing read: no segment, and no record the index has"
