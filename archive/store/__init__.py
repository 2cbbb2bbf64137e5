"""Archive storage backends, picked by the URL's scheme.

A backend is a small class behind :class:`~archive.store.base.ArchiveStore`;
``open_store`` maps ``./dir``, ``file:///abs/dir`` and ``s3://bucket/prefix``
to one of them. Adding a backend is one class and one line in ``STORES``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from archive.store.base import (
    WHOLE_STORE_ERRORS,
    ArchiveStore,
    KeyNotFound,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    patiently,
)
from archive.store.local import LocalStore
from archive.store.s3 import S3Store

__all__ = [
    "ArchiveStore",
    "KeyNotFound",
    "LocalStore",
    "S3Store",
    "StoreError",
    "StoreRefused",
    "StoreUnavailable",
    "WHOLE_STORE_ERRORS",
    "STORES",
    "open_store",
    "patiently",
]

STORES: dict[str, type] = {
    "": LocalStore,
    "file": LocalStore,
    "s3": S3Store,
}


def open_store(url: str, *, endpoint_url: str | None = None) -> ArchiveStore:
    """Return the backend for an archive URL (no I/O happens here)."""
    scheme = urlsplit(url).scheme
    # A Windows-style drive letter or a bare relative path has no real scheme.
    if len(scheme) == 1:
        scheme = ""
    try:
        store_cls = STORES[scheme]
    except KeyError:
        raise StoreError(f"unsupported archive URL scheme {scheme!r} in {url!r}") from None
    return store_cls.from_url(url, endpoint_url=endpoint_url)
