"""`kill -9` of a crawl at random moments, then a crawl to the end: every article exactly once,
every object complete and parseable, no temp files left in the archive."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, run_cli
from tests.crawl_helpers import archive_store, article_records, crawl, site_sources, write_config
from tests.fixture_site import ARTICLES

KILLS = 4


def test_kill_9_at_random_points_loses_and_doubles_nothing(site, tmp_path):
    archive = tmp_path / "archive"
    # Slow enough that a kill lands mid-crawl: while pages, images and records are in flight.
    config = write_config(tmp_path / "cfg.yaml", str(archive), site_sources(site, lastmod_days=3650),
                          download_delay=0.2, concurrency=2)
    rng = random.Random(20211027)
    for _ in range(KILLS):
        process = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--config", str(config)], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(1.5, 5.0))
        # The whole process group: the crawl and its extraction workers die at once.
        try:
            import os

            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    crawl(config)
    store = archive_store(str(archive))
    records = article_records(store)  # asserts one record per canonical URL
    assert set(records) == {a.url(site.base_url) for a in ARTICLES}
    for key in store.list(""):
        data = store.get(key)
        assert data, f"{key} is empty"
        if key.endswith(".json"):
            json.loads(data)
    assert not list((archive / ".tmp").glob("*")), "no temp files left behind"
    for record in records.values():
        for image in record["images"]:
            assert store.exists(image["key"])
    result = run_cli("verify", "--archive", str(archive), "--json")
    report = json.loads(result.stdout)
    assert report["ok"], report["problems"]
    assert report["records"] == len(ARTICLES)
