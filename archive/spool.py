"""Writes that wait on local disk while the object store is out of reach.

When the store is unreachable or answers with server errors, records,
images, catalog segments, run records and WARC files are appended to a
spool (one fsynced file per write, numbered) and replayed in order when the
store answers again: later in the same run, or at the start of the next.
The spool is bounded; past its size a write fails loudly instead.

Crawls running side by side (the daemon's) share one spool per archive. Two
file locks keep them apart: one, held only while a write is numbered and
stored, so no two writes take the same number; the other held by the one
process replaying, so no write is replayed twice. A crawl that finds another
replaying spools its own writes meanwhile (they must not overtake the spool)
instead of waiting on the store's network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from archive.processes import exclusive, flock_file
from archive.store import ArchiveStore, StoreError, StoreUnavailable
from archive.store.base import COPY_CHUNK_BYTES
from archive.writer import store_article

logger = logging.getLogger(__name__)

SPOOL_SUBDIR = "spool"  # of the state directory
DEFAULT_SPOOL_MAX_BYTES = 2 * 1024 * 1024 * 1024
REPLAY_INTERVAL_SECONDS = 5.0  # between attempts to reach a store that was down
SPOOLED = "spooled"
ADD_LOCK_FILE = ".lock"
REPLAY_LOCK_FILE = ".replay.lock"
# The last number given to a write. Listing the spool for it, and stat-ing
# every entry for the size bound, at each write made a long outage slow
# itself down (15 ms a write with 1,000 waiting, 80 ms with 5,000).
SEQUENCE_FILE = ".sequence"
ENTRY_SUFFIX = ".op"
# The size bound is summed afresh this often, and between, kept up by this process's own writes.
USED_BYTES_RECOUNT_SECONDS = 5.0
# What a write carries: the bytes, or a local file holding them (a WARC file,
# streamed to the store or the spool, never read into memory whole).
Payload = bytes | Path


def spool_directory(state_dir: Path, store: ArchiveStore) -> Path:
    """The spool of one archive: a config pointed elsewhere never replays into the wrong store."""
    return state_dir / SPOOL_SUBDIR / hashlib.sha256(store.url.encode()).hexdigest()[:16]


class SpoolFull(StoreUnavailable):
    """The store is down and the spool has no room left: the write is refused."""


def apply_write(store: ArchiveStore, op: str, key: str, data: Payload, content_type: str) -> str:
    """Carry out one write against the store. ``op``: put | put_once | article (a file: put only)."""
    if isinstance(data, Path):
        if op != "put":
            raise ValueError(f"a {op!r} write takes bytes, not a file")
        store.put_file(key, data, content_type)
        return "stored"
    if op == "article":
        return store_article(store, json.loads(data))
    if op == "put_once":
        # Content-addressed: an existing key already holds these very bytes.
        if not store.exists(key):
            store.put(key, data, content_type)
        return "stored"
    store.put(key, data, content_type)
    return "stored"


class StoreSpool:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_SPOOL_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._last_attempt = 0.0
        self._sequence_checked = False  # the sequence file checked against the entries, once per process
        self._used: tuple[float, int] | None = None  # (when summed, bytes)

    def _entries(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*" + ENTRY_SUFFIX))

    @property
    def pending(self) -> int:
        """How many writes wait (lists the spool: for reports, not for every write)."""
        return len(self._entries())

    def waiting(self) -> bool:
        """Whether any write waits: stops at the first entry found."""
        try:
            with os.scandir(self.directory) as found:
                return any(entry.name.endswith(ENTRY_SUFFIX) for entry in found)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def _used_bytes(self, fresh: bool = False) -> int:
        now = time.monotonic()
        if fresh or self._used is None or now - self._used[0] >= USED_BYTES_RECOUNT_SECONDS:
            used = 0
            for path in self._entries():
                try:
                    used += path.stat().st_size
                except FileNotFoundError:
                    pass  # replayed by another crawl meanwhile
            self._used = (now, used)
        return self._used[1]

    def _next_sequence(self) -> int:
        """The number of the next write (under the adding lock): after every waiting one."""
        record = self.directory / SEQUENCE_FILE
        try:
            last = int(record.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            last = 0
        if not self._sequence_checked:
            # A sequence file behind the entries (lost with a power cut, removed
            # by hand) would number a new write before older ones.
            entries = self._entries()
            last = max(last, int(entries[-1].stem) if entries else 0)
            # Only adders make temp files, under this lock: any now is a killed one's.
            for temp in self.directory.glob(".*.tmp"):
                temp.unlink(missing_ok=True)
            self._sequence_checked = True
        sequence = last + 1
        while (self.directory / f"{sequence:012d}{ENTRY_SUFFIX}").exists():
            sequence += 1  # numbered by a writer that keeps no sequence file (an older version, mid-upgrade)
        temp = self.directory / f"{SEQUENCE_FILE}.tmp"
        temp.write_text(str(sequence), encoding="ascii")
        os.replace(temp, record)  # made durable by the directory fsync after the entry
        return sequence

    def add(self, op: str, key: str, data: Payload, content_type: str, *, behind_only: bool = False) -> bool:
        """Spool one write; with ``behind_only``, only behind writes still waiting (else False).

        Whether any wait is decided under the lock a replay's end is decided
        under too: a write never lands in a spool its replayer has just left
        for good (it would wait for the next run).
        """
        with self._lock, exclusive(self.directory / ADD_LOCK_FILE):
            if behind_only and not self.waiting():
                return False
            size = data.stat().st_size if isinstance(data, Path) else len(data)
            # Full by the running count: counted afresh before refusing (replays shrink the spool too).
            if self._used_bytes() + size > self.max_bytes and self._used_bytes(fresh=True) + size > self.max_bytes:
                raise SpoolFull(f"the store is unreachable and the spool at {self.directory} is full")
            sequence = self._next_sequence()
            header = json.dumps({"op": op, "key": key, "content_type": content_type}).encode() + b"\n"
            temp = self.directory / f".{sequence:012d}.tmp"
            try:
                with open(temp, "wb") as handle:
                    handle.write(header)
                    if isinstance(data, Path):
                        with open(data, "rb") as source:
                            shutil.copyfileobj(source, handle, COPY_CHUNK_BYTES)
                    else:
                        handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.directory / f"{sequence:012d}{ENTRY_SUFFIX}")
            except BaseException:
                temp.unlink(missing_ok=True)  # a full disk leaves no half entry behind
                raise
            _fsync_dir(self.directory)
            self._used = (self._used[0], self._used[1] + len(header) + size)
        return True

    def replay(self, store: ArchiveStore, *, force: bool = False) -> int:
        """Write what waits, oldest first; stop at the first failure. Returns how many went through."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_attempt < REPLAY_INTERVAL_SECONDS:
                return 0
            self._last_attempt = now
            if not self.directory.is_dir():
                return 0
            fd = flock_file(self.directory / REPLAY_LOCK_FILE, wait=False)
            if fd is None:
                return 0  # another crawl is replaying
            try:
                return self._replay_locked(store)
            finally:
                os.close(fd)

    def _replay_locked(self, store: ArchiveStore) -> int:
        """Until the spool is empty: other crawls keep spooling behind a replay."""
        done = 0
        while entries := self._entries() or self._last_entries():
            for path in entries:
                try:
                    _replay_entry(store, path)
                except StoreUnavailable:
                    return done
                except StoreError as exc:
                    # Refused (credentials, a clock too far off, a body it will not
                    # take): nothing is moved or dropped, the writes keep their order
                    # and wait. Only an operator can tell a passing refusal from one for good.
                    logger.error("the store refuses the spooled write %s (%s): it and the writes behind it "
                                 "wait; if it can never be written, move it out of %s", path, exc, self.directory)
                    return done
                path.unlink()
                done += 1
        return done

    def _last_entries(self) -> list[Path]:
        """The spool's emptiness confirmed under the adding lock: see add."""
        with exclusive(self.directory / ADD_LOCK_FILE):
            return self._entries()


def _replay_entry(store: ArchiveStore, path: Path) -> None:
    """One spooled write, against the store: a put streamed from the entry (a WARC file is never read whole)."""
    with open(path, "rb") as entry:
        meta: dict[str, Any] = json.loads(entry.readline())
        if meta["op"] == "put":
            store.put_file(meta["key"], path, meta["content_type"], offset=entry.tell())
            return
        data = entry.read()
    apply_write(store, meta["op"], meta["key"], data, meta["content_type"])


class SpooledWriter:
    """Every write of a crawl goes through here: to the store, or to the spool while it is down."""

    def __init__(self, store: ArchiveStore, spool: StoreSpool) -> None:
        self.store = store
        self.spool = spool

    def write(self, op: str, key: str, data: Payload, content_type: str = "application/octet-stream") -> str:
        # Order matters (a record after the image it shows): nothing overtakes the spool.
        if self.spool.waiting() and (self.spool.replay(self.store) == 0 or self.spool.waiting()):
            if self.spool.add(op, key, data, content_type, behind_only=True):
                return SPOOLED  # else emptied meanwhile (a replay elsewhere ended): straight to the store
        try:
            return apply_write(self.store, op, key, data, content_type)
        except SpoolFull:
            raise
        except StoreUnavailable:
            self.spool.add(op, key, data, content_type)
            return SPOOLED

    def write_article(self, record: dict) -> str:
        from archive.records import dump_record

        return self.write("article", record["id"], dump_record(record), "application/json")

    def write_run(self, run) -> str:
        from archive.runs import RUN_CONTENT_TYPE, run_bytes

        return self.write("put", run.key, run_bytes(run), RUN_CONTENT_TYPE)

    def drain(self, wait_seconds: float) -> int:
        """Try to empty the spool for up to ``wait_seconds``; returns what is still waiting."""
        deadline = time.monotonic() + wait_seconds
        while self.spool.waiting():
            self.spool.replay(self.store, force=True)
            if not self.spool.waiting() or time.monotonic() >= deadline:
                break
            time.sleep(min(REPLAY_INTERVAL_SECONDS, max(0.0, deadline - time.monotonic())))
        return self.spool.pending


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
