"""py3langid's model, loaded from a decompressed copy in the user's cache.

py3langid ships its model xz-compressed (4.5 MB, 68 MB of arrays), and
decompressing it took 0.25 s of CPU at the start of every crawl: the
extraction workers cannot start before their forkserver has loaded it. The
arrays are kept decompressed in the cache, where reading them takes 0.03 s.
The cache is only ever a copy: when it cannot be written or read, the model
is loaded from py3langid's own file as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import lzma
import os
import shutil
import tempfile
import time
import zipfile
from array import array
from pathlib import Path

from archive.userdirs import user_cache_dir

logger = logging.getLogger(__name__)

# The arrays py3langid's model file holds (modelio.load_model reads the same).
MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# array typecodes by item size, for the transition tables py3langid walks as stdlib arrays.
ARRAY_TYPECODES = {2: "H", 4: "I", 8: "L"}
COPY_CHUNK_BYTES = 1 << 20
CACHED_MODEL_GLOB = "py3langid-model-*.npz"
# A copy no crawl has read for this long (another py3langid's) is removed when a new one is written.
UNUSED_COPY_DAYS = 30
# What writing or reading the copy can raise (a damaged copy: numpy's and zipfile's errors).
CACHE_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, lzma.LZMAError, zipfile.BadZipFile)


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
    import numpy as np

    with np.load(cached, allow_pickle=False) as data:
        missing = set(MODEL_ARRAYS).difference(data.files)
        if missing:
            raise ValueError(f"arrays missing: {sorted(missing)}")
        return identifier_class(
            np.asarray(data["ptc"]), np.asarray(data["pc"]), data["classes"].tolist(),
            _stdlib_array(data["nextmove"]), data["out_feat"].tolist(),
            tk_row=_stdlib_array(data["nextmove_row"]),
        )


def _stdlib_array(values) -> array:
    import numpy as np

    out = array(ARRAY_TYPECODES[values.dtype.itemsize])
    out.frombytes(memoryview(np.ascontiguousarray(values)).cast("B"))  # one copy, not two
    return out
