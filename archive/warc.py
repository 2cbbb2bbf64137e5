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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.store import ArchiveStore

WARC_PREFIX = "warc/"
CDXJ_PREFIX = "index/cdxj/"
DEFAULT_MAX_WARC_BYTES = 100 * 1024 * 1024
# Records are gzipped with ISA-L (python-isal), not zlib: warcio's zlib level
# 9 cost 2 ms of CPU per 100 KB page, zlib's level 6 1 ms, ISA-L's level 2
# 0.1 ms for files 9 % larger than level 6 makes (20.4 % of the raw size
# against 18.7 % on portal pages). The output is plain gzip. Payloads that
# are compressed already (images, gzip- or br-encoded bodies) gain nothing
# from more than ISA-L's fastest level.
GZIP_LEVEL = 2
COMPRESSED_PAYLOAD_GZIP_LEVEL = 0
COMPRESSED_TYPES = ("image/", "audio/", "video/", "application/zip", "application/gzip", "application/pdf")


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


# The HTTP client has already undone the transfer coding: the payload is stored
# de-chunked, so a header claiming chunks would make readers mangle it.
HOP_BY_HOP_RENAMED = {"transfer-encoding"}


def _stored_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(f"X-Archive-Orig-{name}" if name.lower() in HOP_BY_HOP_RENAMED else name, value) for name, value in headers]


def gzip_level(content_type: str, content_encoding: str) -> int:
    """How hard to gzip a record whose payload has this type and encoding."""
    if content_encoding.strip().lower() not in ("", "identity") or content_type.lower().startswith(COMPRESSED_TYPES):
        return COMPRESSED_PAYLOAD_GZIP_LEVEL
    return GZIP_LEVEL


def gzip_member(data: bytes, level: int) -> bytes:
    """One gzip member: each record is one, so a byte range of the file opens on its own."""
    compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, isal_zlib.MAX_WBITS + 16)
    return compressor.compress(data) + compressor.flush()


def render_cdxj(lines: Iterable[CdxjLine]) -> str:
    """A CDXJ index: one line per capture, sorted as text (SURT key, then timestamp)."""
    return "".join(line + "\n" for line in sorted(line.render() for line in lines))


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
        self._builder = RecordBuilder()
        self._key: str | None = None
        self._index: list[CdxjLine] = []

    def _path(self, key: str) -> Path:
        return self.spool_dir / key.replace("/", "__")

    def _open(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._key = warc_key(self.run_id, self.started, self.sequence)
        self._handle = open(self._path(self._key), "wb")
        info = self._builder.create_warcinfo_record(self._key.rsplit("/", 1)[-1], {"software": "newsarchive", "run-id": self.run_id})
        self._write(info, GZIP_LEVEL)

    def _write(self, record, level: int) -> tuple[int, int]:
        """Append one record as a gzip member of its own; its (offset, length) in the file."""
        raw = io.BytesIO()
        WARCWriter(raw, gzip=False).write_record(record)
        member = gzip_member(raw.getvalue(), level)
        offset = self._handle.tell()
        self._handle.write(member)
        return offset, len(member)

    def capture(self, url: str, *, method: str, request_headers: Iterable[tuple[str, str]], status: int, reason: str,
                protocol: str, response_headers: Iterable[tuple[str, str]], body: bytes, fetched: datetime) -> Capture:
        """Write request, response and metadata records; return where the response record is."""
        if self._handle is None:
            self._open()
        writer = self._builder
        date = fetched.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        http_response = StatusAndHeaders(f"{status} {reason}".strip(), _stored_response_headers(response_headers),
                                         protocol=protocol or "HTTP/1.1")
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                             http_headers=http_response, warc_headers_dict={"WARC-Date": date})
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = list(request_headers)
        if parts.netloc and not any(name.lower() == "host" for name, _ in request_headers):
            request_headers.insert(0, ("Host", parts.netloc))  # the HTTP client adds it on the wire
        http_request = StatusAndHeaders(f"{method} {target} {protocol or 'HTTP/1.1'}", request_headers, is_http_request=True)
        request = writer.create_warc_record(url, "request", http_headers=http_request,
                                            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id})
        about = {"run_id": self.run_id, "fetched": date, "status": status}
        metadata = writer.create_warc_record(url, "metadata", payload=io.BytesIO(json.dumps(about).encode()),
                                             warc_content_type="application/json",
                                             warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id,
                                                                "WARC-Refers-To": response_id})
        headers = {name.lower(): value for name, value in http_response.headers}
        content_type = headers.get("content-type", "")
        offset, length = self._write(response, gzip_level(content_type, headers.get("content-encoding", "")))
        self._write(request, GZIP_LEVEL)
        self._write(metadata, GZIP_LEVEL)
        # Out of this process's buffer before the record naming the range is
        # written: a crawl killed later leaves these bytes in the spool file,
        # which the next crawl uploads (a flush; the file is fsynced at its end).
        self._handle.flush()
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
        cdxj = render_cdxj(self._index)
        self._handle = self._key = None
        self._index = []
        self.sequence += 1
        return key, path, cdxj


@dataclass
class CapturedResponse:
    url: str
    http_headers: StatusAndHeaders
    payload: bytes  # as received: content-encoding kept


def read_capture_record(store: ArchiveStore, capture) -> CapturedResponse:
    """The response record at a capture's byte range (raises ValueError when there is none)."""
    data = store.get_range(capture.warc, capture.offset, capture.length)
    if len(data) != capture.length:
        raise ValueError(f"{capture.warc} ends before {capture.offset}+{capture.length}")
    try:
        for record in ArchiveIterator(io.BytesIO(data)):
            if record.rec_type == "response":
                return CapturedResponse(record.rec_headers.get_header("WARC-Target-URI") or "", record.http_headers,
                                        record.raw_stream.read())
            break
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - warcio's ArchiveLoadFailed, zlib and EOF errors on damaged bytes
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    raise ValueError(f"no response record at {capture.warc}:{capture.offset}")


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
    return render_cdxj(lines)


def spool_file_key(path: Path) -> str:
    """The archive key a spool file stands for (spool names are keys with '/' as '__')."""
    return path.name.replace("__", "/")
