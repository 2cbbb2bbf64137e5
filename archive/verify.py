"""``newsarchive verify``: the archive checked object by object."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from archive.keys import ARTICLES_PREFIX, article_key
from archive.records import load_record
from archive.store import ArchiveStore, KeyNotFound


@dataclass
class Problem:
    key: str
    what: str


@dataclass
class VerifyReport:
    records: int = 0
    images: int = 0
    captures: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(store: ArchiveStore) -> VerifyReport:
    """Every record parses and matches the schema; every image and capture it names exists intact."""
    report = VerifyReport()
    checked_images: dict[str, str | None] = {}  # key -> problem (None: fine), each image hashed once
    for key in store.list(ARTICLES_PREFIX):
        if not key.endswith(".json"):
            continue
        report.records += 1
        try:
            record = load_record(store.get(key))
        except (ValidationError, ValueError) as exc:
            report.problems.append(Problem(key, f"record does not parse or match the schema: {str(exc).splitlines()[0]}"))
            continue
        if article_key(record.id) != key:
            report.problems.append(Problem(key, f"record id {record.id} belongs at {article_key(record.id)}"))
        for image in record.images:
            if image.key not in checked_images:
                checked_images[image.key] = _check_image(store, image.key, image.sha256)
                report.images += 1
            if checked_images[image.key]:
                report.problems.append(Problem(image.key, f"{checked_images[image.key]} (named by {key})"))
        capture = getattr(record, "capture", None)
        if capture is not None:
            report.captures += 1
            if problem := _check_capture(store, capture):
                report.problems.append(Problem(capture.warc, f"{problem} (named by {key})"))
    return report


def _check_image(store: ArchiveStore, key: str, sha256: str) -> str | None:
    try:
        data = store.get(key)
    except KeyNotFound:
        return "image missing"
    actual = hashlib.sha256(data).hexdigest()
    return None if actual == sha256 else f"image damaged: sha256 {actual}, record says {sha256}"


def _check_capture(store: ArchiveStore, capture) -> str | None:
    from archive.warc import read_capture

    try:
        read_capture(store, capture)
    except KeyNotFound:
        return "WARC file missing"
    except ValueError as exc:
        return f"WARC record unreadable: {exc}"
    return None


def report_json(report: VerifyReport) -> str:
    return json.dumps(
        {"ok": report.ok, "records": report.records, "images": report.images, "captures": report.captures,
         "problems": [{"key": p.key, "what": p.what} for p in report.problems]},
        ensure_ascii=False, indent=1,
    )
