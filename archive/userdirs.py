"""Where newsarchive keeps per-user files that can be made again at any time."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "newsarchive"


def user_cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/newsarchive``, else ``~/.cache/newsarchive``; None when there is no home.

    A service account may have neither: callers then work without a cache.
    """
    if base := os.environ.get("XDG_CACHE_HOME"):
        return Path(base) / APP_DIR_NAME
    try:
        return Path.home() / ".cache" / APP_DIR_NAME
    except RuntimeError:  # no HOME and no passwd entry
        return None
