"""`make run` as the README tells a newcomer: it starts the daemon on the given config."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from tests.conftest import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_starts_the_daemon_and_stops_cleanly(site, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "archive": {"url": str(tmp_path / "archive")},
        "crawl": {"download_delay": 0, "extract_workers": 0},
        "sources": [{"id": "site-atom", "kind": "feed", "url": site.url("/feeds/atom.xml"), "schedule": "every 1h"}],
        "daemon": {"state_dir": str(tmp_path / "state"), "jitter": 0, "stop_grace": 10},
    }), encoding="utf-8")
    # The recipe itself, as make would run it (with the venv the suite already has).
    recipe = subprocess.run(["make", "-n", "-s", "run", f"CONFIG={config}"], cwd=ROOT, capture_output=True, text=True, check=True)
    command = [line for line in recipe.stdout.splitlines() if "newsarchive" in line][-1]
    daemon = subprocess.Popen(shlex.split(command), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not list((tmp_path / "archive").glob("runs/**/*.json")):
            time.sleep(0.5)
        assert list((tmp_path / "archive").glob("articles/*/*.json")), "the daemon crawled the source at once"
    finally:
        daemon.send_signal(signal.SIGINT)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output[-2000:]
