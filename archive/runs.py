"""Run records: one JSON object per crawl under ``runs/``.

They say when a crawl ran, what it did per source, and every URL that
failed with its reason, so that the next run can try those again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from archive.keys import RUNS_PREFIX, run_key
from archive.fields import utc_iso
from archive.records import dump_record
from archive.store import ArchiveStore

RUN_SCHEMA = "newsarchive.run/1"
RECENT_DAYS = 3  # iter_runs lists these one day at a time before anything older
COUNTERS = ("archived", "updated", "unchanged", "skipped", "spooled", "duplicates", "failed", "images_stored", "images_failed", "image_bytes")


def counts_text(counts: dict[str, int]) -> str:
    """A run's articles on one line: "3 new, 0 updated, 1 unchanged, 0 failed", and the spooled ones when any.

    Spooled articles went to the local spool while the store was out of
    reach: whether new or updated is known only when they are written.
    """
    text = (f"{counts.get('archived', 0)} new, {counts.get('updated', 0)} updated, "
            f"{counts.get('unchanged', 0)} unchanged, {counts.get('failed', 0)} failed")
    if counts.get("spooled"):
        text += f", {counts['spooled']} spooled (the store out of reach)"
    return text


def new_run_id(now: datetime | None = None) -> str:
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_started(run_id: str) -> datetime:
    return datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


@dataclass
class Failure:
    url: str
    reason: str
    source: str
    kind: str  # article | feed | sitemap | listing | image | source | store | link (not followed: too long)
    article_url: str | None = None
    attempt: int = 1  # runs in a row this URL has failed in


@dataclass
class RunRecord:
    run_id: str
    started: str
    sources: list[str]
    finished: str | None = None
    status: str = "running"  # completed | interrupted | failed
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # source -> why
    failures: list[Failure] = field(default_factory=list)
    spool_pending: int = 0  # writes still waiting for the store when the run ended

    def count(self, counter: str, source: str | None, n: int = 1) -> None:
        self.counts[counter] = self.counts.get(counter, 0) + n
        if source:
            per = self.per_source.setdefault(source, dict.fromkeys(COUNTERS, 0))
            per[counter] = per.get(counter, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {"schema": RUN_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        data = {k: v for k, v in data.items() if k != "schema"}
        data["failures"] = [Failure(**f) for f in data.get("failures", [])]
        return cls(**data)

    @property
    def key(self) -> str:
        return run_key(self.run_id, run_started(self.run_id))


def start_run(run_id: str, sources: list[str]) -> RunRecord:
    return RunRecord(run_id=run_id, started=utc_iso(run_started(run_id)), sources=sources)


RUN_CONTENT_TYPE = "application/json; charset=utf-8"


def run_bytes(run: RunRecord) -> bytes:
    return dump_record(run.to_dict())


def save_run(store: ArchiveStore, run: RunRecord) -> str:
    store.put(run.key, run_bytes(run), RUN_CONTENT_TYPE)
    return run.key


def iter_runs(store: ArchiveStore, now: datetime | None = None) -> Iterator[RunRecord]:
    """Run records, newest first.

    The last RECENT_DAYS are listed a day at a time, and everything else only
    if the reader wants more: after months of runs, listing runs/ whole (a
    LIST request per thousand keys on a bucket) to find a source's last run,
    usually today's, took longer than the rest of ``sources``.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    days = [f"{RUNS_PREFIX}{now - timedelta(days=back):%Y/%m/%d}/" for back in range(RECENT_DAYS)]
    for day in days:
        yield from _runs_at(store, sorted(store.list(day), reverse=True))
    yield from _runs_at(store, sorted((key for key in store.list(RUNS_PREFIX) if not key.startswith(tuple(days))), reverse=True))


def _runs_at(store: ArchiveStore, keys: list[str]) -> Iterator[RunRecord]:
    for key in keys:
        if key.endswith(".json"):
            yield RunRecord.from_dict(json.loads(store.get(key)))
