"""Catalog compaction: fewer segments, the same catalog for every reader."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from archive.catalog import CATALOG_PREFIX, CatalogEntry, known_articles, load_catalog, segment_key, segment_keys, write_segment
from archive.compaction import MERGED_PREFIX, compact_catalog
from archive.store import StoreError, open_store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def entry(n: int, version: int, *, url_id: str = "") -> CatalogEntry:
    return CatalogEntry(id=f"{n:064x}", key=f"articles/{n:064x}.json", source="site", title=f"第{n}条 v{version}",
                        url=f"https://news.example/{n}.html?v={version}", published=None,
                        fetched=f"2026-01-01T00:00:{version:02d}+00:00", language="zh", content_sha256=f"{version}",
                        url_id=url_id or f"url-{n}-{version}")


def url_id_of(url: str) -> str:
    return "worked-out-" + url


def fill(store, days: list[datetime], runs_per_day: int = 3) -> None:
    """Runs on each day; every run writes new articles and new versions of older ones."""
    store.ensure()
    version = 0
    for day in days:
        for run in range(runs_per_day):
            version += 1
            started = day + timedelta(hours=run)
            run_id = f"{started:%Y%m%dT%H%M%SZ}-{run:06x}"
            # Article 0 changes in every run; others come and get one revision.
            write_segment(store, segment_key(run_id, started, 0), [entry(0, version), entry(version, 1)])
            write_segment(store, segment_key(run_id, started, 1), [entry(version - 1, 2) if version > 1 else entry(0, version)])


DAYS = [datetime(2026, 9, 29, tzinfo=timezone.utc), datetime(2026, 9, 30, tzinfo=timezone.utc),
        datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 20, tzinfo=timezone.utc),
        datetime(2026, 11, 21, tzinfo=timezone.utc), datetime(2026, 11, 23, tzinfo=timezone.utc),
        datetime(2026, 11, 24, tzinfo=timezone.utc)]


def readers(store, cache=None):
    """What every reader makes of the catalog."""
    return load_catalog(store, cache), known_articles(store, cache, url_id_of)


def remove_replaced(store, cache=None, **kwargs):
    """A compaction long enough after the last: it removes what merged segments replace."""
    return compact_catalog(store, cache, now=NOW, delete_after=timedelta(0), **kwargs)


def test_past_days_and_months_are_merged_and_every_reader_sees_the_same_catalog(tmp_path):
    store = open_store(str(tmp_path / "archive"))
    fill(store, DAYS)
    before, before_keys = readers(store), segment_keys(store)

    report = compact_catalog(store, tmp_path / "cache", now=NOW, grace=timedelta(days=2))
    # Merged, and what they replace still there for readers that listed it before.
    assert (report.merged, report.removed) == (4, 0)
    assert len(segment_keys(store)) == len(before_keys) + 4
    assert readers(store) == before

    report = remove_replaced(store, tmp_path / "cache")
    keys = segment_keys(store)
    folders = sorted({key.rsplit("/", 1)[0] for key in keys})
    # September and October are over: a segment each. The 20th and 21st of
    # November are past the grace: a segment each. The 23rd and 24th (a
    # crawl started then may still write) are left as they were.
    assert folders == ["catalog/2026/09", "catalog/2026/10", "catalog/2026/11/20", "catalog/2026/11/21",
                       "catalog/2026/11/23", "catalog/2026/11/24"]
    assert sorted(key.rsplit("/", 1)[0] for key in keys if MERGED_PREFIX in key) == folders[:4]
    assert [k for k in keys if "/11/23/" in k or "/11/24/" in k] == [k for k in before_keys if "/11/23/" in k or "/11/24/" in k]
    assert len(keys) == 4 + 2 * 3 * 2 and report.merged == 0 and report.removed == len(before_keys) - 12
    assert readers(store) == before
    again = remove_replaced(store, tmp_path / "cache")
    assert (again.merged, again.removed) == (0, 0) and segment_keys(store) == keys, "nothing more to do"


def test_a_merged_month_replaces_what_its_merged_days_replaced(tmp_path):
    # Days merged in November (their segments not removed yet), then the month
    # closes and is merged: a reader skips the merged days, and so must skip
    # what they replaced, or it reads older lines after the month's.
    store = open_store(str(tmp_path / "archive"))
    fill(store, DAYS[3:5])
    before = readers(store)
    assert compact_catalog(store, None, now=NOW).merged == 2
    report = compact_catalog(store, None, now=NOW + timedelta(minutes=30), delete_after=timedelta(hours=1))
    assert (report.merged, report.removed) == (0, 0), "merged days wait an hour before what they replace goes"
    # The 21st's segments went already; the 20th's are still there (their removal failed).
    for key in segment_keys(store):
        if "/11/21/" in key and MERGED_PREFIX not in key:
            store.delete(key)
    december = datetime(2026, 12, 10, tzinfo=timezone.utc)
    report = compact_catalog(store, None, now=december, delete_after=timedelta(days=30))
    assert (report.merged, report.removed) == (1, 0) and len(segment_keys(store)) == 6 + 2 + 1
    assert readers(store) == before, "the month's merged segment names the days' segments too"
    assert compact_catalog(store, None, now=december, delete_after=timedelta(0)).removed == 8
    assert len(segment_keys(store)) == 1 and readers(store) == before


def test_a_straggler_segment_written_after_a_merge_still_wins(tmp_path):
    # A long crawl started on a merged day writes one more part: read after
    # the merged lines, as it is newer; the next compaction merges it in.
    store = open_store(str(tmp_path / "archive"))
    fill(store, DAYS[:2])
    compact_catalog(store, None, now=NOW)
    remove_replaced(store)
    late = datetime(2026, 9, 30, 23, tzinfo=timezone.utc)
    write_segment(store, segment_key(f"{late:%Y%m%dT%H%M%SZ}-late00", late, 7), [entry(0, 99)])
    assert load_catalog(store)[f"{0:064x}"].title == "第0条 v99"
    before = readers(store)
    assert compact_catalog(store, None, now=NOW).merged == 1
    remove_replaced(store)
    assert len(segment_keys(store)) == 1
    assert readers(store) == before


def test_segments_merged_but_not_removed_change_nothing(tmp_path):
    # A delete that fails leaves segments beside the merged one that replaces them.
    class FlakyDeletes:
        def __init__(self, store):
            self.store, self.calls = store, 0

        def __getattr__(self, name):
            return getattr(self.store, name)

        def delete(self, key):
            self.calls += 1
            if self.calls % 2:
                raise StoreError("delete refused")
            self.store.delete(key)

    store = open_store(str(tmp_path / "archive"))
    fill(store, DAYS)
    before = readers(store)
    compact_catalog(store, None, now=NOW)
    flaky = FlakyDeletes(store)
    report = remove_replaced(flaky)
    assert 0 < report.removed < flaky.calls
    assert readers(store) == before
    remove_replaced(store)
    assert readers(store) == before and len(segment_keys(store)) == 16


def test_a_reader_never_misses_segments_merged_after_it_listed_them(tmp_path):
    class CompactedAfterListing:
        """Lists the catalog, then a compaction runs before the segments are read."""

        def __init__(self, store, remove: bool):
            self.store, self.listings, self.remove = store, 0, remove

        def __getattr__(self, name):
            return getattr(self.store, name)

        def list(self, prefix=""):
            keys = list(self.store.list(prefix))
            if prefix == CATALOG_PREFIX:
                self.listings += 1
                if self.listings == 1:
                    compact_catalog(self.store, None, now=NOW)
                    if self.remove:  # as if the reader had taken more than DELETE_AFTER
                        remove_replaced(self.store)
            return keys

    for remove, listings in ((False, 1), (True, 2)):
        store = open_store(str(tmp_path / f"archive-{remove}"))
        fill(store, DAYS[:3])
        before = load_catalog(store)
        reader = CompactedAfterListing(store, remove)
        assert load_catalog(reader) == before
        assert reader.listings == listings, "what it listed is still there" if listings == 1 else "listed again"


def test_merged_lines_keep_every_url_id_an_article_was_fetched_by(tmp_path):
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    day = datetime(2026, 10, 5, tzinfo=timezone.utc)
    write_segment(store, segment_key("20261005T000000Z-aaaaaa", day, 0), [entry(1, 1, url_id="feed-url"), entry(1, 2, url_id="feed-url")])
    write_segment(store, segment_key("20261005T010000Z-bbbbbb", day, 0), [entry(1, 3, url_id="sitemap-url")])
    before, inputs = known_articles(store, None, url_id_of), segment_keys(store)
    compact_catalog(store, None, now=NOW)
    remove_replaced(store)
    (key,) = segment_keys(store)
    header, *lines = [json.loads(line) for line in store.get(key).decode().splitlines()]
    assert header == {"replaces": inputs}
    assert [(line["url_id"], line["title"]) for line in lines] == [("feed-url", "第1条 v2"), ("sitemap-url", "第1条 v3")]
    assert known_articles(store, None, url_id_of) == before
    assert set(before) >= {"feed-url", "sitemap-url", f"{1:064x}"}


def test_compaction_on_a_bucket(s3_server, s3_env, s3_bucket, tmp_path):
    # Keys as SeaweedFS sees them ("~" in a name; the listing's order).
    store = open_store(f"s3://{s3_bucket}/prefix", endpoint_url=s3_server.endpoint_url)
    fill(store, DAYS)
    before = readers(store)
    assert compact_catalog(store, tmp_path / "cache", now=NOW).merged == 4
    assert readers(store, tmp_path / "cache") == before
    remove_replaced(store, tmp_path / "cache")
    assert len(segment_keys(store)) == 16
    assert readers(store, tmp_path / "cache") == before


def test_the_search_index_reads_a_merged_segment_not_also_the_segments_it_replaces(tmp_path):
    # Left in place for an hour after a merge, the replaced segments were read
    # again by an index catching up, and each of their records fetched again.
    from archive.catalog import catalog_entries
    from archive.search import SearchIndex

    store = open_store(str(tmp_path / "archive"))
    fill(store, DAYS[:2])
    assert compact_catalog(store, None, now=NOW).merged == 1
    keys = segment_keys(store)
    fetched: list[str] = []
    real_get = store.get

    def counting_get(key: str) -> bytes:
        if key.startswith("articles/"):
            fetched.append(key)
        return real_get(key)

    store.get = counting_get
    SearchIndex(tmp_path / "index.sqlite").update(store)
    assert len(fetched) == len(list(catalog_entries(store, keys))), "each line the catalog reads, fetched once"
