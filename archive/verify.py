"""``newsarchive verify``: the archive checked object by object.

An object the store will not give (a file it may not read, an object it
fails on) is a problem of that object, like a damaged one: verify goes on and
reports them all. A failure of the store as a whole stops it (nothing more
could be checked): out of reach (asked again after a pause or two first: a
store throttling or timing out for a few seconds damages nothing), refusing
access (credentials wrong or expired); and so does a listing that fails (what
it would list is not known).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from archive.keys import ARTICLES_PREFIX, IMAGES_PREFIX, RUNS_PREFIX, SHA256_RE, BadKey, article_key, check_key
from archive.fields import article_id, content_sha256, one_line
from archive.records import ArticleRecord, load_record, why_invalid
from archive.catalog import CATALOG_PREFIX, catalog_entries, read_whole_catalog
from archive.store import WHOLE_STORE_ERRORS, ArchiveStore, KeyNotFound, StoreError, patiently

# A BCP 47 tag as records carry it: zh, en, zh-CN, zh-Hant-TW, und.
LANGUAGE_TAG_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass
class Problem:
    key: str
    what: str
    named_by: list[str] = field(default_factory=list)  # the records naming a damaged image or capture


@dataclass
class VerifyReport:
    records: int = 0
    images: int = 0
    captures: int = 0
    problems: list[Problem] = field(default_factory=list)
    empty: bool = False  # nothing at all is stored there: a mistyped path or bucket, not an archive
    # Records the catalog does not list: ls, search and serve do not show them.
    # Not damage: a running crawl catalogs what it wrote in parts, and
    # `verify --rebuild-index` lists them all.
    unlisted: list[str] = field(default_factory=list)
    # (key, what) -> its problem: an archive with thousands of problems was
    # checked against every earlier one at each new one.
    _by_key: dict[tuple[str, str], Problem] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.empty

    def add(self, key: str, what: str, named_by: str | None = None) -> None:
        """One problem per damaged object, however many records name it."""
        problem = self._by_key.get((key, what))
        if problem is None:
            problem = self._by_key[(key, what)] = Problem(key, what)
            self.problems.append(problem)
        if named_by and named_by not in problem.named_by:
            problem.named_by.append(named_by)


def verify_archive(store: ArchiveStore) -> VerifyReport:
    """Every record parses and matches the schema; every image and capture it names exists intact."""
    # Empty (a mistyped path or bucket) by the archive's own folders: a volume's
    # lost+found, unreadable, failed a listing of everything (and listed every image).
    # Both stores list a prefix whole before the first key: articles/ is listed once.
    article_keys = patiently(lambda: list(store.list(ARTICLES_PREFIX)))
    report = VerifyReport(empty=not article_keys and patiently(lambda: next(iter(store.list(RUNS_PREFIX)), None)) is None)
    checked_images: dict[str, str | None] = {}  # key -> problem (None: fine), each image hashed once
    checked_captures: dict[tuple[str, int, int], str | None] = {}
    record_keys: set[str] = set()
    unreadable: set[str] = set()  # records no catalog can list: reported as damaged, not as unlisted
    for key in article_keys:
        if not key.endswith(".json"):
            continue
        report.records += 1
        record_keys.add(key)
        try:
            data = patiently(lambda: store.get(key))
        except KeyNotFound:
            report.add(key, "record gone since articles/ was listed")
            continue
        except StoreError as exc:
            report.add(key, _unreadable(exc))
            unreadable.add(key)
            continue
        try:
            record = load_record(data)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            report.add(key, f"record does not parse or match the schema: {why_invalid(exc)}")
            unreadable.add(key)
            continue
        try:
            expected_key = article_key(record.id)
        except BadKey:
            expected_key = None
        if expected_key != key:
            report.add(key, f"record id {record.id!r} does not belong at this key")
        for what in _field_problems(record):
            report.add(key, what)
        for image in record.images:
            if image.key not in checked_images:
                checked_images[image.key] = _check_image(store, image.key, image.sha256)
                report.images += 1
            if checked_images[image.key]:
                report.add(image.key, checked_images[image.key], key)
        capture = record.capture
        if capture is not None:
            report.captures += 1
            where = (capture.warc, capture.offset, capture.length)
            if where not in checked_captures:
                checked_captures[where] = _check_capture(store, capture, record.url)
            if checked_captures[where]:
                report.add(capture.warc, checked_captures[where], key)
    _check_catalog(store, record_keys, report, unreadable)
    return report


def _check_catalog(store: ArchiveStore, record_keys: set[str], report: VerifyReport, unreadable: set[str]) -> None:
    """Records the catalog lists that are gone (lost), and records it does not list.

    ``unreadable`` records are left out of the second: damaged already, they
    are in no catalog, rebuilt or not (`verify --rebuild-index` had been
    advised for them, which leaves them out again).

    A segment that cannot be read is the catalog's damage; the store out of
    reach or refusing, or a listing of catalog/ that fails, stops verify as
    anywhere else (they were reported as damage of the catalog).
    """

    def read(segments: list[str]) -> set[str] | None:
        try:
            return {entry.key for entry in catalog_entries(store, segments)}
        except KeyNotFound:
            raise  # merged away since listed: read_whole_catalog lists them again
        except StoreError as exc:
            report.add(CATALOG_PREFIX, f"catalog {_unreadable(exc)}")
            return None

    # The listing is read_whole_catalog's own, outside ``read``: its failure is raised.
    listed = patiently(lambda: read_whole_catalog(store, None, read))
    if listed is None:
        return
    for key in sorted(listed - record_keys):
        # Written since articles/ was listed (a crawl ended while verify read
        # the archive, which takes minutes): there now, so not lost.
        try:
            if not patiently(lambda: store.exists(key)):
                report.add(key, "record missing: the catalog lists it")
        except StoreError as exc:
            report.add(key, _unreadable(exc))
    report.unlisted = sorted(record_keys - listed - unreadable)


def _unreadable(exc: StoreError) -> str:
    """The problem of one object the store failed to give; a failure of the store as a whole is raised.

    Out of reach still after ``patiently``'s pauses, or refusing access
    (credentials expired mid-run): every object after it would fail alike,
    and none of them is damaged.
    """
    if isinstance(exc, WHOLE_STORE_ERRORS):
        raise exc
    return f"unreadable: {one_line(str(exc))}"


def _field_problems(record: ArticleRecord) -> list[str]:
    """Fields that contradict what they are derived from (an edit by hand, a broken writer)."""
    problems = []
    if record.id != article_id(record.canonical_url):
        problems.append(f"id {record.id!r} is not derived from canonical_url {record.canonical_url!r}")
    if record.content_sha256 != content_sha256(record.text):
        problems.append("content_sha256 is not the hash of text")
    if not LANGUAGE_TAG_RE.fullmatch(record.language):
        problems.append(f"language {record.language!r} is not a BCP 47 tag")
    return problems


def _check_image(store: ArchiveStore, key: str, sha256: str) -> str | None:
    if not key.startswith(IMAGES_PREFIX):
        return f"image key outside {IMAGES_PREFIX}"
    try:
        data = patiently(lambda: store.get(check_key(key)))
    except KeyNotFound:
        return "image missing"
    except BadKey as exc:
        return str(exc)
    except StoreError as exc:
        return _unreadable(exc)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        return f"image damaged: sha256 {actual}, record says {sha256}"
    stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
    if SHA256_RE.fullmatch(stem) and stem != sha256:
        return f"image key names sha256 {stem}, record says {sha256}"
    return None


def _check_capture(store: ArchiveStore, capture, url: str) -> str | None:
    from archive.warc import WARC_PREFIX, read_capture_record

    if not capture.warc.startswith(WARC_PREFIX):
        return f"capture outside {WARC_PREFIX}"
    try:
        captured = patiently(lambda: read_capture_record(store, capture))
    except KeyNotFound:
        return "WARC file missing"
    except (BadKey, ValueError) as exc:
        return f"WARC record unreadable at {capture.offset}+{capture.length}: {exc}"
    except StoreError as exc:
        return _unreadable(exc)
    if captured.url != url:
        return f"WARC record at {capture.offset} is the response for {captured.url}, not {url}"
    return None


def report_json(report: VerifyReport) -> str:
    return json.dumps(
        {"ok": report.ok, "empty": report.empty, "records": report.records, "images": report.images, "captures": report.captures,
         "problems": [{"key": p.key, "what": p.what, "named_by": p.named_by} for p in report.problems],
         "unlisted": report.unlisted},
        ensure_ascii=False, indent=1,
    )
