"""The `newsarchive` entry point (crawler.__main__): a crawl's extraction server started before the command line's imports, and stopped when the crawl will not use it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import psutil
import pytest

from crawler.__main__ import starts_local_crawl
from tests.conftest import ROOT
from tests.crawl_helpers import write_config

SOURCES = [{"id": "site", "kind": "feed", "url": "http://127.0.0.1:9/rss.xml"}]

# Run in a fresh process before the entry point's main(): the command's arguments, and what tells whether the
# forkserver runs (a child of the command's process).
PROBE_HEAD = """
import sys
import psutil
sys.argv = ["newsarchive", *{arguments!r}]

def forkserver_running():
    return any("multiprocessing.forkserver" in " ".join(child.cmdline()) for child in psutil.Process().children())
"""
PROBE_TAIL = """
from crawler.__main__ import main
try:
    main()
except SystemExit as exc:
    print("exit", exc.code)
"""


def run_entry(arguments: list[str], *patch: str) -> list[str]:
    """The lines a `newsarchive ARGUMENTS` prints in a fresh process, with ``patch`` run before its main()."""
    probe = PROBE_HEAD.format(arguments=arguments) + "\n".join(patch) + PROBE_TAIL
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


@pytest.mark.parametrize("arguments, crawl", [
    (["crawl"], True),
    (["crawl", "site", "--config", "x.yaml"], True),
    (["crawl", "--help"], False),
    (["ls"], False),
    (["worker"], False),
    ([], False),
    (["--help", "crawl"], False),
])
def test_only_a_crawl_starts_the_server_early(arguments, crawl):
    assert starts_local_crawl(arguments) is crawl


def test_a_crawl_starts_the_server_before_the_command_lines_imports(tmp_path):
    # typer, rich and the config's models are 0.2 s the server warms up beside.
    config = write_config(tmp_path / "newsarchive.yaml", str(tmp_path / "archive"), SOURCES)
    lines = run_entry(
        ["crawl", "--config", str(config)],
        "import crawler.extract.worker as worker",
        "real_start = worker.start_extraction_server",
        "def run_crawl(*args, **kwargs):",
        "    print('forkserver while crawling:', forkserver_running())",
        "    raise SystemExit(0)",
        "def start():",
        "    print('started with the CLI imported:', 'typer' in sys.modules, 'crawler.config' in sys.modules)",
        "    context = real_start()",
        "    import crawler.runner as runner",  # only now: it imports the config's models
        "    runner.run_crawl = run_crawl",
        "    return context",
        "worker.start_extraction_server = start",
    )
    assert lines[0] == "started with the CLI imported: False False"
    assert "forkserver while crawling: True" in lines


def test_a_crawl_extracting_in_its_own_process_stops_the_server(tmp_path):
    config = write_config(tmp_path / "newsarchive.yaml", str(tmp_path / "archive"), SOURCES, extract_workers=0)
    lines = run_entry(
        ["crawl", "--config", str(config)],
        "import crawler.runner as runner",
        "def run_crawl(*args, **kwargs):",
        "    print('forkserver while crawling:', forkserver_running())",
        "    raise SystemExit(0)",
        "runner.run_crawl = run_crawl",
    )
    assert lines == ["forkserver while crawling: False", "exit 0"]


def test_a_distributed_crawl_stops_the_server_before_it_waits(tmp_path):
    # The workers extract; `crawl --wait` may wait for hours.
    config = write_config(tmp_path / "newsarchive.yaml", str(tmp_path / "archive"), SOURCES)
    config.write_text(config.read_text(encoding="utf-8") + "distributed:\n  redis_url: redis://127.0.0.1:9/0\n", encoding="utf-8")
    lines = run_entry(
        ["crawl", "--config", str(config), "--wait"],
        "import crawler.cli as cli",
        "def enqueue_and_wait(*args, **kwargs):",
        "    print('forkserver while waiting:', forkserver_running())",
        "    return 0",
        "cli.enqueue_and_wait = enqueue_and_wait",
    )
    assert lines == ["forkserver while waiting: False", "exit 0"]


def test_a_crawl_that_ends_at_once_leaves_no_server_warming_up(tmp_path):
    # A config error ends the command within 0.2 s, while the server still warms up (0.5 s).
    marker = uuid.uuid4().hex
    # Output to a file, not a pipe: reading a pipe to its end would wait for the server too, which inherits it.
    with (tmp_path / "output").open("w") as output:
        returncode = subprocess.run([sys.executable, "-P", "-m", "crawler", "crawl", "--config", str(tmp_path / "missing.yaml")],
                                    cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NEWSARCHIVE_ENTRY_PROBE": marker},
                                    stdout=output, stderr=output, timeout=120).returncode
    assert returncode == 2, (tmp_path / "output").read_text()
    time.sleep(0.1)  # not enough for a warm-up to end
    left = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("NEWSARCHIVE_ENTRY_PROBE") == marker and "forkserver" in " ".join(process.cmdline()):
                left.append(process)
        except psutil.Error:
            continue
    assert not left
