"""What a crawl's start costs per archived article: reading the catalog it skips by.

Every crawl loads the catalog (``crawler.incremental.archived_articles``)
from its local segment cache, so this grows with the archive. Prints the CPU
and the memory held per catalog entry, for entries that carry their URL id
(written since it is kept) and for older ones (worked out with courlan).

    python bench/catalog_bench.py [--n 50000]

Figures only: nothing here is asserted by the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.catalog import CatalogEntry, segment_key, write_segment  # noqa: E402
from archive.store import open_store  # noqa: E402
from crawler.incremental import archived_articles  # noqa: E402

ENTRIES_PER_SEGMENT = 200  # a crawl writes its catalog in parts of 100 to 200


def build(root: Path, n: int, with_url_ids: bool):
    store = open_store(str(root / "archive"))
    started = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for part in range(n // ENTRIES_PER_SEGMENT):
        first = part * ENTRIES_PER_SEGMENT
        entries = [CatalogEntry(id=f"{i:016x}", key=f"articles/{i % 256:02x}/{i:016x}.json", source="zaker-news",
                                title=f"标题第{i}条新闻内容", url=f"https://www.myzaker.com/article/{i:024x}?utm_source=rss",
                                published="2026-01-01T00:00:00+00:00", fetched="2026-01-01T00:00:00+00:00", language="zh",
                                categories=["新媒体", "ZAKER"], content_sha256="ab" * 32, images=2,
                                url_id=f"{i + 10**12:016x}" if with_url_ids else "")
                   for i in range(first, first + ENTRIES_PER_SEGMENT)]
        write_segment(store, segment_key(f"20260101T000000Z-{part:06x}", started, part), entries)
    return store


def measure(n: int, with_url_ids: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="newsarchive-catalog-bench-") as scratch:
        root = Path(scratch)
        store = build(root, n, with_url_ids)
        cache = root / "catalog-cache"
        archived_articles(store, cache)  # fills the local cache, as the first crawl does
        started = time.process_time()
        archived_articles(store, cache)
        cpu = time.process_time() - started
        tracemalloc.start()
        known = archived_articles(store, cache)
        held, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(known) == 2 * n
        return cpu / n, held / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50000, help="catalog entries (default 50000)")
    args = parser.parse_args()
    for with_url_ids, label in ((True, "entries with their URL id"), (False, "older entries (URL id worked out)")):
        cpu, held = measure(args.n, with_url_ids)
        print(f"{label}: {cpu * 1e6:.1f} us CPU and {held:.0f} B held per archived article (N={args.n})")


if __name__ == "__main__":
    main()
