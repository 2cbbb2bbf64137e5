"""Archive stores against a real directory and a real S3 server (SeaweedFS).

Every behaviour is checked on every backend through ``open_store``, the way
the crawler opens its archive; then each backend's own promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from archive.keys import version_key, BadKey, article_key, image_key
from archive.fields import SCHEMA, article_id, content_sha256
from archive.records import load_record
from archive.store import (
    KeyNotFound,
    LocalStore,
    S3Store,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    open_store,
)
from archive.store.local import TEMP_DIR
from archive.writer import ARCHIVED, UNCHANGED, UPDATED, store_article
from tests.services import free_port

CHINESE = "朱镕基与李昇在北京：新闻档案。".encode("utf-8")

BACKENDS = [
    "local-path",
    "local-file-url",
    pytest.param("s3-prefix", marks=pytest.mark.s3),
    pytest.param("s3-root", marks=pytest.mark.s3),
]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    kind = request.param
    if kind == "local-path":
        opened = open_store(str(tmp_path / "archive"))
        assert isinstance(opened, LocalStore)
        assert opened.root == tmp_path / "archive"
    elif kind == "local-file-url":
        # as_uri() percent-encodes the space and the Chinese: from_url must undo it.
        root = tmp_path / "档案 dir"
        opened = open_store(root.as_uri())
        assert isinstance(opened, LocalStore)
        assert opened.root == root
    else:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        request.getfixturevalue("s3_env")
        url = f"s3://{bucket}/some/prefix" if kind == "s3-prefix" else f"s3://{bucket}"
        opened = open_store(url, endpoint_url=server.endpoint_url)
        assert isinstance(opened, S3Store)
        assert opened.bucket == bucket
        assert opened.prefix == ("some/prefix" if kind == "s3-prefix" else "")
    opened.ensure()
    return opened


# --------------------------------------------------------------------------
# every backend
# --------------------------------------------------------------------------

def test_put_get_round_trip_with_chinese(store):
    key = "articles/ab/abcdef0123456789.json"
    store.put(key, CHINESE, "application/json; charset=utf-8")
    assert store.get(key) == CHINESE
    assert store.get(key).decode("utf-8") == "朱镕基与李昇在北京：新闻档案。"


def test_chinese_key_round_trip(store):
    key = "runs/2021/新闻/档案.json"
    store.put(key, b"{}")
    assert store.get(key) == b"{}"
    assert list(store.list("runs/2021/新闻/")) == [key]


def test_empty_object(store):
    store.put("images/empty.bin", b"")
    assert store.exists("images/empty.bin")
    assert store.get("images/empty.bin") == b""


def test_overwrite_replaces_whole_object(store):
    key = "articles/ab/abcdef0123456789.json"
    store.put(key, b"x" * 10_000)
    store.put(key, b"short")
    assert store.get(key) == b"short"
    assert list(store.list("articles/")) == [key]


def test_put_file_streams_a_local_file_in(store, tmp_path):
    source = tmp_path / "capture.warc.gz"
    data = os.urandom(3 * 1024 * 1024 + 17)  # past a read's megabyte
    source.write_bytes(data)
    store.put_file("warc/2026/01/01/run-00000.warc.gz", source, "application/warc")
    assert store.get("warc/2026/01/01/run-00000.warc.gz") == data
    assert source.read_bytes() == data  # left where it was


def test_put_file_never_holds_the_file_in_memory(store, tmp_path):
    # A WARC file of warc_max_bytes (100 MB by default) was read whole to be stored.
    import tracemalloc

    source = tmp_path / "big.warc.gz"
    with open(source, "wb") as handle:
        for _ in range(16):
            handle.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        store.put_file("warc/big.warc.gz", source, "application/warc")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * 1024 * 1024, f"{peak / 1e6:.1f} MB held at once for a 16 MB file"
    assert store.exists("warc/big.warc.gz")


def test_put_file_of_a_missing_file_says_so_and_writes_nothing(store, tmp_path):
    with pytest.raises(StoreError, match="cannot read") as raised:
        store.put_file("warc/gone.warc.gz", tmp_path / "gone.warc.gz", "application/warc")
    assert not isinstance(raised.value, StoreUnavailable), "the store is fine: nothing to wait for"
    assert not store.exists("warc/gone.warc.gz")


def test_put_file_from_an_offset_on(store, tmp_path):
    # What the outage spool replays: an entry's data after its header line.
    entry = tmp_path / "000000000001.op"
    data = "归档的正文".encode("utf-8") * 100_000
    entry.write_bytes(b'{"op": "put"}\n' + data)
    store.put_file("warc/replayed.warc.gz", entry, "application/warc", offset=len(b'{"op": "put"}\n'))
    assert store.get("warc/replayed.warc.gz") == data


def test_a_file_that_fails_to_read_midway_is_the_files_error_not_the_stores(store, tmp_path, monkeypatch):
    # An OSError from the file being stored read as the store's own I/O failing:
    # locally "its file system is gone" (ESTALE), and the write spooled for nothing.
    import errno
    import io as io_module

    import archive.store.base as base

    source = tmp_path / "capture.warc.gz"
    source.write_bytes(os.urandom(3 * 1024 * 1024))

    class Failing(io_module.FileIO):
        def read(self, size=-1):
            if self.tell() >= 1024 * 1024:
                raise OSError(errno.ESTALE, "Stale file handle")
            return super().read(size)

    monkeypatch.setattr(base, "open", lambda path, mode: Failing(path, "r"), raising=False)
    with pytest.raises(StoreError, match="cannot read") as raised:
        store.put_file("warc/cut.warc.gz", source, "application/warc")
    assert not isinstance(raised.value, StoreUnavailable)
    assert not store.exists("warc/cut.warc.gz")


def test_exists_and_delete(store):
    key = "images/ab/cd/thing.jpg"
    assert store.exists(key) is False
    store.put(key, b"\xff\xd8\xff")
    assert store.exists(key) is True
    assert store.exists("images/ab/cd/thing") is False  # a prefix of a key is not a key
    assert store.exists("images/ab/cd") is False  # nor is a "folder"
    store.delete(key)
    assert store.exists(key) is False
    with pytest.raises(KeyNotFound):
        store.get(key)
    store.delete(key)  # deleting what is gone is fine


def test_missing_key_raises_key_not_found(store):
    with pytest.raises(KeyNotFound) as info:
        store.get("articles/zz/0000000000000000.json")
    assert isinstance(info.value, StoreError)
    assert "articles/zz/0000000000000000.json" in str(info.value)


KEYS = [
    "articles.txt",
    "articles/ab/1.json",
    "articles/ab/2.json",
    "articles/abc/3.json",
    "articles/b/4.json",
    "images/z.jpg",
    "images/中.jpg",
    "runs/2021/10/27/r.json",
]


def test_list_is_sorted_and_prefix_filtered(store):
    for key in reversed(KEYS):
        store.put(key, key.encode("utf-8"))
    assert list(store.list()) == KEYS
    assert list(store.list("")) == KEYS
    assert list(store.list("articles/")) == ["articles/ab/1.json", "articles/ab/2.json", "articles/abc/3.json", "articles/b/4.json"]
    # A prefix ending in the middle of a name matches names, not only folders.
    assert list(store.list("articles")) == KEYS[:5]
    assert list(store.list("articles/ab")) == ["articles/ab/1.json", "articles/ab/2.json", "articles/abc/3.json"]
    assert list(store.list("articles/ab/")) == ["articles/ab/1.json", "articles/ab/2.json"]
    assert list(store.list("articles/ab/1")) == ["articles/ab/1.json"]
    assert list(store.list("images/")) == ["images/z.jpg", "images/中.jpg"]
    assert list(store.list("images/中")) == ["images/中.jpg"]
    assert list(store.list("runs/2021/10/")) == ["runs/2021/10/27/r.json"]
    assert list(store.list("nothing/here/")) == []
    assert list(store.list("zzz")) == []
    for key in KEYS:
        assert store.get(key) == key.encode("utf-8")


def test_list_of_an_empty_archive(store):
    assert list(store.list()) == []
    assert list(store.list("articles/")) == []


@pytest.mark.parametrize("bad", ["../escape.json", "/abs.json", "articles//x.json", "articles/", ""])
def test_bad_keys_are_refused_before_any_io(store, bad):
    with pytest.raises(BadKey):
        store.put(bad, b"x")
    with pytest.raises(BadKey):
        store.get(bad)
    assert list(store.list()) == []


# --------------------------------------------------------------------------
# writer.store_article (every backend)
# --------------------------------------------------------------------------

def make_record(**changes) -> dict:
    text = "第一段。\n\n第二段：朱镕基。"
    sha = "ab" * 32
    record = {
        "schema": SCHEMA,
        "id": article_id("https://example.com/a/1"),
        "source": "zaker-news",
        "url": "https://example.com/a/1",
        "canonical_url": "https://example.com/a/1",
        "title": "标题",
        "authors": [],
        "published": "2021-10-26T22:06:31+00:00",
        "fetched": "2021-10-27T01:00:00+00:00",
        "language": "zh",
        "categories": ["新媒体"],
        "text": text,
        "html": "<p>第一段。</p><p>第二段：朱镕基。</p>",
        "images": [
            {"url": "http://origin/x.jpg", "key": image_key(sha, "jpg"), "sha256": sha,
             "content_type": "image/jpeg", "bytes": 3, "width": 1, "height": 1}
        ],
        "content_sha256": content_sha256(text),
    }
    record.update(changes)
    return record


class CountingStore:
    """The real store, with its writes counted."""

    def __init__(self, inner):
        self.inner = inner
        self.puts: list[str] = []

    def put(self, key, data, content_type="application/octet-stream"):
        self.puts.append(key)
        self.inner.put(key, data, content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _object_stamp(store, key):
    """Something that changes whenever the object is written again."""
    if isinstance(store, LocalStore):
        stat = (store.root / key).stat()
        return (stat.st_ino, stat.st_mtime_ns)
    from tests.services import S3_ACCESS_KEY  # noqa: F401  (the s3_env fixture set the credentials)

    head = store.client.head_object(Bucket=store.bucket, Key=store._key(key))
    return (head["LastModified"], head["ETag"])


def test_store_article_archived_unchanged_updated(store):
    counting = CountingStore(store)
    record = make_record()
    key = article_key(record["id"])

    assert store_article(counting, record) == ARCHIVED
    assert counting.puts == [key]
    stored = store.get(key)
    assert load_record(stored).title == "标题"
    assert json.loads(stored) == record
    stamp = _object_stamp(store, key)

    # The same article again (fetched later): nothing is written.
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    assert store_article(counting, make_record(fetched="2021-10-28T01:00:00+00:00")) == UNCHANGED
    assert counting.puts == [key]
    assert store.get(key) == stored
    assert _object_stamp(store, key) == stamp

    # Changed text: a new version; the replaced record is kept under versions/ first.
    new_text = "第一段。\n\n第二段改了。"
    changed = make_record(text=new_text, content_sha256=content_sha256(new_text))
    assert store_article(counting, changed) == UPDATED
    current = load_record(store.get(key))
    assert current.text == new_text
    previous = version_key(record["id"], 1, record["fetched"])
    assert counting.puts == [key, previous, key]
    assert current.version == 2 and current.previous_versions == [previous]
    assert store.get(previous) == stored  # the first version, byte for byte

    # Changed image list (text the same): updated in place, still version 2.
    other_sha = "cd" * 32
    with_images = make_record(text=new_text, content_sha256=content_sha256(new_text))
    with_images["images"].append(
        {"url": "http://origin/y.png", "key": image_key(other_sha, "png"), "sha256": other_sha,
         "content_type": "image/png", "bytes": 4, "width": 2, "height": 2}
    )
    assert store_article(counting, with_images) == UPDATED
    assert [i["key"] for i in load_record(store.get(key)).model_dump()["images"]] == [
        image_key("ab" * 32, "jpg"), image_key(other_sha, "png")
    ]
    assert load_record(store.get(key)).previous_versions == [previous]
    # ...and that again is unchanged.
    assert store_article(counting, with_images) == UNCHANGED
    assert counting.puts == [key, previous, key, key]

    # Only one object under articles/, and it is the record's key.
    assert list(store.list("articles/")) == [key]


def test_store_article_changed_title_is_updated(store):
    store_article(store, make_record())
    assert store_article(store, make_record(title="新标题")) == UPDATED
    assert load_record(store.get(article_key(make_record()["id"]))).title == "新标题"


def test_store_article_replaces_a_damaged_record(store):
    record = make_record()
    store.put(article_key(record["id"]), b"{not json")
    assert store_article(store, record) == UPDATED
    assert json.loads(store.get(article_key(record["id"]))) == record


# --------------------------------------------------------------------------
# open_store
# --------------------------------------------------------------------------

def test_open_store_rejects_unknown_schemes():
    with pytest.raises(StoreError, match="ftp"):
        open_store("ftp://host/dir")


def test_open_store_s3_needs_a_bucket():
    with pytest.raises(StoreError):
        open_store("s3:///prefix-only")


def test_open_store_relative_path_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("./archive")
    assert isinstance(store, LocalStore)
    store.ensure()
    store.put("articles/ab/x.json", b"1")
    assert (tmp_path / "archive" / "articles" / "ab" / "x.json").read_bytes() == b"1"


def test_open_store_does_no_io(tmp_path):
    open_store(str(tmp_path / "not-yet"))
    open_store("s3://bucket-that-does-not-exist/p", endpoint_url=f"http://127.0.0.1:{free_port()}")
    assert not (tmp_path / "not-yet").exists()


# --------------------------------------------------------------------------
# LocalStore
# --------------------------------------------------------------------------

@pytest.fixture
def local(tmp_path) -> LocalStore:
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    return store


def test_local_layout_matches_keys(local, tmp_path):
    local.put("articles/ab/abcdef0123456789.json", CHINESE)
    assert (tmp_path / "archive" / "articles" / "ab" / "abcdef0123456789.json").read_bytes() == CHINESE


def test_local_atomic_write_leaves_no_temp_file(local, tmp_path):
    for n in range(5):
        local.put("articles/ab/abcdef0123456789.json", str(n).encode() * 1000)
    assert list((tmp_path / "archive" / TEMP_DIR).iterdir()) == []
    files = sorted(str(p.relative_to(tmp_path / "archive")) for p in (tmp_path / "archive").rglob("*") if p.is_file())
    assert files == ["articles/ab/abcdef0123456789.json"]


def test_local_failed_write_leaves_no_temp_file_and_old_object(local, tmp_path):
    local.put("articles/ab/x.json", b"old")
    # A key whose target is a directory cannot be replaced.
    local.put("articles/ab/dir/y.json", b"y")
    with pytest.raises(StoreError):
        local.put("articles/ab/dir", b"new")
    assert list((tmp_path / "archive" / TEMP_DIR).iterdir()) == []
    assert local.get("articles/ab/x.json") == b"old"
    assert local.get("articles/ab/dir/y.json") == b"y"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_local_ensure_removes_stale_temp_files_of_dead_pids_only(local, tmp_path):
    temp_dir = tmp_path / "archive" / TEMP_DIR
    dead = temp_dir / f"{_dead_pid()}-abc123.tmp"
    live = temp_dir / f"{os.getpid()}-def456.tmp"
    dead.write_bytes(b"half an object")
    live.write_bytes(b"being written")
    local.ensure()
    assert not dead.exists()
    assert live.read_bytes() == b"being written"


def test_local_list_never_shows_temp_files(local, tmp_path):
    local.put("articles/ab/x.json", b"1")
    (tmp_path / "archive" / TEMP_DIR / f"{os.getpid()}-zzz.tmp").write_bytes(b"partial")
    assert list(local.list()) == ["articles/ab/x.json"]
    assert list(local.list(".")) == []
    assert list(local.list(".tmp")) == []
    assert list(local.list(".tmp/")) == []
    assert list(local.list(f".tmp/{os.getpid()}")) == []


def test_local_list_stays_inside_the_root(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(b"not the archive's")
    assert list(local.list("../outside/")) == []
    assert list(local.list("../")) == []
    assert list(local.list("articles/../../outside/")) == []


@pytest.mark.parametrize("root", ["never-made", "empty"])
def test_local_store_without_its_directory_is_refused_not_empty(tmp_path, root):
    # As an S3 bucket that does not exist: a mistyped path, or the empty mount
    # point of a volume not mounted, was an empty archive ("no match", every record gone).
    path = tmp_path / root
    if root == "empty":
        path.mkdir()
    store = open_store(str(path))
    for call in (lambda: list(store.list()), lambda: list(store.list("articles/")), lambda: store.get("articles/ab/x.json"),
                 lambda: store.get_range("articles/ab/x.json", 0, 1), lambda: store.exists("articles/ab/x.json")):
        with pytest.raises(StoreRefused) as info:
            call()
        assert str(path) in str(info.value)
    store.ensure()  # a crawl makes its archive
    assert list(store.list()) == [] and not store.exists("articles/ab/x.json")
    with pytest.raises(KeyNotFound):
        store.get("articles/ab/x.json")


def test_local_store_tells_a_file_system_gone_from_one_bad_file(tmp_path, monkeypatch):
    # A dropped mount (ENOTCONN, ESTALE, ...) fails every key alike: the store
    # is out of reach, as an S3 server that does not answer. EIO may be one bad
    # block: that file's fault, unless the archive directory fails too.
    import errno
    from pathlib import Path

    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    store.put("articles/ab/x.json", b"1")
    failing = {"errno": errno.ENOTCONN}

    def fail(*_args, **_kwargs):
        raise OSError(failing["errno"], os.strerror(failing["errno"]))

    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(StoreUnavailable):
        store.get("articles/ab/x.json")
    failing["errno"] = errno.EIO
    with pytest.raises(StoreError) as info:
        store.get("articles/ab/x.json")
    assert not isinstance(info.value, StoreUnavailable), "one bad file"
    monkeypatch.setattr(os, "scandir", fail)  # the directory fails as well: the disk is gone
    with pytest.raises(StoreUnavailable):
        store.get("articles/ab/x.json")


def test_local_ensure_creates_the_directory(tmp_path):
    root = tmp_path / "deep" / "er" / "archive"
    store = open_store(f"file://{root}")
    store.ensure()
    assert (root / TEMP_DIR).is_dir()


# --------------------------------------------------------------------------
# S3Store
# --------------------------------------------------------------------------

@pytest.mark.s3
def test_s3_keys_are_relative_to_the_prefix(s3_server, s3_bucket, s3_env):
    store = open_store(f"s3://{s3_bucket}/some/prefix", endpoint_url=s3_server.endpoint_url)
    store.put("articles/ab/abcdef0123456789.json", CHINESE)
    raw = s3_server.client().list_objects_v2(Bucket=s3_bucket)
    assert [o["Key"] for o in raw["Contents"]] == ["some/prefix/articles/ab/abcdef0123456789.json"]
    assert list(store.list()) == ["articles/ab/abcdef0123456789.json"]
    assert list(store.list("articles/")) == ["articles/ab/abcdef0123456789.json"]

    # The bucket root sees the full key; a sibling prefix that shares the
    # first letters sees nothing.
    root = open_store(f"s3://{s3_bucket}", endpoint_url=s3_server.endpoint_url)
    assert list(root.list()) == ["some/prefix/articles/ab/abcdef0123456789.json"]
    assert root.get("some/prefix/articles/ab/abcdef0123456789.json") == CHINESE
    sibling = open_store(f"s3://{s3_bucket}/some/pre", endpoint_url=s3_server.endpoint_url)
    assert list(sibling.list()) == []
    with pytest.raises(KeyNotFound):
        sibling.get("fix/articles/ab/abcdef0123456789.json")
    # A trailing slash on the prefix is the same archive.
    slashed = open_store(f"s3://{s3_bucket}/some/prefix/", endpoint_url=s3_server.endpoint_url)
    assert slashed.get("articles/ab/abcdef0123456789.json") == CHINESE


@pytest.mark.s3
def test_s3_put_sets_content_type(s3_server, s3_bucket, s3_env):
    store = open_store(f"s3://{s3_bucket}/p", endpoint_url=s3_server.endpoint_url)
    store.put("articles/ab/x.json", CHINESE, "application/json; charset=utf-8")
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="p/articles/ab/x.json")
    assert head["ContentType"] == "application/json; charset=utf-8"
    assert head["ContentLength"] == len(CHINESE)


@pytest.mark.s3
def test_s3_list_pages_through_many_keys(s3_server, s3_bucket, s3_env):
    store = open_store(f"s3://{s3_bucket}/p", endpoint_url=s3_server.endpoint_url)
    keys = [f"images/{n:04d}.bin" for n in range(1005)]  # more than one 1000-key page
    for key in keys:
        store.put(key, b"")
    assert list(store.list("images/")) == keys


@pytest.mark.s3
def test_s3_ensure_creates_a_missing_bucket(s3_server, s3_env):
    bucket = f"ensure-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    client = s3_server.client()
    names = {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert bucket not in names
    store = open_store(f"s3://{bucket}/archive", endpoint_url=s3_server.endpoint_url)
    store.ensure()
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    store.put("articles/ab/x.json", b"1")
    assert store.get("articles/ab/x.json") == b"1"
    store.ensure()  # again: the bucket exists, nothing is lost
    assert store.get("articles/ab/x.json") == b"1"


@pytest.mark.s3
def test_s3_missing_bucket_is_a_refusal(s3_server, s3_env):
    store = open_store(f"s3://no-such-bucket-{os.getpid()}/p", endpoint_url=s3_server.endpoint_url)
    with pytest.raises(StoreRefused):
        store.get("articles/ab/x.json")


@pytest.fixture
def dummy_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_s3_unreachable_endpoint_is_store_unavailable(dummy_credentials):
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = open_store("s3://bucket/prefix", endpoint_url=endpoint)
    started = time.monotonic()
    calls = [
        lambda: store.put("articles/ab/x.json", b"1"),
        lambda: store.get("articles/ab/x.json"),
        lambda: store.exists("articles/ab/x.json"),
        lambda: store.delete("articles/ab/x.json"),
        lambda: list(store.list("articles/")),
        store.ensure,
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert not isinstance(info.value, (BotoCoreError, ClientError))
        assert endpoint in str(info.value)
    assert time.monotonic() - started < 60


def test_s3_body_cut_short_is_store_unavailable(dummy_credentials):
    # The body is read after get_object returns: a connection dropped mid-body
    # raised botocore's own error, past the store's translation.
    from botocore.exceptions import BotoCoreError

    from tests.test_faults import TruncatingServer

    server = TruncatingServer()
    try:
        store = open_store("s3://bucket/prefix", endpoint_url=f"http://127.0.0.1:{server.port}")
        for call in (lambda: store.get("articles/ab/x.json"), lambda: store.get_range("articles/ab/x.json", 0, 100)):
            with pytest.raises(StoreUnavailable) as info:
                call()
            assert isinstance(info.value.__cause__, BotoCoreError)
        assert server.hits >= 2
    finally:
        server.close()


@pytest.mark.s3
def test_s3_wrong_credentials_are_a_refusal_not_unavailable(s3_server, s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-the-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store(f"s3://{s3_bucket}", endpoint_url=s3_server.endpoint_url)
    # A refusal of the client, not of one object: a reader of many objects (verify) stops at it.
    for call in (lambda: store.put("articles/ab/x.json", b"1"), lambda: store.get("articles/ab/x.json"),
                 lambda: store.exists("articles/ab/x.json")):  # a HEAD's 403 has no code but its status
        with pytest.raises(StoreRefused) as info:
            call()
        assert not isinstance(info.value, StoreUnavailable)
        assert "not-the-secret" not in str(info.value)
