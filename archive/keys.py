"""Where things live in the archive.

Keys are built from hashes, ids and dates only, never from URL text:
S3-compatible stores reject ``..``, collapse ``//``, treat a trailing ``/``
as a folder and limit path segments to 255 bytes.
"""

from __future__ import annotations

import re
from datetime import datetime

ARTICLES_PREFIX = "articles/"
IMAGES_PREFIX = "images/"
RUNS_PREFIX = "runs/"
VERSIONS_PREFIX = "versions/"

MAX_SEGMENT_BYTES = 255
ARTICLE_ID_RE = re.compile(r"^[0-9a-f]{16}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
EXTENSION_RE = re.compile(r"^[a-z0-9]{1,5}$")
RUN_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
# No key built here holds one, and a NUL cannot be in a file name at all
# (serve's /files/images/%00 was a 500 from the directory store).
KEY_CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class BadKey(ValueError):
    """A key that no backend would store faithfully."""


def check_key(key: str) -> str:
    """Return the key if every backend stores it as-is, else raise BadKey."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise BadKey(f"bad archive key {key!r}: empty, leading or trailing '/'")
    if KEY_CONTROL_CHARS_RE.search(key):
        raise BadKey(f"bad archive key {key!r}: a control character")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise BadKey(f"bad archive key {key!r}: empty, '.' or '..' segment")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise BadKey(f"bad archive key {key!r}: a segment is over {MAX_SEGMENT_BYTES} bytes")
    return key


def article_key(article_id: str) -> str:
    """``articles/ab/abcdef0123456789.json``: two hex digits fan the ids out."""
    if not ARTICLE_ID_RE.fullmatch(article_id):
        raise BadKey(f"bad article id {article_id!r}")
    return f"{ARTICLES_PREFIX}{article_id[:2]}/{article_id}.json"


def image_key(sha256: str, extension: str) -> str:
    """``images/ab/cd/<sha256>.<ext>``: content-addressed, so stored once."""
    if not SHA256_RE.fullmatch(sha256):
        raise BadKey(f"bad image hash {sha256!r}")
    if not EXTENSION_RE.fullmatch(extension):
        extension = "bin"
    return f"{IMAGES_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"


def version_key(article_id: str, version: int, fetched: str) -> str:
    """``versions/ab/<id>/0001-20211027T060631Z.json``: a replaced record, by version and fetch time."""
    if not ARTICLE_ID_RE.fullmatch(article_id):
        raise BadKey(f"bad article id {article_id!r}")
    stamp = "".join(ch for ch in fetched if ch.isdigit())[:14]
    return f"{VERSIONS_PREFIX}{article_id[:2]}/{article_id}/{version:04d}-{stamp or 'unknown'}.json"


def run_key(run_id: str, started: datetime) -> str:
    """``runs/2021/10/27/<run id>.json``: one record per crawl, by UTC start day."""
    if not RUN_ID_RE.fullmatch(run_id):
        raise BadKey(f"bad run id {run_id!r}")
    return f"{RUNS_PREFIX}{started:%Y/%m/%d}/{run_id}.json"
