"""Raw captures as WARC: request, response (the payload byte for byte) and
metadata records, gzipped per record, in files of bounded size under
``warc/``, each with a CDXJ index under ``index/cdxj/`` so that one capture
is found without scanning.

The writer is plain: it appends to a local spool file and hands finished
files to a callback (the crawler uploads them off its reactor thread).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.store import ArchiveStore

WARC_PREFIX = "warc/"
CDXJ_PREFIX = "index/cdxj/"
DEFAULT_MAX_WARC_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Capture:
    """Where one response lives: its WARC file's key, and the record's byte range."""

    warc: str
    offset: int
    length: int


@dataclass
class CdxjLine:
    url: str
    timestamp: str
    status: int
    mime: str
    digest: str
    offset: int
    length: int
    filename: str

    def render(self) -> str:
        import surt

        fields = {"url": self.url, "mime": self.mime, "status": str(self.status), "digest": self.digest,
                  "length": str(self.length), "offset": str(self.offset), "filename": self.filename}
        return f"{surt.surt(self.url)} {self.timestamp} {json.dumps(fields, ensure_ascii=False)}"


def warc_key(run_id: str, started: datetime, sequence: int) -> str:
    return f"{WARC_PREFIX}{started:%Y/%m/%d}/{run_id}-{sequence:05d}.warc.gz"


def cdxj_key(warc: str) -> str:
    return CDXJ_PREFIX + warc[len(WARC_PREFIX):].removesuffix(".warc.gz") + ".cdxj"


class WarcSpool:
    """Appends captures to local WARC files; a file over ``max_bytes`` is finished and a new one begun."""

    def __init__(self, spool_dir: Path, run_id: str, started: datetime, max_bytes: int = DEFAULT_MAX_WARC_BYTES) -> None:
        self.spool_dir = spool_dir
        self.run_id = run_id
        self.started = started
        self.max_bytes = max_bytes
        self.sequence = 0
        self._handle: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None
        self._key: str | None = None
        self._index: list[CdxjLine] = []

    def _path(self, key: str) -> Path:
        return self.spool_dir / key.replace("/", "__")

    def _open(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._key = warc_key(self.run_id, self.started, self.sequence)
        self._handle = open(self._path(self._key), "wb")
        self._writer = WARCWriter(self._handle, gzip=True)
        info = self._writer.create_warcinfo_record(self._key.rsplit("/", 1)[-1], {"software": "newsarchive", "run-id": self.run_id})
        self._writer.write_record(info)

    def capture(self, url: str, *, method: str, request_headers: Iterable[tuple[str, str]], status: int, reason: str,
                protocol: str, response_headers: Iterable[tuple[str, str]], body: bytes, fetched: datetime) -> Capture:
        """Write request, response and metadata records; return where the response record is."""
        if self._writer is None:
            self._open()
        writer = self._writer
        date = fetched.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        http_response = StatusAndHeaders(f"{status} {reason}".strip(), list(response_headers), protocol=protocol or "HTTP/1.1")
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=http_response, warc_headers_dict={"WARC-Date": date})
        path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        http_request = StatusAndHeaders(f"{method} /{path} {protocol or 'HTTP/1.1'}", list(request_headers), is_http_request=True)
        request = writer.create_warc_record(url, "request", http_headers=http_request,
                                            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
        metadata = writer.create_warc_record(url, "metadata", payload=io.BytesIO(json.dumps({"run_id": self.run_id}).encode()),
                                             warc_content_type="application/json",
                                             warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
        offset = self._handle.tell()
        writer.write_record(response)
        length = self._handle.tell() - offset
        writer.write_record(request)
        writer.write_record(metadata)
        content_type = dict((k.lower(), v) for k, v in http_response.headers).get("content-type", "")
        self._index.append(CdxjLine(url, date.replace("-", "").replace(":", "").replace("T", "").rstrip("Z"), status,
                                    content_type.split(";")[0].strip(), response.rec_headers.get_header("WARC-Payload-Digest") or "",
                                    offset, length, self._key))
        return Capture(self._key, offset, length)

    def should_roll(self) -> bool:
        return self._handle is not None and self._handle.tell() >= self.max_bytes

    def finish(self) -> tuple[str, Path, str] | None:
        """Close the current file: (archive key, local path, CDXJ text), or None when nothing is open."""
        if self._handle is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        key, path = self._key, self._path(self._key)
        cdxj = "".join(line.render() + "\n" for line in sorted(self._index, key=lambda c: (c.render().split(" ", 1)[0], c.timestamp)))
        self._handle = self._writer = self._key = None
        self._index = []
        self.sequence += 1
        return key, path, cdxj


def upload_warc(store: ArchiveStore, key: str, path: Path, cdxj: str) -> None:
    """The WARC first, then its index: an index never points at a missing file."""
    store.put(key, path.read_bytes(), "application/warc")
    store.put(cdxj_key(key), cdxj.encode("utf-8"), "application/x-cdxj; charset=utf-8")
    path.unlink(missing_ok=True)


def read_capture(store: ArchiveStore, capture) -> tuple[StatusAndHeaders, bytes]:
    """The HTTP headers and payload (as received, content-encoding kept) of one capture."""
    data = store.get_range(capture.warc, capture.offset, capture.length)
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response":
            return record.http_headers, record.raw_stream.read()
    raise ValueError(f"no response record at {capture.warc}:{capture.offset}")


def capture_dict(capture: Capture) -> dict:
    return asdict(capture)


def index_warc_file(path: Path, key: str) -> str:
    """CDXJ of a WARC file read back (for files a killed crawl left in its spool).

    A record cut short by the kill ends the index: everything before it is whole.
    """
    lines = []
    with path.open("rb") as handle:
        iterator = ArchiveIterator(handle)
        try:
            for record in iterator:
                if record.rec_type != "response":
                    continue
                record.raw_stream.read()
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                date = record.rec_headers.get_header("WARC-Date") or ""
                mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip() if record.http_headers else ""
                status = int(record.http_headers.get_statuscode() or 0) if record.http_headers else 0
                lines.append(CdxjLine(record.rec_headers.get_header("WARC-Target-URI"), "".join(ch for ch in date if ch.isdigit()),
                                      status, mime, record.rec_headers.get_header("WARC-Payload-Digest") or "", offset, length, key))
        except Exception:  # noqa: BLE001 - warcio raises several kinds on a truncated tail
            pass
    return "".join(line.render() + "\n" for line in lines)


def spool_file_key(path: Path) -> str:
    """The archive key a spool file stands for (spool names are keys with '/' as '__')."""
    return path.name.replace("__", "/")
