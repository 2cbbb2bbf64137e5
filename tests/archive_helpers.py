"""Helpers of the archivists' tests: one crawl of the fixture site per backend and module.

``crawled_archive`` crawls the site with the real CLI into a directory or an
S3 bucket and returns an :class:`Archived` whose ``cli`` runs further
``newsarchive`` commands against it (its own search-index cache included).
``small_archive`` writes a few hand-made records and their catalog into a
directory, for tests that need exact texts rather than the site's.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from archive.catalog import catalog_entry, segment_key, write_segment
from archive.keys import article_key
from archive.fields import SCHEMA, article_id, content_sha256
from archive.records import dump_record
from archive.store import open_store
from tests.conftest import run_cli
from tests.crawl_helpers import archive_store, article_records, crawl, latest_run, site_sources, write_config
from tests.fixture_site import ARTICLES

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
_buckets = itertools.count(1)


@dataclass
class Archived:
    kind: str  # "local" or "s3"
    url: str
    endpoint: str | None
    env: dict[str, str]  # for the CLI subprocesses
    config: Path
    workdir: Path
    base_url: str  # the fixture site's
    store: object = None
    records: dict[str, dict] = field(default_factory=dict)  # canonical URL -> record
    run: dict = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 120):
        return run_cli(*args, "--config", str(self.config), env=self.env, timeout=timeout)

    def ok(self, *args: str, timeout: float = 120) -> str:
        result = self.cli(*args, timeout=timeout)
        assert result.returncode == 0, f"newsarchive {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr[-3000:]}"
        return result.stdout

    @property
    def by_id(self) -> dict[str, dict]:
        return {record["id"]: record for record in self.records.values()}

    def key(self, record: dict) -> str:
        return article_key(record["id"])

    def expected(self, record: dict):
        """The fixture site's declaration of the article a record is of."""
        return next(a for a in ARTICLES if a.url(self.base_url) == record["canonical_url"])


def crawled_archive(kind: str, site, tmp_path_factory, request, **crawl_options):
    """Crawl every source of the fixture site once into a fresh archive of the given kind.

    A generator for a module-scoped fixture: yields the :class:`Archived`,
    then undoes the AWS variables it set for this process.
    """
    workdir = tmp_path_factory.mktemp(f"archive-{kind}")
    env = {"XDG_CACHE_HOME": str(workdir / "cache")}  # the search index of this archive only
    endpoint = None
    patch = pytest.MonkeyPatch()
    if kind == "local":
        url = str(workdir / "archive")
    else:
        s3 = request.getfixturevalue("s3_server")
        bucket = f"arch-{os.getpid()}-{next(_buckets)}-{kind}"
        s3.create_bucket(bucket)
        url, endpoint = f"s3://{bucket}/news", s3.endpoint_url
        env.update(s3.env())
        for name, value in s3.env().items():  # this process reads the bucket back
            patch.setenv(name, value)
    config = write_config(workdir / "newsarchive.yaml", url, site_sources(site, lastmod_days=3650), endpoint_url=endpoint,
                          **crawl_options)
    try:
        crawl(config, env=env)
        archived = Archived(kind, url, endpoint, env, config, workdir, site.base_url)
        archived.store = archive_store(url, endpoint)
        archived.records = article_records(archived.store)
        archived.run = latest_run(archived.store)
        assert len(archived.records) == len(ARTICLES), "the crawl archived every article of the site"
        yield archived
    finally:
        patch.undo()


def parse_ls(stdout: str) -> list[tuple[str, str, str, str]]:
    """``ls`` piped: one tab-separated line per article (date, source, id, title)."""
    rows = []
    for line in stdout.splitlines():
        if line.strip():
            cells = line.split("\t")
            assert len(cells) == 4, f"not a date/source/id/title line: {line!r}"
            rows.append(tuple(cells))
    return rows


def record_json(store, record: dict) -> dict:
    return json.loads(store.get(article_key(record["id"])))


def made_record(n: int, text: str, title: str = "", **changes) -> dict:
    """A valid article record of https://news.example/<n>, published on day n of January 2026."""
    url = f"https://news.example/{n}"
    record = {"schema": SCHEMA, "id": article_id(url), "source": "s", "url": url, "canonical_url": url, "title": title or f"t{n}",
              "authors": [], "published": f"2026-01-{n:02d}T00:00:00+00:00", "fetched": "2026-02-01T00:00:00+00:00",
              "language": "zh", "categories": [], "text": text, "html": f"<p>{text}</p>", "images": [],
              "content_sha256": content_sha256(text)}
    return {**record, **changes}


def small_archive(path: Path, records: list[dict]):
    """A directory archive holding these records, catalogued as one crawl would; returns its store."""
    store = open_store(str(path))
    store.ensure()
    return fill_archive(store, records)


def fill_archive(store, records: list[dict]):
    """These records written into a store (a directory's or a bucket's) and catalogued as one crawl would; returns it."""
    for record in records:
        store.put(article_key(record["id"]), dump_record(record), "application/json; charset=utf-8")
    started = datetime(2026, 2, 1, tzinfo=timezone.utc)
    write_segment(store, segment_key("20260201T000000Z-aaaaaa", started, 0), [catalog_entry(r) for r in records])
    return store
