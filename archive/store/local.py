"""A local directory with the same layout as a bucket."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from urllib.parse import unquote, urlsplit

from archive.keys import check_key
from archive.processes import process_alive
from archive.store.base import COPY_CHUNK_BYTES, KeyNotFound, SourceFile, StoreError, StoreRefused, StoreUnavailable

# Temp files live in one folder at the root, never beside the objects, so a
# crash cannot leave a half-written object under articles/ or images/.
TEMP_DIR = ".tmp"
# OSErrors that say the file system under the archive went away, not that one
# file is bad: every key after fails alike (verify stops rather than report
# each as damaged; a crawl's writes wait in its spool). A network mount that
# lost its server (ENOTCONN: FUSE, sshfs; ESTALE: NFS; EHOSTDOWN,
# EHOSTUNREACH, ETIMEDOUT: a soft NFS mount giving up; ECONNRESET,
# ECONNABORTED: CIFS), a device unplugged (ENODEV, ENXIO). EIO may be one bad
# block as well as a dead disk: the archive directory itself is read to tell.
FILESYSTEM_GONE_ERRNOS = frozenset({
    errno.ENOTCONN, errno.ESTALE, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ETIMEDOUT, errno.ECONNRESET,
    errno.ECONNABORTED, errno.ENODEV, errno.ENXIO,
})


class LocalStore:
    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.url = url or str(root)

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> "LocalStore":
        parts = urlsplit(url)
        path = unquote(parts.path) if parts.scheme == "file" else url
        return cls(Path(path).expanduser().absolute(), url)  # errors name the directory whatever the working one

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root.joinpath(*key.split("/"))

    def ensure(self) -> None:
        try:
            (self.root / TEMP_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create archive directory {self.root}: {exc}") from exc
        self._remove_stale_temp_files()

    def _remove_stale_temp_files(self) -> None:
        """Drop temp files whose writer process is gone (a kill -9 leaves them)."""
        try:
            for entry in (self.root / TEMP_DIR).glob("*.tmp"):
                pid = entry.name.split("-", 1)[0]
                if pid.isdigit() and not process_alive(int(pid)):
                    entry.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot clean {self.root / TEMP_DIR}: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._write(key, lambda handle: handle.write(data))

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream", offset: int = 0) -> None:
        with SourceFile(path, offset) as source:
            self._write(key, lambda handle: shutil.copyfileobj(source, handle, COPY_CHUNK_BYTES))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write a temp file with ``fill``, make it durable, and rename it over the key's file."""
        target = self._path(key)
        temp_dir = self.root / TEMP_DIR
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp_dir.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=".tmp", dir=temp_dir)
            try:
                with os.fdopen(fd, "wb") as handle:
                    fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp_name, target)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise self._failed(f"write {key}", exc, ask_root=False) from exc  # a write makes the directory

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise self._failed(f"read {key}", exc) from exc

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError:
            raise self._missing(key) from None
        except OSError as exc:
            raise self._failed(f"read {key}", exc) from exc

    def exists(self, key: str) -> bool:
        try:
            found = self._path(key).is_file()
        except OSError as exc:  # permission denied; a missing file is False, not an error
            raise self._failed(f"read {key}", exc) from exc
        if not found and (failure := self._root_failure()) is not None:
            raise failure
        return found

    def _failed(self, doing: str, exc: OSError, ask_root: bool = True) -> StoreError:
        """The error of a key that failed: its own (a file's mode, a bad block), unless the archive's file system
        or directory is gone (FILESYSTEM_GONE_ERRNOS; _root_failure, unless ``ask_root`` is false)."""
        if exc.errno in FILESYSTEM_GONE_ERRNOS:
            return StoreUnavailable(f"cannot {doing} under {self.root}, its file system is gone: {exc}")
        return (self._root_failure() if ask_root else None) or StoreError(f"cannot {doing} under {self.root}: {exc}")

    def _missing(self, key: str) -> StoreError:
        """KeyNotFound, unless the archive directory itself is not there (see _root_failure)."""
        return self._root_failure() or KeyNotFound(key)

    def _root_failure(self) -> StoreError | None:
        """Why the archive directory itself cannot be read, or None while it can.

        No directory at the path (mistyped), or nothing at all in it (a
        volume not mounted: its empty mount point) is no archive, as an S3
        bucket that does not exist: said so, not taken for an empty archive
        (search answered "no match", verify called every record gone).
        ``ensure`` makes the directory; it is never empty after. Unmounted
        under a reader, it is its mount point now, or fails (a dead disk, a
        lost server): StoreUnavailable, as a store out of reach.
        """
        try:
            with os.scandir(self.root) as entries:
                empty = next(entries, None) is None
        except (FileNotFoundError, NotADirectoryError):
            return StoreRefused(f"no archive directory {self.root}")
        except PermissionError as exc:
            return StoreRefused(f"cannot read the archive directory {self.root}: {exc}")
        except OSError as exc:
            return StoreUnavailable(f"cannot read the archive directory {self.root}: {exc}")
        return StoreRefused(f"nothing in {self.root}: no archive there (a volume not mounted?)") if empty else None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._failed(f"delete {key}", exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        try:
            found = self._keys(prefix)
        except OSError as exc:
            raise self._failed(f"list {prefix or 'the keys'}", exc) from exc
        yield from found

    def _keys(self, prefix: str) -> list[str]:
        base = self.root
        if (failure := self._root_failure()) is not None:
            raise failure
        # Walk only the directory the prefix names, then filter by the rest.
        head, _, _ = prefix.rpartition("/")
        segments = head.split("/") if head else []
        # No key has an empty, '.' or '..' folder, and none lives in the temp
        # folder: such a prefix matches nothing (and must not walk out of the root).
        if any(s in ("", ".", "..") for s in segments) or segments[:1] == [TEMP_DIR]:
            return []
        start = base.joinpath(*segments) if segments else base
        if not start.is_dir():
            return []
        found = []
        # A folder that cannot be read fails the listing: skipped (os.walk's
        # default), its keys would look absent, the archive empty.
        for dirpath, dirnames, filenames in os.walk(start, onerror=_unless_gone):
            dirnames[:] = [d for d in dirnames if not (dirpath == str(base) and d == TEMP_DIR)]
            rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)


def _unless_gone(exc: OSError) -> None:
    """os.walk's error handler: a folder removed while walked has no keys; any other error is raised."""
    if not isinstance(exc, FileNotFoundError):
        raise exc
