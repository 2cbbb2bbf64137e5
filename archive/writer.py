"""Writing article records: once per article, again only when it changed."""

from __future__ import annotations

import json
from typing import Any

from archive.keys import article_key, version_key
from archive.records import dump_record
from archive.store import ArchiveStore, KeyNotFound

ARCHIVED, UPDATED, UNCHANGED = "archived", "updated", "unchanged"


def _image_keys(record: dict[str, Any]) -> list[str]:
    return [image.get("key") for image in record.get("images") or []]


def same_content(stored: dict[str, Any], record: dict[str, Any]) -> bool:
    """Same text and title: the same version of the article."""
    return stored.get("content_sha256") == record["content_sha256"] and stored.get("title") == record["title"]


def is_same_article(stored: dict[str, Any], record: dict[str, Any]) -> bool:
    """Same version and the same mirrored images: nothing worth a new object."""
    return same_content(stored, record) and _image_keys(stored) == _image_keys(record)


def store_article(store: ArchiveStore, record: dict[str, Any]) -> str:
    """Write the record unless an identical one is there; say which happened.

    A record whose text or title changed becomes current and the one it
    replaces is kept under versions/ first (so a crash between the two
    writes loses nothing; the next run repeats them harmlessly). A change of
    images alone (a retried image now mirrored) updates the record in place.
    Blocking (it talks to the store): Scrapy calls it off the reactor thread.
    """
    key = article_key(record["id"])
    try:
        raw = store.get(key)
        stored = json.loads(raw)
    except KeyNotFound:
        raw, stored = None, None
    except ValueError:
        raw, stored = None, {}  # a damaged record is replaced by a good one
    if stored is not None and is_same_article(stored, record):
        return UNCHANGED
    if stored and not same_content(stored, record):
        version = int(stored.get("version", 1))
        previous = version_key(record["id"], version, stored.get("fetched", ""))
        store.put(previous, raw, "application/json; charset=utf-8")
        record = {**record, "version": version + 1, "previous_versions": [*stored.get("previous_versions", []), previous]}
    elif stored and "version" in stored:
        record = {**record, "version": stored["version"], "previous_versions": stored.get("previous_versions", [])}
    store.put(key, dump_record(record), "application/json; charset=utf-8")
    return ARCHIVED if stored is None else UPDATED
