"""Catalog compaction: the many small segments of past days merged into a few.

Every crawl writes segments of its own, so a daemon crawling twenty sources
every half hour adds about a thousand a day. Every crawl's start lists them
all (a LIST request per thousand keys on a bucket), and ``serve``, ``ls`` and
``search`` read them. Compaction merges the segments of each day no crawl
can still be writing into one, and those of past months into one per month.

Nothing read changes on the way. A merged segment keeps, in order, the last
line of each (article id, URL id) pair of its inputs: the newest entry of
every article, and every URL id a crawl recognises an article by before
fetching it. It is written first, then its inputs removed. Its first line
names them, and it sorts before them (catalog.MERGED_PREFIX): a reader that
lists it beside inputs not removed yet (a reader in between, a delete that
failed) skips those, and a segment written into a merged day later (a crawl
that ran longer than the grace) is read after it, newer as it is. Readers
that listed inputs since removed list again (``catalog.read_whole_catalog``).
Two compactions at once each write a merged segment and remove what they
read: both merged segments say the same.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from archive.catalog import CATALOG_PREFIX, MERGED_PREFIX, REPLACES_FIELD, catalog_lines, segment_keys, write_segment_bytes
from archive.store import ArchiveStore, KeyNotFound, StoreError

logger = logging.getLogger(__name__)

# Days whose segments a crawl may still be writing (a long crawl keys all its
# segments by the day it started): left alone until this much later.
DEFAULT_GRACE = timedelta(days=2)


@dataclass
class CompactionReport:
    merged: int = 0  # segments written
    removed: int = 0  # segments they replace, removed
    entries: int = 0  # lines in the merged segments


def compact_catalog(store: ArchiveStore, cache_dir: Path | None = None, *, now: datetime | None = None,
                    grace: timedelta = DEFAULT_GRACE, keep_going: Callable[[], bool] = lambda: True) -> CompactionReport:
    """Merge the segments of each closed day, then of each closed month; returns what was done.

    ``keep_going`` is asked between merges: a daemon that stops does not wait
    for a whole backlog (what is left is merged next time).
    """
    now = now or datetime.now(timezone.utc)
    report = CompactionReport()
    for level in ("day", "month"):
        for folder, keys in _closed_groups(segment_keys(store), now - grace, level).items():
            if not keep_going():
                return report
            if len(keys) > 1:
                _merge(store, cache_dir, folder, keys, now, report)
    return report


def _closed_groups(keys: list[str], cutoff: datetime, level: str) -> dict[str, list[str]]:
    """Segment keys by the folder of their day (``catalog/Y/M/D/``) or month, for periods ended before ``cutoff``."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key[len(CATALOG_PREFIX):].split("/")
        try:
            year, month = int(parts[0]), int(parts[1])
            month_closed = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc) <= cutoff
            day_closed = (len(parts) == 4 and datetime(year, month, int(parts[2]), tzinfo=timezone.utc) + timedelta(days=1) <= cutoff)
        except (ValueError, IndexError):
            continue  # not a segment of the dated layout: left as it is
        if level == "day":
            # A closed month's days are merged once, at the month level.
            if month_closed or not day_closed:
                continue
            folder = f"{CATALOG_PREFIX}{parts[0]}/{parts[1]}/{parts[2]}/"
        else:
            if not month_closed:
                continue
            folder = f"{CATALOG_PREFIX}{parts[0]}/{parts[1]}/"
        groups.setdefault(folder, []).append(key)
    return groups


def merged_lines(store: ArchiveStore, keys: list[str], cache_dir: Path | None) -> list[dict]:
    """The last line of each (id, URL id) pair of these segments, in the order of those last lines."""
    lines: dict[tuple[str, str], dict] = {}
    for data in catalog_lines(store, keys, cache_dir):
        pair = (data["id"], data.get("url_id") or data.get("url") or "")
        lines.pop(pair, None)  # re-inserted last: dicts keep insertion order
        lines[pair] = data
    return list(lines.values())


def _merge(store: ArchiveStore, cache_dir: Path | None, folder: str, keys: list[str], now: datetime,
           report: CompactionReport) -> None:
    try:
        lines = merged_lines(store, keys, cache_dir)
    except KeyNotFound:
        return  # another compaction removed some of them meanwhile: its merged segment has them
    merged_key = f"{folder}{MERGED_PREFIX}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.jsonl"
    header = json.dumps({REPLACES_FIELD: keys}) + "\n"
    write_segment_bytes(store, merged_key, (header + "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)).encode("utf-8"))
    report.merged += 1
    report.entries += len(lines)
    for key in keys:
        try:
            store.delete(key)
        except StoreError as exc:
            # Left beside the merged segment, which readers know replaces it; removed next time.
            logger.warning("catalog segment %s merged but not removed: %s", key, exc)
            continue
        report.removed += 1
    logger.info("catalog: %d segments of %s merged into %s (%d entries)", len(keys), folder, merged_key, len(lines))
