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
