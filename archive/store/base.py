"""The interface every archive backend implements, its errors, and how a reader waits out a store unavailable for a moment."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol, TypeVar, runtime_checkable

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Pauses (seconds) before asking again a store that was unavailable (throttled,
# timing out, a connection reset): busy for a few seconds is no damage of the
# object asked for; still unavailable after the last, it is out of reach.
UNAVAILABLE_RETRY_DELAYS = (0.5, 2.0)


class StoreError(Exception):
    """A backend failed; the message says which key and why."""


class KeyNotFound(StoreError):
    """The key does not exist in the archive."""


class StoreUnavailable(StoreError):
    """The store could not be reached or answered with a server error.

    Callers may retry later: nothing was written.
    """


class StoreRefused(StoreError):
    """The store will not serve this archive at all, and waiting does not change that.

    No credentials, credentials refused or expired, access denied, no such
    bucket; for a directory, none at the path. A reader of many objects
    (``verify``) stops here rather than report each object as damaged.
    """


# Failures of the store as a whole, not of one object: whoever reads object
# after object stops at them (nothing more could be read).
WHOLE_STORE_ERRORS = (StoreUnavailable, StoreRefused)
# A local file copied for put_file (or into the outage spool) goes through memory this much at a time.
COPY_CHUNK_BYTES = 1 << 20


class SourceFile:
    """The local file ``put_file`` stores, from ``offset`` to its end, read as it is sent.

    Positions count from ``offset`` (boto3 rewinds a body to 0 to send it
    again). A failure to read it is the file's, not the store's: raised as
    StoreError, never as an OSError, which the backends (and boto3's retries)
    take for the store's own file system or connection failing, to be waited
    out and spooled.
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self._offset = offset
        try:
            self._file = open(path, "rb")
        except OSError as exc:
            raise self._failed(exc) from exc
        self.seek(0)

    def _failed(self, exc: OSError) -> StoreError:
        return StoreError(f"cannot read {self.path}: {exc}")

    def read(self, size: int = -1) -> bytes:
        try:
            return self._file.read(size)
        except OSError as exc:
            raise self._failed(exc) from exc

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._file.seek(position + self._offset if whence == io.SEEK_SET else position, whence) - self._offset
        except OSError as exc:
            raise self._failed(exc) from exc

    def tell(self) -> int:
        return self._file.tell() - self._offset

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SourceFile":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def patiently(read: Callable[[], T]) -> T:
    """``read()``, asked again after each pause of UNAVAILABLE_RETRY_DELAYS while the store is unavailable.

    The last attempt's StoreUnavailable is raised: the store is out of reach.
    """
    for delay in UNAVAILABLE_RETRY_DELAYS:
        try:
            return read()
        except StoreUnavailable as exc:
            logger.info("the store is unavailable (%s): asking again in %.1f s", exc, delay)
            time.sleep(delay)
    return read()


@runtime_checkable
class ArchiveStore(Protocol):
    """Keys are '/'-separated paths relative to the archive root."""

    url: str

    def ensure(self) -> None:
        """Create the directory or bucket when missing."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write an object whole: readers see the old object or the new one, never a part."""

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream", offset: int = 0) -> None:
        """``put`` of a local file's bytes from ``offset`` on, streamed (see SourceFile): never read into memory whole."""

    def get(self, key: str) -> bytes:
        """Read an object; raise KeyNotFound when absent."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``: one WARC record without its whole file."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under a prefix, in lexical order."""
