"""Catalog compaction: the many small segments of past days merged into a few.

Every crawl writes segments of its own, so a daemon crawling twenty sources
every half hour adds about a thousand a day. Every crawl's start lists them
all (a LIST request per thousand keys on a bucket), and ``serve``, ``ls`` and
``search`` read them. Compaction merges the segments of each day no crawl
can still be writing into one, and those of past months into one per month.

Nothing read changes on the way. A merged segment keeps, in order, the last
line of each (article id, URL id) pair of its inputs: the newest entry of
every article, and every URL id a crawl recognises an article by before
fetching it. Its first line names the segments it replaces (those of
merged inputs too), and it sorts before them (catalog.MERGED_PREFIX): a
reader that lists it beside them skips them, and a segment written into a
merged day later (a crawl that ran longer than the grace) is read after it,
newer as it is. The replaced segments are removed only by a compaction
DELETE_AFTER later: a reader that listed them just before the merge still
finds them (a reader slower than a compaction working through a backlog
found them gone again at every listing). Two compactions at once each write
a merged segment: both say the same.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from archive.catalog import CATALOG_PREFIX, MERGED_PREFIX, REPLACES_FIELD, catalog_lines, replaced_by, segment_keys, write_segment_bytes
from archive.store import ArchiveStore, KeyNotFound, StoreError

logger = logging.getLogger(__name__)

# Days whose segments a crawl may still be writing (a long crawl keys all its
# segments by the day it started): left alone until this much later.
DEFAULT_GRACE = timedelta(days=2)
# How long the segments a merged one replaces stay beside it for readers
# that listed them before it existed.
DELETE_AFTER = timedelta(hours=1)
MERGED_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass
class CompactionReport:
    merged: int = 0  # segments written
    removed: int = 0  # segments they replace, removed
    entries: int = 0  # lines in the merged segments


def compact_catalog(store: ArchiveStore, cache_dir: Path | None = None, *, now: datetime | None = None,
                    grace: timedelta = DEFAULT_GRACE, delete_after: timedelta = DELETE_AFTER,
                    keep_going: Callable[[], bool] = lambda: True) -> CompactionReport:
    """Remove what earlier merges replaced, then merge the segments of each closed day and month.

    ``keep_going`` is asked between steps: a daemon that stops does not wait
    for a whole backlog (what is left is done next time).
    """
    now = now or datetime.now(timezone.utc)
    report = CompactionReport()
    keys = segment_keys(store)
    present = set(keys)
    replaced, removable = _replaced(store, keys, cache_dir, now - delete_after)
    for key in keys:
        if key in removable:
            if not keep_going():
                return report
            try:
                store.delete(key)
                report.removed += 1
            except StoreError as exc:
                logger.warning("catalog segment %s not removed (again next time): %s", key, exc)
    live = [key for key in keys if key not in replaced]
    # Days first, then months (a closed month's days are merged at the month
    # level only: the two levels never share a segment).
    for groups in _closed_groups(live, now - grace):
        for folder, group in groups.items():
            if not keep_going():
                return report
            if len(group) > 1:
                _merge(store, cache_dir, folder, group, now, report, present)
    return report


def _replaced(store: ArchiveStore, keys: list[str], cache_dir: Path | None, before: datetime) -> tuple[set[str], set[str]]:
    """The segments merged ones replace, and of those the ones merged before ``before`` (to remove)."""
    replaced: set[str] = set()
    removable: set[str] = set()
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if not name.startswith(MERGED_PREFIX):
            continue
        try:
            names = replaced_by(store, key, cache_dir)  # its first line only
        except KeyNotFound:
            continue
        replaced |= names
        try:
            merged_at = datetime.strptime(name[len(MERGED_PREFIX):].split("-", 1)[0], MERGED_TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        if merged_at <= before:
            removable |= names
    return replaced, removable & set(keys)


def _closed_groups(keys: list[str], cutoff: datetime) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Segment keys by the folder of their day (``catalog/Y/M/D/``), and by that of their month, for periods ended before ``cutoff``.

    A key is in one of the two at most: a closed month's days are merged once, at the month level.
    """
    days: dict[str, list[str]] = {}
    months: dict[str, list[str]] = {}
    for key in keys:
        parts = key[len(CATALOG_PREFIX):].split("/")
        try:
            year, month = int(parts[0]), int(parts[1])
            month_closed = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc) <= cutoff
            day_closed = (len(parts) == 4 and datetime(year, month, int(parts[2]), tzinfo=timezone.utc) + timedelta(days=1) <= cutoff)
        except (ValueError, IndexError):
            continue  # not a segment of the dated layout: left as it is
        if month_closed:
            months.setdefault(f"{CATALOG_PREFIX}{parts[0]}/{parts[1]}/", []).append(key)
        elif day_closed:
            days.setdefault(f"{CATALOG_PREFIX}{parts[0]}/{parts[1]}/{parts[2]}/", []).append(key)
    return days, months


def merged_lines(store: ArchiveStore, keys: list[str], cache_dir: Path | None, replaced: set[str] | None = None) -> list[dict]:
    """The last line of each (id, URL id) pair of these segments, in the order of those last lines.

    ``replaced`` gathers the segments merged inputs replace.
    """
    lines: dict[tuple[str, str], dict] = {}
    for data in catalog_lines(store, keys, cache_dir, replaced):
        pair = (data["id"], data.get("url_id") or data.get("url") or "")
        lines.pop(pair, None)  # re-inserted last: dicts keep insertion order
        lines[pair] = data
    return list(lines.values())


def _merge(store: ArchiveStore, cache_dir: Path | None, folder: str, keys: list[str], now: datetime,
           report: CompactionReport, present: set[str]) -> None:
    inherited: set[str] = set()
    try:
        lines = merged_lines(store, keys, cache_dir, inherited)
    except KeyNotFound:
        return  # another compaction removed some of them meanwhile: its merged segment has them
    merged_key = f"{folder}{MERGED_PREFIX}{now:{MERGED_TIME_FORMAT}}-{secrets.token_hex(3)}.jsonl"
    # What merged inputs replaced too, while still there: a reader skipping those
    # inputs would otherwise read what they replaced (and a header never grows
    # with what is long gone).
    header = json.dumps({REPLACES_FIELD: sorted({*keys, *(inherited & present)})}) + "\n"
    write_segment_bytes(store, merged_key, (header + "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)).encode("utf-8"))
    report.merged += 1
    report.entries += len(lines)
    logger.info("catalog: %d segments of %s merged into %s (%d entries)", len(keys), folder, merged_key, len(lines))
