"""Writing article records: once per article, again only when it changed."""

from __future__ import annotations

import json
from typing import Any

from archive.keys import article_key
from archive.records import dump_record
from archive.store import ArchiveStore, KeyNotFound

ARCHIVED, UPDATED, UNCHANGED = "archived", "updated", "unchanged"


def _image_keys(record: dict[str, Any]) -> list[str]:
    return [image.get("key") for image in record.get("images") or []]


def is_same_article(stored: dict[str, Any], record: dict[str, Any]) -> bool:
    """Same text, title and mirrored images: nothing worth a new object."""
    return (
        stored.get("content_sha256") == record["content_sha256"]
        and stored.get("title") == record["title"]
        and _image_keys(stored) == _image_keys(record)
    )


def store_article(store: ArchiveStore, record: dict[str, Any]) -> str:
    """Write the record unless an identical one is there; say which happened.

    Blocking (it talks to the store): Scrapy calls it off the reactor thread.
    """
    key = article_key(record["id"])
    try:
        stored = json.loads(store.get(key))
    except KeyNotFound:
        stored = None
    except ValueError:
        stored = {}  # a damaged record is replaced by a good one
    if stored is not None and is_same_article(stored, record):
        return UNCHANGED
    store.put(key, dump_record(record), "application/json; charset=utf-8")
    return ARCHIVED if stored is None else UPDATED
