"""The interface every archive backend implements, and its errors."""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable


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


@runtime_checkable
class ArchiveStore(Protocol):
    """Keys are '/'-separated paths relative to the archive root."""

    url: str

    def ensure(self) -> None:
        """Create the directory or bucket when missing."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write an object whole: readers see the old object or the new one, never a part."""

    def get(self, key: str) -> bytes:
        """Read an object; raise KeyNotFound when absent."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``: one WARC record without its whole file."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under a prefix, in lexical order."""
