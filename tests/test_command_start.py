"""How a command starts: garbage collection paused while the command line loads, resumed before the command runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


GC_PROBE = """
import gc, importlib.abc, json, sys

imported_with_collection = {}


class NoteCollection(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("typer", "pydantic", "scrapy"):
            imported_with_collection.setdefault(name, gc.isenabled())
        return None


sys.meta_path.insert(0, NoteCollection())
sys.argv = ["newsarchive", *sys.argv[1:]]
from crawler.__main__ import main

try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps([imported_with_collection, gc.isenabled(), code]))
"""


@pytest.mark.parametrize("command", ["sources", "distributed-crawl"])
def test_the_command_line_loads_with_collection_paused_and_runs_with_it(tmp_path, command):
    # The collector, run again and again as the start's 100,000 objects are
    # made, took 0.06 s of a crawl's imports; a command runs with it on.
    config = tmp_path / "newsarchive.yaml"
    distributed = "distributed: {redis_url: 'redis://127.0.0.1:1/0'}\n" if command == "distributed-crawl" else ""
    config.write_text(f"archive: {{url: {tmp_path / 'archive'}}}\n{distributed}"
                      f"daemon: {{state_dir: {tmp_path / 'state'}}}\n"
                      "sources: [{id: s, kind: feed, url: 'http://127.0.0.1:1/rss.xml'}]\n")
    # The distributed crawl enqueues for workers: no Scrapy set-up resumes collection (Redis unreachable: it fails after).
    arguments = ["sources" if command == "sources" else "crawl", "--config", str(config)]
    probe = tmp_path / "probe.py"
    probe.write_text(GC_PROBE)
    result = subprocess.run([sys.executable, str(probe), *arguments], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    imported, enabled_at_end, code = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == (0 if command == "sources" else 1), result.stderr[-3000:]  # the crawl: nothing enqueued
    assert imported.get("typer") is False and imported.get("pydantic") is False
    assert enabled_at_end is True


def test_a_crawl_resumes_collection_once_scrapy_is_set_up(monkeypatch):
    import gc

    from crawler import runner

    seen = {}

    class Process:
        def crawl(self, spider_class, **arguments):
            seen["crawled"] = spider_class

        def start(self):
            seen["enabled"], seen["frozen"] = gc.isenabled(), gc.get_freeze_count()

    monkeypatch.setattr(runner, "crawler_process", lambda settings: Process())
    gc.disable()
    try:
        runner.run_spider(None, object)
    finally:
        gc.unfreeze()
        gc.enable()
    assert seen["crawled"] is object and seen["enabled"] is True and seen["frozen"] > 1000



def test_the_commands_that_resume_collection_themselves_exist():
    # A renamed command would run with collection off to its end.
    from crawler import cli

    names = {command.name or command.callback.__name__ for command in cli.app.registered_commands}
    assert set(cli.COMMANDS_RESUMING_COLLECTION) <= names


def test_the_cli_module_run_as_a_script_runs_the_command_line(tmp_path):
    # `python -m crawler.cli` (how the daemon once started its crawls) did
    # nothing and exited 0: a crawl started so archived nothing, and said nothing.
    config = tmp_path / "newsarchive.yaml"
    config.write_text(f"archive: {{url: {tmp_path / 'archive'}}}\ndaemon: {{state_dir: {tmp_path / 'state'}}}\n"
                      "sources: [{id: listed-source, kind: feed, url: 'http://127.0.0.1:1/rss.xml'}]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    listed = subprocess.run([sys.executable, "-m", "crawler.cli", "sources", "--config", str(config)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "listed-source" in listed.stdout
    refused = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "no-such-source", "--config", str(config)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "no-such-source" in refused.stdout + refused.stderr


def test_a_crawl_started_where_the_archive_lives_archives_every_article(site, tmp_path):
    # The default config keeps the archive in ./archive: run from that
    # directory, Python 3.11's forkserver (which ignores the crawl's sys.path
    # and puts its own working directory first) took ./archive/warc/ for the
    # archive.warc module, and every article failed: "its worker died, twice".
    from tests.crawl_helpers import article_records, archive_store, latest_run, site_sources, write_config

    script = Path(sys.executable).with_name("newsarchive")
    assert script.exists(), "the console script `make install` puts beside the interpreter"
    workdir = tmp_path / "cwd"
    (workdir / "archive" / "warc").mkdir(parents=True)
    (workdir / "crawler").mkdir()  # any folder named as one of the project's packages
    config = write_config(workdir / "newsarchive.yaml", "./archive", site_sources(site)[:1])
    result = subprocess.run([str(script), "crawl", "--config", str(config)], cwd=workdir, capture_output=True, text=True,
                            timeout=300, env={name: value for name, value in os.environ.items() if name != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-3000:]
    store = archive_store(str(workdir / "archive"))
    run = latest_run(store)
    assert run["counts"].get("failed", 0) == 0, run.get("failures")
    assert len(article_records(store)) == run["counts"]["archived"] > 0


WORKER_FILES_PROBE = """
import json, sys
import crawler.extract.worker as worker
import archive.fields

context = worker.start_extraction_server()
with context.Pool(1) as pool:
    # eval: a builtin, pickled by name; the worker reports what it runs, preloaded by the forkserver.
    found = pool.apply(eval, ("[__import__('sys').modules[name].__file__ for name in ('crawler.extract.worker', 'archive.fields')]",))
print(json.dumps([[worker.__file__, archive.fields.__file__], found]))
"""


def test_the_workers_run_the_same_copy_of_the_project_as_the_crawl(tmp_path):
    # Python 3.11's forkserver ignores the crawl's sys.path: with its working
    # directory taken off it (above), a crawl run from another checkout
    # (`python -m crawler` there) had its pages extracted by the installed copy.
    import shutil

    checkout = tmp_path / "checkout"
    for package in ("crawler", "archive"):
        shutil.copytree(ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    probe = checkout / "probe.py"  # its folder first on the crawl's path, as `python -m crawler` run there puts it
    probe.write_text(WORKER_FILES_PROBE)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(probe)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    crawl_files, worker_files = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(Path(path).is_relative_to(checkout) for path in crawl_files), crawl_files
    assert worker_files == crawl_files
