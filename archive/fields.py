"""The values an article record is made of: its id, hashes, timestamps, one-line text.

Plain functions, apart from the record's model (archive.records): the
crawl's extraction workers make records' values with them and never import
pydantic, which cost their forkserver 40-50 ms of every crawl's start.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

SCHEMA = "newsarchive.article/1"
ARTICLE_ID_HEX_DIGITS = 16


def article_id(canonical_url: str) -> str:
    """Stable across runs and machines: a hash of the canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:ARTICLE_ID_HEX_DIGITS]


# C0 and C1 controls but tab and newline: no text holds them, and a terminal
# obeys them (a page's "&#27;[2J" in a title cleared the screen of `show`).
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    return CONTROL_CHARS_RE.sub("", text)


def one_line(text: str) -> str:
    """A field shown on one line (title, author, category): controls dropped, any run of whitespace one space.

    Line and paragraph separators (U+2028, U+2029, U+0085) too: they broke
    the lines of listings and of the catalog.
    """
    return " ".join(without_controls(text).split())


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_iso(moment: datetime) -> str:
    """``2021-10-26T22:06:31+00:00``: seconds precision, always UTC."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no instant; give it a timezone first")
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()
