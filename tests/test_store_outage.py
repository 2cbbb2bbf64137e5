"""The object store goes away mid-crawl: writes wait in the local spool, nothing is lost or doubled."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.keys import RUNS_PREFIX
from tests.conftest import ROOT
from tests.crawl_helpers import article_records, site_sources, write_config
from tests.fixture_site import ARTICLES


def _crawl(config: Path, env: dict, timeout: float = 240) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--config", str(config)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _spool_files(state: Path) -> list[Path]:
    return sorted((state / "spool").rglob("*.op")) if (state / "spool").exists() else []


def _check_archive(store, site) -> None:
    records = article_records(store)
    assert set(records) == {a.url(site.base_url) for a in ARTICLES}, "every article, once"
    for record in records.values():
        for image in record["images"]:
            assert hashlib.sha256(store.get(image["key"])).hexdigest() == image["sha256"]


def test_store_down_for_a_whole_run_then_back(site, own_s3, tmp_path, monkeypatch):
    import os

    env = {**os.environ, **own_s3.env()}
    for name, value in own_s3.env().items():
        monkeypatch.setenv(name, value)
    # spool_wait 0: the first crawl ends at once with the store still down.
    config = write_config(tmp_path / "cfg.yaml", "s3://outage/news", site_sources(site, lastmod_days=3650),
                          endpoint_url=own_s3.endpoint_url, spool_wait=0)
    state = tmp_path / "state"
    own_s3.stop()
    first = _crawl(config, env)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert _spool_files(state), "writes waited in the spool"
    # The summary said "0 new" and nothing of the articles held in the spool.
    assert re.search(r"\b[1-9]\d* articles went through the local spool \(the store was out of reach\): not all written yet", out), out

    own_s3.start()
    second = _crawl(config, env)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]
    assert not _spool_files(state), "the spool was replayed and emptied"
    from archive.store import open_store

    store = open_store("s3://outage/news", endpoint_url=own_s3.endpoint_url)
    _check_archive(store, site)
    assert len([k for k in store.list(RUNS_PREFIX)]) == 2, "both run records landed"


def test_store_stopped_mid_crawl_comes_back_in_the_same_run(site, own_s3, tmp_path, monkeypatch):
    import os

    env = {**os.environ, **own_s3.env()}
    for name, value in own_s3.env().items():
        monkeypatch.setenv(name, value)
    # Slow enough that the store can go away and come back while pages are still coming.
    config = write_config(tmp_path / "cfg.yaml", "s3://outage/mid", site_sources(site, lastmod_days=3650), endpoint_url=own_s3.endpoint_url,
                          download_delay=0.4, concurrency=1)
    state = tmp_path / "state"
    crawl = _crawl(config, env)
    time.sleep(3)
    own_s3.stop()
    time.sleep(4)
    own_s3.start()
    out, err = crawl.communicate(timeout=300)
    assert crawl.returncode == 0, err[-3000:]
    assert not _spool_files(state), "drained before the run ended"
    from archive.store import open_store

    store = open_store("s3://outage/mid", endpoint_url=own_s3.endpoint_url)
    _check_archive(store, site)
    runs = list(store.list(RUNS_PREFIX))
    assert len(runs) == 1
    spooled = json.loads(store.get(runs[0]))["counts"].get("spooled", 0)
    if spooled:  # articles finished while the store was away: said so, and that they were written since
        assert f"{spooled} articles went through the local spool (the store was out of reach): all written since" in out, out


def _refused_crawl(tmp_path: Path, archive_url: str, site, env: dict | None = None, **archive) -> tuple:
    from tests.conftest import run_cli

    config = write_config(tmp_path / "cfg.yaml", archive_url, site_sources(site)[:1], spool_wait=0, **archive)
    record_file = tmp_path / "run.json"
    result = run_cli("crawl", "--config", str(config), "--run-record-file", str(record_file), env=env)
    return result, json.loads(record_file.read_text(encoding="utf-8"))


def test_a_local_archive_that_refuses_writes_stops_the_run(site, tmp_path):
    # The archive path is a file: no directory can be made there, and a spool
    # would never drain. The crawl stops at once and fails, saying why.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    result, run = _refused_crawl(tmp_path, str(blocker), site)
    assert result.returncode == 1, result.stderr[-3000:]
    assert run["status"] == "failed" and run["counts"]["archived"] == 0
    (failure,) = [f for f in run["failures"] if f["kind"] == "source"]
    assert failure["reason"].startswith("the archive refuses writes") and str(blocker) in failure["reason"]
    assert "the archive refuses writes" in result.stdout.replace("\n", " ")
    assert not _spool_files(tmp_path / "state"), "nothing waits for a store that will never take it"


@pytest.mark.s3
def test_an_s3_store_with_wrong_credentials_stops_the_run(site, s3_server, s3_bucket, tmp_path):
    env = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    result, run = _refused_crawl(tmp_path, f"s3://{s3_bucket}/refused", site, env=env, endpoint_url=s3_server.endpoint_url)
    assert result.returncode == 1, result.stderr[-3000:]
    assert run["status"] == "failed"
    assert [f["kind"] for f in run["failures"]] == ["source"]
    assert "not-the-secret" not in json.dumps(run)
