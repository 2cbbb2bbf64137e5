"""What the archivists' commands say when the archive fails them: one line, exit 1 (2 for `search`, grep-like).

Damaged records and stores that cannot be read (unreachable, refusing,
missing) are reported by name, never as a Python traceback.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from archive.keys import ARTICLES_PREFIX, article_key
from archive.store import StoreError, StoreRefused, StoreUnavailable
from tests.archive_helpers import fill_archive, made_record, small_archive
from tests.conftest import run_cli
from tests.crawl_helpers import write_config


def assert_one_error_line(result, *named: str, exit_code: int = 1) -> str:
    """Exit 1 (or ``exit_code``), nothing on stdout, one line on stderr naming what failed; returns that line."""
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("damage", [b'{"title": "\xff\xfe not UTF-8"}', "{\"title\": \"被截断".encode("utf-8")])
@pytest.mark.parametrize("as_json", [True, False])
def test_show_names_a_damaged_record_with_json_as_without(tmp_path, damage, as_json):
    record = made_record(1, "正文")
    store = small_archive(tmp_path / "archive", [record])
    key = article_key(record["id"])
    store.put(key, damage)
    result = run_cli("show", *(["--json"] if as_json else []), record["id"], "--archive", store.url, timeout=60)
    assert not result.stdout
    assert "damaged" in assert_one_error_line(result, key)


# --- a store that fails every command ------------------------------------------

ARCHIVED_TEXT = "危难之间显勇毅"
FAILING_STORES = ["unreachable", "unreadable", "no-directory", pytest.param("no-bucket", marks=pytest.mark.s3),
                  pytest.param("access-denied", marks=pytest.mark.s3)]
# What reaches no store: the closed port of loopback (nothing listens on port 1).
CLOSED_ENDPOINT = "http://127.0.0.1:1"
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "dummy", "AWS_SECRET_ACCESS_KEY": "dummy-secret", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def archive_commands(article_id: str, out: Path) -> dict[str, list[str]]:
    return {"ls": ["ls"], "show": ["show", article_id], "show --json": ["show", "--json", article_id],
            "search": ["search", ARCHIVED_TEXT], "export jsonl": ["export", "--format", "jsonl", "--output", str(out / "jsonl")],
            "export hexo": ["export", "--format", "hexo", "--output", str(out / "hexo")], "verify": ["verify"],
            "verify --json": ["verify", "--json"], "serve": ["serve", "--port", str(free_port())]}


def without_root_privilege() -> tuple[str, ...]:
    """A command prefix under which file modes hold: root reads a mode-000 folder anyway."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("run as root, and no setpriv to give up reading what file modes forbid")
    caps = "-dac_override,-dac_read_search"
    return (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--")


@contextmanager
def unreadable(path: Path) -> Iterator[tuple[str, ...]]:
    """PATH at mode 000 meanwhile; yields the command prefix under which that holds."""
    prefix = without_root_privilege()
    path.chmod(0)
    try:
        yield prefix
    finally:
        path.chmod(0o755)


@dataclass
class FailingStore:
    options: list[str]  # --config or --archive
    env: dict[str, str]
    where: str  # what the error line names
    prefix: tuple[str, ...] = ()


@pytest.fixture(params=FAILING_STORES)
def failing_store(request, tmp_path):
    kind = request.param
    if kind == "unreadable":
        path = tmp_path / "archive"
        small_archive(path, [made_record(1, ARCHIVED_TEXT)])
        with unreadable(path) as prefix:
            yield FailingStore(["--archive", str(path)], {}, str(path), prefix)
        return
    if kind == "no-directory":  # a mistyped path, as a bucket that does not exist: no empty archive, no "no match"
        path = tmp_path / "archvie"
        yield FailingStore(["--archive", str(path)], {}, f"no archive directory {path}")
        return
    if kind == "unreachable":
        url, endpoint, env, where = "s3://news/archive", CLOSED_ENDPOINT, DUMMY_AWS, "127.0.0.1:1"
    else:
        s3 = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket") if kind == "access-denied" else f"never-made-{os.getpid()}"
        url, endpoint, where = f"s3://{bucket}/news", s3.endpoint_url, bucket
        env = {**s3.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"} if kind == "access-denied" else s3.env()
    config = write_config(tmp_path / "newsarchive.yaml", url, [], endpoint_url=endpoint)
    yield FailingStore(["--config", str(config)], env, where)


# `search` exits as grep does: 1 is "no article matches", so an error is 2.
ERROR_EXIT = {"search": 2}


@pytest.mark.parametrize("command", list(archive_commands("0" * 16, Path())))
def test_a_failing_store_is_one_error_line_and_an_error_exit(failing_store, tmp_path, command):
    args = archive_commands(made_record(1, ARCHIVED_TEXT)["id"], tmp_path / "out")[command]
    env = {**failing_store.env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run_cli(*args, *failing_store.options, env=env, prefix=failing_store.prefix, timeout=30)
    assert not result.stdout
    assert_one_error_line(result, failing_store.where, exit_code=ERROR_EXIT.get(command, 1))
    assert "not-the-secret" not in result.stderr


def test_search_exit_status_tells_a_miss_from_an_error(tmp_path):
    # Exit 1 was both "nothing matches" and "could not look": a script took a
    # broken archive or index for an archive without the word.
    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert run_cli("search", ARCHIVED_TEXT, "--archive", store.url, env=cache, timeout=30).returncode == 0
    miss = run_cli("search", "量子纠缠", "--archive", store.url, env=cache, timeout=30)
    assert miss.returncode == 1 and "no article matches" in miss.stderr, miss.stderr
    nothing_asked = run_cli("search", " ", "--archive", store.url, env=cache, timeout=30)
    assert nothing_asked.returncode == 2 and "nothing to search for" in nothing_asked.stderr, nothing_asked.stderr
    no_cache = tmp_path / "not-a-directory"
    no_cache.write_text("a file where the cache directory should be")
    unusable_index = run_cli("search", ARCHIVED_TEXT, "--archive", store.url, env={"XDG_CACHE_HOME": str(no_cache)}, timeout=30)
    assert "search index" in assert_one_error_line(unusable_index, str(no_cache), exit_code=2)
    # A damaged index is no error: it is a cache of the archive, made again (a warning says so).
    index_files = list((tmp_path / "cache" / "newsarchive").glob("search-*.sqlite"))
    assert index_files
    for index_file in index_files:
        index_file.write_bytes(b"not a SQLite database" * 100)
    damaged_index = run_cli("search", ARCHIVED_TEXT, "--archive", store.url, env=cache, timeout=30)
    assert damaged_index.returncode == 0 and ARCHIVED_TEXT[:8] in damaged_index.stdout, damaged_index.stderr
    assert "was damaged" in damaged_index.stderr and "Traceback" not in damaged_index.stderr


def test_search_failing_in_a_way_no_handler_foresaw_exits_2_not_1(tmp_path):
    # Python exits 1 on an uncaught exception: for search that is "no article matches".
    import subprocess
    import sys

    from tests.conftest import ROOT

    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    crashing = ("import archive.search\n"
                "def crash(*args, **kwargs):\n"
                "    raise RuntimeError('a bug not met yet')\n"
                "archive.search.SearchIndex.search = crash\n"
                "from crawler.cli import main\n"
                "main()\n")
    result = subprocess.run([sys.executable, "-c", crashing, "search", ARCHIVED_TEXT, "--archive", store.url],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert not result.stdout
    assert "a bug not met yet" in assert_one_error_line(result, "RuntimeError", exit_code=2)


def test_serve_answers_503_while_the_store_fails(tmp_path, monkeypatch):
    from archive.search import SearchIndex
    from archive.store import open_store
    from archive.web import create_app

    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    store = open_store("s3://news/archive", endpoint_url=CLOSED_ENDPOINT)
    client = create_app(store, SearchIndex(tmp_path / "index.sqlite")).test_client()
    for path in ("/", "/search?q=" + ARCHIVED_TEXT, f"/article/{'0' * 16}", "/files/images/00/00/x.jpg"):
        page = client.get(path)
        assert page.status_code == 503, path
        assert "127.0.0.1" not in page.get_data(as_text=True), "the store's address is for the log, not for the reader"


def test_serve_answers_503_while_the_search_index_fails(tmp_path):
    # The index's error had no handler: a 500, and the index's path in the log only by luck.
    from archive.search import SearchIndex
    from archive.web import create_app

    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the index's folder should be")
    client = create_app(store, SearchIndex(not_a_folder / "index.sqlite")).test_client()
    page = client.get("/search", query_string={"q": ARCHIVED_TEXT})
    assert page.status_code == 503 and "Search cannot be used just now" in page.get_data(as_text=True)
    assert str(not_a_folder) not in page.get_data(as_text=True), "the index's path is for the log, not for the reader"
    assert client.get("/").status_code == 200, "browsing works on"


def test_verify_does_not_skip_a_folder_it_cannot_read(tmp_path):
    # os.walk skips such a folder by default: its records looked absent.
    record = made_record(1, ARCHIVED_TEXT)
    store = small_archive(tmp_path / "archive", [record])
    folder = tmp_path / "archive" / article_key(record["id"]).rsplit("/", 1)[0]
    with unreadable(folder) as prefix:
        result = run_cli("verify", "--archive", store.url, prefix=prefix, timeout=30)
    assert "archive OK" not in result.stdout
    assert_one_error_line(result, str(folder))


def test_verify_passes_over_an_unreadable_folder_the_archive_does_not_use(tmp_path):
    # An archive on a volume of its own holds lost+found, readable by root only:
    # verify's emptiness check listed everything and failed on it.
    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    lost = tmp_path / "archive" / "lost+found"
    lost.mkdir()
    (lost / "#1234").write_bytes(b"?")
    with unreadable(lost) as prefix:
        result = run_cli("verify", "--archive", store.url, prefix=prefix, timeout=30)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "archive OK" in result.stdout


# --- verify goes on past what it cannot read -------------------------------------


def _image(record: dict, data: bytes) -> tuple[dict, dict]:
    """The record naming one PNG image of these bytes, and that image's reference."""
    from archive.keys import image_key

    sha = hashlib.sha256(data).hexdigest()
    image = {"url": "https://news.example/a.png", "key": image_key(sha, "png"), "sha256": sha, "content_type": "image/png",
             "bytes": len(data), "width": None, "height": None}
    return {**record, "images": [image], "html": record["html"] + f'<img src="{image["key"]}">'}, image


def test_verify_goes_on_past_unreadable_objects_and_names_each(tmp_path):
    # It stopped at the first object it could not read (one error line): an
    # archive on a failing disk showed one bad file at a time.
    record, image = _image(made_record(1, ARCHIVED_TEXT), b"\x89PNG image bytes")
    others = [made_record(2, "第二篇"), made_record(3, "第三篇")]
    store = small_archive(tmp_path / "archive", [record, *others])
    store.put(image["key"], b"\x89PNG image bytes")
    keys = [image["key"], *(article_key(r["id"]) for r in others)]
    with ExitStack() as stack:
        prefixes = [stack.enter_context(unreadable(tmp_path / "archive" / key)) for key in keys]
        result = run_cli("verify", "--archive", store.url, prefix=prefixes[0], timeout=30)
        as_json = run_cli("verify", "--json", "--archive", store.url, prefix=prefixes[0], timeout=30)
    assert result.returncode == 1 and "error:" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "3 records, 1 images, 0 captures checked" in result.stdout
    damaged = [line for line in result.stdout.splitlines() if line.startswith("damaged ")]
    assert sorted(line.split()[1].rstrip(":") for line in damaged) == sorted(keys), result.stdout
    assert all("unreadable" in line and "Permission denied" in line for line in damaged), damaged
    assert f"named by {article_key(record['id'])}" in next(line for line in damaged if image["key"] in line)
    assert "3 problems" in result.stdout and "archive OK" not in result.stdout
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and not report["ok"] and sorted(p["key"] for p in report["problems"]) == sorted(keys)


def test_verify_rebuild_index_goes_on_past_an_unreadable_record(tmp_path):
    # verify went on past it, then the rebuild stopped at the same record: one
    # error line, the catalog not rebuilt at all.
    records = [made_record(1, ARCHIVED_TEXT), made_record(2, "第二篇")]
    store = small_archive(tmp_path / "archive", records)
    with unreadable(tmp_path / "archive" / article_key(records[0]["id"])) as prefix:
        result = run_cli("verify", "--rebuild-index", "--archive", store.url, prefix=prefix, timeout=60)
    assert result.returncode == 1 and "error:" not in result.stderr, result.stderr
    assert f"damaged {article_key(records[0]['id'])}: unreadable" in result.stdout
    assert "catalog rebuilt: 1 entries" in result.stdout, result.stdout


def test_verify_of_thousands_of_problems_shows_some_and_counts_them(tmp_path):
    from crawler.archive_commands import VERIFY_SHOWN_PROBLEMS

    extra = 7
    records = [made_record(n, f"正文{n}") for n in range(1, VERIFY_SHOWN_PROBLEMS + extra + 1)]
    store = small_archive(tmp_path / "archive", records)
    for record in records:
        store.put(article_key(record["id"]), b'{"title": "cut sh')  # cut short: every record damaged
    result = run_cli("verify", "--archive", store.url, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("damaged ")]) == VERIFY_SHOWN_PROBLEMS
    assert f"... and {extra} more damaged objects" in result.stdout
    assert f"{VERIFY_SHOWN_PROBLEMS + extra} problems" in lines[-1]
    report = json.loads(run_cli("verify", "--json", "--archive", store.url, timeout=60).stdout)
    assert len(report["problems"]) == VERIFY_SHOWN_PROBLEMS + extra, "--json lists every one"


class ServerErrors:
    """A store whose server fails on some objects for their next ``times`` reads (a busy or failing server)."""

    def __init__(self, store, failing: set[str], times: int) -> None:
        self.store, self.url = store, store.url
        self.left = {key: times for key in failing}
        self.reads: list[str] = []

    def get(self, key: str) -> bytes:
        self.reads.append(key)
        if self.left.get(key, 0) > 0:
            self.left[key] -= 1
            raise StoreUnavailable(f"get {key}: {self.url} answered InternalError")
        return self.store.get(key)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture
def no_pauses(monkeypatch):
    """The pauses before a store unavailable is asked again: none, the attempts alike."""
    from archive.store import base

    monkeypatch.setattr(base, "UNAVAILABLE_RETRY_DELAYS", (0.0,) * len(base.UNAVAILABLE_RETRY_DELAYS))
    return len(base.UNAVAILABLE_RETRY_DELAYS) + 1  # attempts in all


def test_verify_asks_again_an_unavailable_store_and_stops_if_it_stays_so(tmp_path, no_pauses):
    # A server error on one object was taken for that object's damage whenever
    # the store answered a probe: a store busy for a moment made an intact
    # record "unreadable"; one failing for good had every record reported.
    from archive.verify import verify_archive

    records = [made_record(1, ARCHIVED_TEXT), made_record(2, "第二篇")]
    busy = article_key(records[0]["id"])
    archive = small_archive(tmp_path / "archive", records)
    store = ServerErrors(archive, {busy}, times=no_pauses - 1)
    report = verify_archive(store)
    assert report.ok and report.records == 2, report.problems
    assert store.reads.count(busy) == no_pauses, "asked again until it answered"
    down = ServerErrors(archive, {busy}, times=no_pauses)
    with pytest.raises(StoreUnavailable):
        verify_archive(down)  # out of reach: stops, the record is not called damaged
    assert down.reads.count(busy) == no_pauses


@pytest.mark.s3
def test_verify_does_not_call_an_intact_object_the_store_throttled_damaged(s3_server, s3_bucket, s3_env):
    # A real 503 SlowDown from the server, through botocore and its own retries.
    from botocore.awsrequest import AWSResponse

    from archive.store import open_store
    from archive.verify import verify_archive

    store = open_store(f"s3://{s3_bucket}/news", endpoint_url=s3_server.endpoint_url)
    records = [made_record(1, "第一篇"), made_record(2, "第二篇")]
    fill_archive(store, records)
    throttled = article_key(records[0]["id"])
    answered: list[int] = []
    # More than botocore's own attempts (3): verify asks again itself.
    throttled_answers = 4

    class Body:
        def stream(self, **_):
            yield b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'

    def slow_down(request, **_):
        if request.method == "GET" and request.url.split("?")[0].endswith(throttled):
            answered.append(503 if len(answered) < throttled_answers else 200)
            if answered[-1] == 503:
                return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, Body())
        return None

    store.client.meta.events.register("before-send.s3.GetObject", slow_down)
    report = verify_archive(store)  # the object is intact; the store was busy for a few seconds
    assert report.ok, [(p.key, p.what) for p in report.problems]
    assert answered == [503] * throttled_answers + [200]


@pytest.mark.s3
def test_verify_stops_when_the_store_refuses_access_mid_run(s3_server, s3_bucket, s3_env, monkeypatch):
    # An STS session expiring an hour into a long verify: every record after
    # it was reported as an unreadable object, the archive "damaged" throughout.
    from archive.store import open_store
    from archive.verify import verify_archive

    store = open_store(f"s3://{s3_bucket}/news", endpoint_url=s3_server.endpoint_url)
    fill_archive(store, [made_record(n, f"第{n}篇") for n in range(1, 6)])
    listing = store.list

    def list_then_lose_credentials(prefix: str = ""):
        keys = list(listing(prefix))
        if prefix == ARTICLES_PREFIX:
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "expired")
            store._client = None  # the next request signs with the secret now in force
        return iter(keys)

    store.list = list_then_lose_credentials
    with pytest.raises(StoreRefused):
        verify_archive(store)


def test_verify_of_a_local_archive_whose_file_system_goes_away_stops(tmp_path, monkeypatch, no_pauses):
    # An sshfs, NFS or USB archive whose mount dropped mid-run: LocalStore said
    # every file's ENOTCONN as that file's fault, and verify reported each
    # record unreadable (a store of its own cannot be "out of reach").
    from archive.verify import verify_archive

    store = small_archive(tmp_path / "archive", [made_record(n, f"第{n}篇") for n in range(1, 6)])
    listing = store.list

    def gone(*_args, **_kwargs):
        raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    def list_then_drop(prefix: str = ""):
        keys = list(listing(prefix))
        if prefix == ARTICLES_PREFIX:
            monkeypatch.setattr(Path, "read_bytes", gone)
            monkeypatch.setattr(Path, "is_file", gone)
        return iter(keys)

    store.list = list_then_drop
    with pytest.raises(StoreUnavailable, match="Transport endpoint is not connected"):
        verify_archive(store)


def test_verify_of_a_local_archive_unmounted_mid_run_stops(tmp_path):
    # Unmounted, the archive's path is its empty mount point: every record
    # listed was reported "gone since articles/ was listed".
    from archive.verify import verify_archive

    root = tmp_path / "archive"
    store = small_archive(root, [made_record(n, f"第{n}篇") for n in range(1, 6)])
    listing = store.list

    def list_then_unmount(prefix: str = ""):
        keys = list(listing(prefix))
        if prefix == ARTICLES_PREFIX:
            root.rename(tmp_path / "elsewhere")
            root.mkdir()  # the mount point left behind
        return iter(keys)

    store.list = list_then_unmount
    with pytest.raises(StoreError, match=f"nothing in {root}"):
        verify_archive(store)


@pytest.mark.s3
def test_verify_stops_when_the_store_goes_away_as_it_reads_the_catalog(own_s3, monkeypatch, no_pauses):
    # Every record checked, the store went away: the catalog was reported as
    # damaged ("catalog unreadable"), exit 1 as for a damaged archive.
    from archive.catalog import CATALOG_PREFIX
    from archive.store import open_store
    from archive.verify import verify_archive

    for name, value in own_s3.env().items():
        monkeypatch.setenv(name, value)
    store = open_store("s3://outage/news", endpoint_url=own_s3.endpoint_url)
    fill_archive(store, [made_record(n, f"第{n}篇") for n in range(1, 4)])
    listing = store.list

    def list_then_go_down(prefix: str = ""):
        if prefix == CATALOG_PREFIX:
            own_s3.stop()
        return listing(prefix)

    store.list = list_then_go_down
    with pytest.raises(StoreUnavailable):
        verify_archive(store)


def test_verify_stops_when_the_catalogs_listing_fails(tmp_path):
    # What the catalog lists is not known: no record can be called lost, nor unlisted.
    from archive.catalog import CATALOG_PREFIX

    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    folder = tmp_path / "archive" / CATALOG_PREFIX / "2026"
    with unreadable(folder) as prefix:
        result = run_cli("verify", "--archive", store.url, prefix=prefix, timeout=30)
    assert "archive OK" not in result.stdout and "damaged" not in result.stdout, result.stdout
    assert_one_error_line(result, str(folder))


def test_verify_reports_a_catalog_segment_it_cannot_read_and_goes_on(tmp_path):
    from archive.catalog import segment_keys

    store = small_archive(tmp_path / "archive", [made_record(1, ARCHIVED_TEXT)])
    segment = segment_keys(store)[0]
    with unreadable(tmp_path / "archive" / segment) as prefix:
        result = run_cli("verify", "--archive", store.url, prefix=prefix, timeout=30)
    assert result.returncode == 1 and "error:" not in result.stderr, result.stderr
    assert "damaged catalog/: catalog unreadable: cannot read " + segment in result.stdout, result.stdout


def test_sources_says_when_the_archives_run_records_are_out_of_reach(tmp_path):
    # Every source showed "never ran", exit 0 and nothing on stderr: the
    # store was down, the sources had run a minute before.
    config = write_config(tmp_path / "newsarchive.yaml", "s3://news/archive", [{"id": "s1", "kind": "feed", "url": "http://127.0.0.1:1/rss.xml"}],
                          endpoint_url=CLOSED_ENDPOINT)
    result = run_cli("sources", "--config", str(config), env=DUMMY_AWS, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "run records cannot be read" in result.stderr and "127.0.0.1:1" in result.stderr, result.stderr
    assert "s1" in result.stdout
