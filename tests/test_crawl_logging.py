"""Scrapy's debug messages are made into log records only when the crawl's log level shows them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


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
