"""The article record: the contract's JSON object, one per article."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archive.fields import SCHEMA

# Validators are built at first use, not at import: a crawl imports this
# module to write records (dump_record), never to validate one, and building
# the three models' validators cost it 10-25 ms of every start.
RECORD_MODEL_CONFIG = ConfigDict(extra="forbid", defer_build=True)


class ImageRef(BaseModel):
    model_config = RECORD_MODEL_CONFIG

    url: str
    key: str
    sha256: str
    content_type: str
    bytes: int
    width: int | None = None
    height: int | None = None
    caption: str | None = None  # beyond the contract's fields: the image's caption, when it has one


class CaptureRef(BaseModel):
    """Where the page's raw capture is: a byte range of a WARC file under warc/."""

    model_config = RECORD_MODEL_CONFIG

    warc: str
    offset: int
    length: int


class ArticleRecord(BaseModel):
    model_config = RECORD_MODEL_CONFIG

    schema_: str = Field(SCHEMA, alias="schema")
    id: str
    source: str
    url: str
    canonical_url: str
    title: str
    authors: list[str]
    published: str | None
    fetched: str
    language: str
    categories: list[str]
    text: str
    html: str
    images: list[ImageRef]
    content_sha256: str
    capture: CaptureRef | None = None  # beyond the contract's fields: the raw capture in WARC
    version: int | None = None  # 2, 3, ... once the article changed; absent for the first version
    previous_versions: list[str] | None = None  # keys under versions/ of the records it replaced, oldest first

    @field_validator("schema_")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value != SCHEMA:
            raise ValueError(f"unknown schema {value!r}")
        return value

    @field_validator("published", "fetched")
    @classmethod
    def _utc_instant(cls, value: str | None) -> str | None:
        if value is None:
            return value
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() is None or moment.utcoffset().total_seconds() != 0:
            raise ValueError(f"{value!r} is not a UTC instant with offset")
        return value

    def to_json(self) -> bytes:
        data = self.model_dump(by_alias=True)
        for optional in ("capture", "version", "previous_versions"):
            if data.get(optional) is None:
                data.pop(optional, None)  # optional: absent rather than null
        for image in data["images"]:
            if image.get("caption") is None:
                image.pop("caption", None)
        return dump_record(data)


def dump_record(record: dict[str, Any]) -> bytes:
    """UTF-8 JSON with Chinese kept readable, stable key order for diffs."""
    return json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def load_record(data: bytes) -> ArticleRecord:
    """Parse and validate a stored record (raises pydantic.ValidationError)."""
    return ArticleRecord.model_validate_json(data)


def why_invalid(exc: Exception) -> str:
    """What is wrong with a record load_record refused, on one line: its first error's field and message."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "record"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first.get('msg', 'invalid')}{more}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
