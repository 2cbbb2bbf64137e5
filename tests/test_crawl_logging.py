"""The crawl command's logging and options: Scrapy's debug messages made only when shown; bad options refused as usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli


@pytest.mark.parametrize("level, made", [("INFO", False), ("DEBUG", True)])
def test_scrapys_debug_messages_are_made_only_when_shown(tmp_path, level, made):
    # In a process of its own: a CrawlerProcess sets up logging and installs the reactor.
    probe = "\n".join([
        "import logging",
        "from scrapy.settings import Settings",
        "from crawler.logs import setup_logging",
        "from crawler.runner import crawler_process",
        f"setup_logging('text', {level!r})",
        f"crawler_process(Settings({{'LOG_LEVEL': {level!r}, 'LOG_INSTALL_ROOT_HANDLER': False}}))",
        "made = []",
        "factory = logging.getLogRecordFactory()",
        "logging.setLogRecordFactory(lambda *a, **k: made.append(a[0]) or factory(*a, **k))",
        "logging.getLogger('scrapy.core.engine').debug('Crawled (200) <GET http://127.0.0.1/>')",
        "print(made == ['scrapy.core.engine'])",
    ])
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(made)]
    assert ("Crawled (200)" in result.stderr) == made


@pytest.mark.parametrize("command", ["crawl", "worker", "daemon"])
@pytest.mark.parametrize("option", [("--log-level", "LOUD"), ("--log-format", "xml")], ids=["level", "format"])
def test_a_bad_log_option_is_a_usage_error_naming_it(tmp_path, command, option):
    # `crawl --log-level LOUD` ended in a 50-line traceback (exit 1), and
    # `crawl --log-format xml` was taken for text.
    config = tmp_path / "c.yaml"
    config.write_text("sources: []\n")
    result = run_cli(command, "--config", str(config), *option, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert option[0] in result.stderr and option[1] in result.stderr and "Traceback" not in result.stderr


def test_a_log_level_is_taken_in_any_case(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("sources: []\n")
    result = run_cli("crawl", "--config", str(config), "--log-level", "warning", timeout=60)
    assert result.returncode == 0 and "nothing to crawl" in result.stdout + result.stderr, result.stderr[-2000:]


def test_wait_on_a_local_crawl_is_a_usage_error(tmp_path):
    # It was ignored silently: a local crawl runs to its end anyway, and an
    # admin who meant a distributed config learnt nothing.
    config = tmp_path / "c.yaml"
    config.write_text("sources: [{id: s, kind: feed, url: 'http://127.0.0.1:1/rss.xml'}]\n")
    result = run_cli("crawl", "--config", str(config), "--wait", timeout=60)
    assert result.returncode == 2 and "--wait" in result.stderr and "distributed" in result.stderr, result.stderr
