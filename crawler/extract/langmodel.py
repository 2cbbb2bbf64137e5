"""py3langid's model, loaded from a decompressed copy in the user's cache.

py3langid ships its model xz-compressed (4.5 MB, 68 MB of arrays), and
decompressing it took 0.25 s of CPU at the start of every crawl: the
extraction workers cannot start before their forkserver has loaded it. The
arrays are kept decompressed in the cache and mapped from there, not read:
the forkserver maps them in 0.03 s instead of copying 68 MB (0.1-0.2 s of
its start), and its workers share the file's pages through the page cache,
reading only the parts their pages touch. The cache is only ever a copy:
when it cannot be written or read, the model is loaded from py3langid's own
file as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import lzma
import mmap
import os
import shutil
import struct
import tempfile
import time
import zipfile
from pathlib import Path

from archive.userdirs import user_cache_dir

logger = logging.getLogger(__name__)

# The arrays py3langid's model file holds (modelio.load_model reads the same).
MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# memoryview formats by item size, for the transition tables py3langid walks item by item.
UNSIGNED_FORMATS = {2: "H", 4: "I", 8: "Q"}
COPY_CHUNK_BYTES = 1 << 20
CACHED_MODEL_GLOB = "py3langid-model-*.npz"
# A copy no crawl has read for this long (another py3langid's) is removed when a new one is written.
UNUSED_COPY_DAYS = 30
# What writing or reading the copy can raise (a damaged copy: numpy's and zipfile's errors).
CACHE_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, struct.error, lzma.LZMAError, zipfile.BadZipFile)
# A zip member's local header: 30 bytes, its signature first, its name's and extra field's lengths last.
ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")
ZIP_LOCAL_SIGNATURE = b"PK\x03\x04"
# An .npy header (magic, version, its dict) fits here: numpy pads it to 64 bytes, or a few times that for wide dtypes.
NPY_HEADER_MAX_BYTES = 4096


class NotMappable(Exception):
    """A copy this module cannot map (on a file system without mmap, compressed members, an .npy format it
    does not know, damage): it is read instead."""


@functools.cache
def language_identifier():
    """The shared py3langid identifier (probabilities not normalised, as py3langid.classify's)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model_file = Path(MODEL_DIR) / MODEL_FILE
    cached = cached_model_path(model_file)
    if cached is not None:
        try:
            return _identifier_from_arrays(LanguageIdentifier, _ready_copy(model_file, cached))
        except CACHE_ERRORS as exc:
            # A full disk, a read-only cache, a damaged copy: the model's own file still works.
            logger.debug("language model cache %s not used: %s", cached, exc)
            with contextlib.suppress(OSError):  # a read-only cache keeps it: the packaged model serves anyway
                cached.unlink(missing_ok=True)  # damaged: the next crawl writes it again
    return LanguageIdentifier.from_model_file(model_file)


def _ready_copy(model_file: Path, cached: Path) -> Path:
    if cached.exists():
        with contextlib.suppress(OSError):  # another user's copy: read, not ours to mark
            os.utime(cached)  # in use: see remove_unused_copies
    else:
        _decompress(model_file, cached)
        remove_unused_copies(cached)
    return cached


def cached_model_path(model_file: Path) -> Path | None:
    """The decompressed copy's path, named after the model file's content.

    Its content, not its time: every fresh install (a new virtualenv per CI
    run) would otherwise leave another 68 MB copy behind. Hashing the 4.5 MB
    file costs 3 ms.
    """
    cache = user_cache_dir()
    if cache is None:
        return None
    try:
        digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:16]
    except OSError:
        return None
    return cache / CACHED_MODEL_GLOB.replace("*", digest)


def remove_unused_copies(kept: Path) -> None:
    """Copies of other models (py3langid upgraded) that no crawl read for UNUSED_COPY_DAYS."""
    cutoff = time.time() - UNUSED_COPY_DAYS * 86400
    for copy in kept.parent.glob(CACHED_MODEL_GLOB):
        try:
            if copy != kept and copy.stat().st_mtime < cutoff:
                copy.unlink()
        except OSError:
            pass  # removed by another crawl meanwhile, or not ours to remove


def _decompress(model_file: Path, cached: Path) -> None:
    """The model's arrays, decompressed, written to ``cached`` whole or not at all."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: crawls starting together may fill the cache at once.
    handle, temp = tempfile.mkstemp(prefix=cached.name, suffix=".part", dir=cached.parent)
    try:
        with os.fdopen(handle, "wb") as target, lzma.open(model_file) as source:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
        os.replace(temp, cached)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _identifier_from_arrays(identifier_class, cached: Path):
    try:
        arrays = mapped_arrays(cached)
    except NotMappable as exc:
        # Read as before mapping, its checksums checked: a damaged copy fails
        # there (and is written again), one laid out otherwise is kept.
        logger.debug("language model cache %s read, not mapped: %s", cached, exc)
        arrays = read_arrays(cached)
    missing = set(MODEL_ARRAYS).difference(arrays)
    if missing:
        raise ValueError(f"arrays missing: {sorted(missing)}")
    return identifier_class(
        arrays["ptc"], arrays["pc"], arrays["classes"].tolist(),
        _int_view(arrays["nextmove"]), arrays["out_feat"].tolist(),
        tk_row=_int_view(arrays["nextmove_row"]),
    )


def mapped_arrays(npz: Path) -> dict:
    """The arrays of an uncompressed .npz, as read-only views of the file mapped into memory.

    The mapping lives as long as the arrays do. The members' sizes and
    headers are checked, not their checksums: reading every byte to check
    them is what mapping spares, and the copy was written whole or not at all.
    It must only ever be replaced by a rename, as _decompress does: a copy
    cut short in place would kill the processes reading past its new end
    (SIGBUS). Raises NotMappable for any copy it cannot map.
    """
    import numpy as np
    from numpy.lib import format as npy_format

    header_readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    with npz.open("rb") as handle:
        try:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:  # a file system that cannot map files; an empty file
            raise NotMappable(str(exc)) from exc
        try:
            members = zipfile.ZipFile(handle).infolist()
        except (zipfile.BadZipFile, EOFError) as exc:
            raise NotMappable(f"not a zip file: {exc}") from exc
    arrays = {}
    for member in members:
        if member.compress_type != zipfile.ZIP_STORED or not member.filename.endswith(".npy"):
            raise NotMappable(f"{member.filename}: not a stored .npy member")
        try:
            signature, name_length, extra_length = ZIP_LOCAL_HEADER.unpack_from(mapping, member.header_offset)
            start = member.header_offset + ZIP_LOCAL_HEADER.size + name_length + extra_length
            header = io.BytesIO(mapping[start:start + min(member.file_size, NPY_HEADER_MAX_BYTES)])
            read_header = header_readers.get(npy_format.read_magic(header))
            shape, fortran_order, dtype = read_header(header) if read_header else ((), False, None)
        except (struct.error, ValueError) as exc:
            raise NotMappable(f"{member.filename}: {exc}") from exc
        if signature != ZIP_LOCAL_SIGNATURE:
            raise NotMappable(f"{member.filename}: no local header at {member.header_offset}")
        if dtype is None or fortran_order or dtype.hasobject:
            raise NotMappable(f"{member.filename}: not a plain C-ordered array in an .npy format this reader knows")
        count = int(np.prod(shape, dtype=np.int64))
        if header.tell() + count * dtype.itemsize != member.file_size:
            raise NotMappable(f"{member.filename}: {member.file_size} bytes do not hold a {dtype} array of shape {shape}")
        array = np.frombuffer(mapping, dtype=dtype, count=count, offset=start + header.tell())
        arrays[member.filename.removesuffix(".npy")] = array.reshape(shape)
    return arrays


def read_arrays(npz: Path) -> dict:
    """The arrays of an .npz, read into memory, each member's checksum checked: for a copy mapped_arrays refuses."""
    import numpy as np

    with np.load(npz, allow_pickle=False) as data:
        return {name: np.ascontiguousarray(data[name]) for name in data.files}


def _int_view(values) -> memoryview:
    """A transition table py3langid walks item by item: indexing a memoryview yields ints, as a stdlib array's does, a numpy array's not."""
    return memoryview(values).cast("B").cast(UNSIGNED_FORMATS[values.dtype.itemsize])
