"""One store spool, shared by crawls that run side by side during an outage."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from archive.spool import StoreSpool
from archive.store import open_store

WRITERS = 4
WRITES_EACH = 25


def spool_writes(directory: str, writer: int, barrier) -> None:
    spool = StoreSpool(Path(directory))
    barrier.wait()
    for n in range(WRITES_EACH):
        spool.add("put", f"articles/{writer}/{n}.json", f"{writer}:{n}".encode(), "application/json")


def spool_replay(directory: str, archive: str, barrier, results) -> None:
    spool = StoreSpool(Path(directory))
    barrier.wait()
    try:
        results.put(spool.replay(open_store(archive), force=True))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc))


def run_all(target, args_for, count: int) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args_for(i)) for i in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0


def test_crawls_spooling_at_once_lose_nothing_and_replay_each_write_once(tmp_path):
    directory = tmp_path / "state" / "spool" / "archive"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    run_all(spool_writes, lambda i: (str(directory), i, barrier), WRITERS)
    spool = StoreSpool(directory)
    assert spool.pending == WRITERS * WRITES_EACH, "every write has a number of its own"

    archive = tmp_path / "archive"
    open_store(str(archive)).ensure()
    barrier = context.Barrier(2)
    results = context.Queue()
    run_all(spool_replay, lambda i: (str(directory), str(archive), barrier, results), 2)
    replayed = [results.get(timeout=10), results.get(timeout=10)]
    assert sum(replayed) == WRITERS * WRITES_EACH, f"each write replayed once, by one of them: {replayed}"
    assert spool.pending == 0
    store = open_store(str(archive))
    for writer in range(WRITERS):
        for n in range(WRITES_EACH):
            assert store.get(f"articles/{writer}/{n}.json") == f"{writer}:{n}".encode()


def test_a_crawl_spools_on_while_another_replays(tmp_path):
    # Replaying can take minutes against a slow store: the others neither wait
    # for it nor replay the same writes; their own writes queue behind.
    from archive.processes import flock_file
    from archive.spool import REPLAY_LOCK_FILE, SpooledWriter

    directory = tmp_path / "spool"
    archive = tmp_path / "archive"
    store = open_store(str(archive))
    store.ensure()
    spool = StoreSpool(directory)
    spool.add("put", "articles/first.json", b"1", "application/json")
    replaying = flock_file(directory / REPLAY_LOCK_FILE, wait=False)  # another crawl replays
    try:
        writer = SpooledWriter(store, StoreSpool(directory))
        assert writer.spool.replay(store, force=True) == 0
        assert writer.write("put", "articles/second.json", b"2", "application/json") == "spooled"
        assert not store.exists("articles/first.json") and not store.exists("articles/second.json")
    finally:
        import os

        os.close(replaying)
    assert writer.drain(5) == 0
    assert store.get("articles/first.json") == b"1" and store.get("articles/second.json") == b"2"


def replay_for(directory: str, archive: str, seconds: float, started, results) -> None:
    import time

    spool, store = StoreSpool(Path(directory)), open_store(archive)
    started.set()
    deadline, replayed = time.monotonic() + seconds, 0
    try:
        while time.monotonic() < deadline:
            replayed += spool.replay(store, force=True)
        results.put(replayed)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(repr(exc))


def test_spooling_while_another_crawl_replays_loses_nothing(tmp_path):
    # The replayer deletes entries while this crawl numbers and sizes its own.
    directory, archive = tmp_path / "spool", tmp_path / "archive"
    open_store(str(archive)).ensure()
    context = multiprocessing.get_context("spawn")
    started, results = context.Event(), context.Queue()
    replayer = context.Process(target=replay_for, args=(str(directory), str(archive), 3.0, started, results))
    replayer.start()
    assert started.wait(30)
    spool = StoreSpool(directory)
    for n in range(1500):
        spool.add("put", f"articles/x/{n}.json", str(n).encode(), "application/json")
    replayer.join(60)
    replayed = results.get(timeout=10)
    assert isinstance(replayed, int), replayed
    assert spool.replay(open_store(str(archive)), force=True) + replayed == 1500
    store = open_store(str(archive))
    assert all(store.get(f"articles/x/{n}.json") == str(n).encode() for n in range(1500))


def test_a_write_queued_behind_a_replay_that_ends_meanwhile_goes_to_the_store(tmp_path):
    # A write finds writes waiting, but the replay under way (another crawl's,
    # or the run's last drain) empties the spool before the write is queued:
    # it goes straight to the store, not into a spool no one replays this run.
    from archive.spool import SpooledWriter

    directory = tmp_path / "spool"
    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    spool = StoreSpool(directory)
    spool.add("put", "articles/first.json", b"1", "application/json")

    class ReplayedElsewhere(StoreSpool):
        def replay(self, store, *, force=False):
            StoreSpool(directory).replay(store, force=True)  # the other replayer ends...
            return 0  # ... while this one found its lock taken

    writer = SpooledWriter(store, ReplayedElsewhere(directory))
    assert writer.write("put", "articles/second.json", b"2", "application/json") != "spooled"
    assert spool.pending == 0
    assert store.get("articles/first.json") == b"1" and store.get("articles/second.json") == b"2"


def test_a_sequence_file_behind_the_spool_never_numbers_a_write_before_waiting_ones(tmp_path):
    from archive.spool import SEQUENCE_FILE

    directory = tmp_path / "spool"
    first = StoreSpool(directory)
    for n in range(3):
        first.add("put", f"k/{n}", b"x", "text/plain")
    (directory / SEQUENCE_FILE).write_text("1")  # lost to a power cut, say
    (directory / ".000000000009.tmp").write_bytes(b"half a write of a killed crawl")
    StoreSpool(directory).add("put", "k/3", b"x", "text/plain")  # another process, later
    assert [path.stem for path in sorted(directory.glob("*.op"))] == [f"{n:012d}" for n in (1, 2, 3, 4)]
    assert not list(directory.glob(".*.tmp")), "a killed crawl's temp file is gone"
    store = open_store(str(tmp_path / "archive"))
    assert StoreSpool(directory).replay(store, force=True) == 4
    assert [store.get(f"k/{n}") for n in range(4)] == [b"x"] * 4


def test_the_spool_stays_within_its_bound(tmp_path):
    import pytest

    from archive.spool import SpoolFull

    spool = StoreSpool(tmp_path / "spool", max_bytes=4096)
    spool.add("put", "k/0", b"x" * 3000, "text/plain")
    with pytest.raises(SpoolFull):
        spool.add("put", "k/1", b"x" * 3000, "text/plain")
    assert spool.pending == 1


def test_a_write_numbered_by_another_writer_is_never_overwritten(tmp_path):
    # A crawl of the previous version (no sequence file) numbers its writes
    # from the entries, beside one of this version during an upgrade.
    directory = tmp_path / "spool"
    spool = StoreSpool(directory)
    for n in range(3):
        spool.add("put", f"k/{n}", b"new", "text/plain")
    (directory / "000000000004.op").write_bytes(b'{"op": "put", "key": "k/old", "content_type": "text/plain"}\nold')
    spool.add("put", "k/3", b"new", "text/plain")
    assert (directory / "000000000004.op").read_bytes().endswith(b"\nold")
    assert [path.stem for path in sorted(directory.glob("*.op"))][-1] == "000000000005"


def test_a_spool_emptied_meanwhile_takes_writes_again_at_once(tmp_path):
    import pytest

    from archive.spool import SpoolFull

    spool = StoreSpool(tmp_path / "spool", max_bytes=4096)
    spool.add("put", "k/0", b"x" * 3000, "text/plain")
    assert StoreSpool(tmp_path / "spool").replay(open_store(str(tmp_path / "archive")), force=True) == 1
    spool.add("put", "k/1", b"x" * 3000, "text/plain")  # the running count says full; the spool is not
    with pytest.raises(SpoolFull):
        spool.add("put", "k/2", b"x" * 3000, "text/plain")


def test_a_write_the_store_refuses_stops_the_replay_and_nothing_moves(tmp_path):
    # A refusal may pass (a credential hiccup, a skewed clock) or not: the
    # spool keeps every write in order and says which one holds it up.
    from archive.store import StoreError

    directory = tmp_path / "spool"
    spool = StoreSpool(directory)
    for n in range(3):
        spool.add("put", f"k/{n}", b"x", "text/plain")
    store = open_store(str(tmp_path / "archive"))
    real_put_file = store.put_file  # a spooled put is replayed streamed from its entry
    refusing = {"k/1"}

    def put_file(key, path, content_type="application/octet-stream", offset=0):
        if key in refusing:
            raise StoreError("403 RequestTimeTooSkewed")
        return real_put_file(key, path, content_type, offset)

    store.put_file = put_file
    assert spool.replay(store, force=True) == 1
    assert spool.pending == 2 and store.exists("k/0") and not store.exists("k/2"), "nothing overtakes the refused write"
    refusing.clear()
    assert spool.replay(store, force=True) == 2 and spool.pending == 0


def test_a_file_written_while_the_store_is_down_is_spooled_and_replayed_whole(tmp_path):
    # WARC files go to the store streamed from their file (put_file), and into the
    # spool the same way when the store is out of reach.
    from archive.spool import SpooledWriter
    from archive.store import StoreUnavailable

    store = open_store(str(tmp_path / "archive"))
    store.ensure()

    class Down:
        url = store.url

        def put_file(self, key, path, content_type="application/octet-stream"):
            raise StoreUnavailable("down")

    source = tmp_path / "run-00000.warc.gz"
    data = bytes(range(256)) * 9000  # 2.3 MB, past a copy's megabyte
    source.write_bytes(data)
    spool = StoreSpool(tmp_path / "spool")
    assert SpooledWriter(Down(), spool).write("put", "warc/run-00000.warc.gz", source, "application/warc") == "spooled"
    source.unlink()  # the capture's spool file goes once written: the spool holds its own copy
    assert spool.replay(store, force=True) == 1
    assert store.get("warc/run-00000.warc.gz") == data


def test_replaying_a_spooled_file_never_holds_it_in_memory(tmp_path):
    import tracemalloc

    store = open_store(str(tmp_path / "archive"))
    store.ensure()
    source = tmp_path / "big.warc.gz"
    with open(source, "wb") as handle:
        for n in range(16):
            handle.write(bytes([n]) * (1024 * 1024))
    spool = StoreSpool(tmp_path / "spool")
    spool.add("put", "warc/big.warc.gz", source, "application/warc")
    tracemalloc.start()
    try:
        assert spool.replay(store, force=True) == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 * 1024 * 1024, f"{peak / 1e6:.1f} MB held at once to replay a 16 MB file"
    assert store.get("warc/big.warc.gz") == source.read_bytes()
