"""Shared fixtures: the real services the suite runs against.

The S3 server (SeaweedFS) is started once per session on loopback and each
test gets a bucket of its own; the fixture news site likewise. Nothing here
reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_bucket_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    from tests.services import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A fresh, empty bucket name for one test."""
    name = f"test-{os.getpid()}-{next(_bucket_numbers)}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def own_s3(tmp_path):
    """A SeaweedFS of this test's own, with a bucket "outage": stopped and restarted on the same port and data."""
    from tests.services import SeaweedS3

    server = SeaweedS3(tmp_path / "seaweed").start()
    server.create_bucket("outage")
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (distributed mode), stoppable and restartable."""
    from tests.services import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict[str, str]:
    """The AWS variables that reach the test S3 server, set for this process too."""
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def site():
    from tests.fixture_site import FixtureSite

    with FixtureSite() as running:
        yield running


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300,
            prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``newsarchive ARGS`` in a process of its own, as an admin would run it (``prefix``: a command it runs under)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NEWSARCHIVE_CONFIG", None) if env is None or "NEWSARCHIVE_CONFIG" not in env else None
    return subprocess.run(
        [*prefix, sys.executable, "-m", "crawler", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout,
    )
