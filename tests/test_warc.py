"""Raw capture: the WARC files a crawl writes, read back with warcio as any archivist would.

The fixture site is crawled once per backend with a small WARC size limit,
so the captures roll over into several files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
from collections import defaultdict

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc import CDXJ_PREFIX, WARC_PREFIX, cdxj_key
from tests.archive_helpers import crawled_archive

WARC_MAX_BYTES = 32 * 1024


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def archived(request, site, tmp_path_factory):
    yield from crawled_archive(request.param, site, tmp_path_factory, request, warc_max_bytes=WARC_MAX_BYTES)


@pytest.fixture(scope="module")
def warc_files(archived) -> dict[str, bytes]:
    files = {key: archived.store.get(key) for key in archived.store.list(WARC_PREFIX)}
    assert files, "the crawl wrote WARC files"
    return files


def read_records(data: bytes) -> list[dict]:
    """Every record of a WARC file: type, headers, payload, offset and length."""
    records = []
    iterator = ArchiveIterator(io.BytesIO(data))
    for record in iterator:
        payload = record.raw_stream.read() if record.rec_type != "request" else b""
        records.append({
            "type": record.rec_type, "headers": dict(record.rec_headers.headers), "payload": payload,
            "url": record.rec_headers.get_header("WARC-Target-URI"), "id": record.rec_headers.get_header("WARC-Record-ID"),
            "http": record.http_headers, "offset": iterator.get_record_offset(), "length": iterator.get_record_length(),
        })
    return records


@pytest.fixture(scope="module")
def warc_records(warc_files) -> dict[str, list[dict]]:
    return {key: read_records(data) for key, data in warc_files.items()}


def test_files_are_gzipped_per_record_and_open_in_warcio(warc_files, warc_records, archived):
    for key, data in warc_files.items():
        assert key.endswith(".warc.gz") and data[:2] == b"\x1f\x8b"
        records = warc_records[key]
        assert records[0]["type"] == "warcinfo"
        info = records[0]["payload"].decode("utf-8")
        assert f"run-id: {archived.run['run_id']}" in info
        # Gzipped per record: each record's byte range is a gzip member of its own.
        for record in records:
            assert data[record["offset"]: record["offset"] + 2] == b"\x1f\x8b"
        assert {r["type"] for r in records[1:]} <= {"response", "request", "metadata"}


def test_payloads_compressed_already_are_gzipped_lightly(warc_files, warc_records):
    # The gzip header's XFL byte says how hard the compressor worked: 4 =
    # fastest (ISA-L's level 0), 0 = ISA-L's levels 1-3, 2 = zlib's level 9
    # (warcio's own).
    levels = defaultdict(set)
    for key, data in warc_files.items():
        for record in warc_records[key]:
            if record["type"] == "response":
                mime = (record["http"].get_header("Content-Type") or "").split(";")[0]
                levels[mime.split("/")[0]].add(data[record["offset"] + 8])
    assert levels["image"] == {4}, dict(levels)
    assert levels["text"] == {0}, dict(levels)


def test_captures_roll_into_files_of_bounded_size(warc_files, warc_records, archived):
    assert len(warc_files) >= 3, f"{WARC_MAX_BYTES} bytes per file splits this crawl: {sorted(warc_files)}"
    names = sorted(warc_files)
    run_id = archived.run["run_id"]
    assert names == [f"{names[0].rsplit('/', 1)[0]}/{run_id}-{n:05d}.warc.gz" for n in range(len(names))]
    for key, records in warc_records.items():
        # A file is closed once it reaches the limit: no capture starts past it.
        starts = [r["offset"] for r in records if r["type"] == "response"]
        assert starts and max(starts) < WARC_MAX_BYTES, key


def test_article_payloads_are_byte_for_byte_what_the_site_served(archived):
    from archive.warc import read_capture_record
    from archive.records import CaptureRef

    for record in archived.records.values():
        captured = read_capture_record(archived.store, CaptureRef(**record["capture"]))
        assert captured.url == record["url"], "the capture is the response for the record's own URL"
        assert captured.http_headers.get_statuscode() == "200"
        with urllib.request.urlopen(record["url"], timeout=10) as response:
            served = response.read()
            encoding = response.headers.get("Content-Encoding")
        assert captured.http_headers.get_header("Content-Encoding") == encoding
        assert captured.payload == served, record["url"]


def test_every_response_has_its_request_and_metadata(warc_records, archived):
    article_urls = {r["url"] for r in archived.records.values()}
    seen_articles = set()
    for key, records in warc_records.items():
        responses = {r["id"]: r for r in records if r["type"] == "response"}
        requests = {r["headers"]["WARC-Concurrent-To"]: r for r in records if r["type"] == "request"}
        metadata = {r["headers"]["WARC-Concurrent-To"]: r for r in records if r["type"] == "metadata"}
        assert set(requests) == set(responses) == set(metadata), key
        for response_id, response in responses.items():
            request = requests[response_id]
            assert request["url"] == response["url"]
            # warcio splits "GET /path?query HTTP/1.1" into protocol (the method) and the rest.
            path = response["url"].split("/", 3)[3]
            assert (request["http"].protocol, request["http"].statusline) == ("GET", f"/{path} HTTP/1.1")
            assert request["http"].get_header("Host") == response["url"].split("/")[2]
            about = json.loads(metadata[response_id]["payload"])
            assert about["run_id"] == archived.run["run_id"]
            assert metadata[response_id]["url"] == response["url"]
            # WARC-Payload-Digest is the payload's sha1 as stored.
            digest = "sha1:" + base64.b32encode(hashlib.sha1(response["payload"]).digest()).decode()
            assert response["headers"]["WARC-Payload-Digest"] == digest
            seen_articles |= {response["url"]} & article_urls
    assert seen_articles == article_urls


def test_mirrored_images_are_captured_too(warc_records, archived):
    payload_hashes = {hashlib.sha256(r["payload"]).hexdigest() for records in warc_records.values() for r in records
                      if r["type"] == "response"}
    for record in archived.records.values():
        for image in record["images"]:
            assert image["sha256"] in payload_hashes, image["url"]


def test_each_record_capture_points_at_its_response(warc_records, archived):
    for record in archived.records.values():
        capture = record["capture"]
        at = [r for r in warc_records[capture["warc"]] if r["offset"] == capture["offset"]]
        assert len(at) == 1, f"{record['id']}: no record starts at {capture}"
        assert at[0]["type"] == "response" and at[0]["url"] == record["url"]
        assert at[0]["length"] == capture["length"]


def cdxj_lines(archived) -> dict[str, list[tuple[str, str, dict]]]:
    lines = defaultdict(list)
    for key in archived.store.list(CDXJ_PREFIX):
        text = archived.store.get(key).decode("utf-8")
        for line in text.splitlines():
            surt, timestamp, fields = line.split(" ", 2)
            lines[key].append((surt, timestamp, json.loads(fields)))
    return lines


def test_cdxj_index_finds_every_capture(warc_records, archived):
    lines = cdxj_lines(archived)
    assert set(lines) == {cdxj_key(key) for key in warc_records}, "one index per WARC file"
    for key, entries in lines.items():
        assert [(s, t) for s, t, _ in entries] == sorted((s, t) for s, t, _ in entries), f"{key} is sorted"
    indexed = {(f["filename"], int(f["offset"])): f for entries in lines.values() for _, _, f in entries}
    responses = {(key, r["offset"]) for key, records in warc_records.items() for r in records if r["type"] == "response"}
    assert set(indexed) == responses, "every response indexed, nothing else"
    for (filename, offset), fields in indexed.items():
        data = archived.store.get_range(filename, offset, int(fields["length"]))
        record = next(iter(ArchiveIterator(io.BytesIO(data))))
        assert record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == fields["digest"]
    for record in archived.records.values():
        capture = record["capture"]
        fields = indexed[(capture["warc"], capture["offset"])]
        assert fields["url"] == record["url"] and int(fields["length"]) == capture["length"]


def test_verify_reports_a_missing_warc_file(archived):
    by_file = defaultdict(list)
    for record in archived.records.values():
        by_file[record["capture"]["warc"]].append(archived.key(record))
    key, naming = max(by_file.items(), key=lambda item: len(item[1]))
    saved = archived.store.get(key)
    try:
        archived.store.delete(key)
        result = archived.cli("verify", "--json")
        report = json.loads(result.stdout)
        assert result.returncode == 1
        assert [p["key"] for p in report["problems"]] == [key]
        assert sorted(report["problems"][0]["named_by"]) == sorted(naming)
        # Another file's bytes at the right name: the byte ranges no longer hold the responses.
        other = next(k for k in sorted(by_file) if k != key) if len(by_file) > 1 else None
        if other:
            archived.store.put(key, archived.store.get(other))
            result = archived.cli("verify", "--json")
            assert result.returncode == 1
            assert {p["key"] for p in json.loads(result.stdout)["problems"]} == {key}
    finally:
        archived.store.put(key, saved)
    assert archived.cli("verify").returncode == 0


def test_a_crawl_uploads_a_dead_crawls_spool_but_not_a_running_ones(site, tmp_path):
    from datetime import datetime, timezone

    from archive.runs import run_started
    from archive.warc import WarcSpool
    from crawler.capture import SPOOL_SUBDIR
    from crawler.locks import SpoolLock
    from tests.crawl_helpers import archive_store, crawl, site_sources, write_config

    config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"), site_sources(site)[:1])
    spool_root = tmp_path / "state" / SPOOL_SUBDIR
    files = {}
    for run_id in ("20260101T000000Z-dead00", "20260101T000000Z-live00"):
        spool = WarcSpool(spool_root / run_id, run_id, run_started(run_id))
        spool.capture(f"https://news.example/{run_id}.html", method="GET", request_headers=[], status=200, reason="OK",
                      protocol="HTTP/1.1", response_headers=[("Content-Type", "text/html")], body=b"<p>x</p>",
                      fetched=datetime.now(timezone.utc))
        key, path, _cdxj = spool.finish()
        files[run_id] = (key, path)
    # The daemon runs crawls side by side: one of them is still writing its spool.
    with SpoolLock(spool_root / "20260101T000000Z-live00"):
        crawl(config)
        store = archive_store(str(tmp_path / "archive"))
        dead_key, dead_path = files["20260101T000000Z-dead00"]
        assert store.exists(dead_key) and store.exists(cdxj_key(dead_key))
        assert not dead_path.parent.exists() and not (spool_root / "20260101T000000Z-dead00.lock").exists()
        live_key, live_path = files["20260101T000000Z-live00"]
        assert live_path.exists(), "a running crawl's WARC file is left where it is"
        assert not store.exists(live_key)
    # That crawl dies without finishing: the next crawl picks its file up.
    crawl(config)
    assert store.exists(live_key) and not live_path.parent.exists()
    assert sorted(p.name for p in spool_root.iterdir()) == [], "every crawl removed its own spool directory and lock"


def test_a_capture_is_on_disk_before_its_record_can_name_it(tmp_path):
    # A crawl killed after an article's record was written must not leave that
    # record pointing past the end of its WARC file: each capture leaves the
    # process's buffer before capture() returns where it is.
    import gzip
    from datetime import datetime, timezone

    from archive.warc import WarcSpool

    spool = WarcSpool(tmp_path, "20260101T000000Z-abcdef", datetime(2026, 1, 1, tzinfo=timezone.utc))
    capture = spool.capture("https://example.com/a.html", method="GET", request_headers=[("Accept", "text/html")],
                            status=200, reason="OK", protocol="HTTP/1.1",
                            response_headers=[("Content-Type", "text/html; charset=utf-8")],
                            body="<p>短文</p>".encode("utf-8"), fetched=datetime.now(timezone.utc))
    (path,) = tmp_path.iterdir()
    on_disk = path.read_bytes()  # what another process (the next crawl) would find now
    member = on_disk[capture.offset: capture.offset + capture.length]
    assert len(member) == capture.length
    assert b"WARC-Type: response" in gzip.decompress(member)


def test_a_finished_warc_file_is_handed_to_the_store_as_a_file(tmp_path):
    # Streamed from its file (put_file): a file of warc_max_bytes was read into memory whole.
    from datetime import datetime, timezone
    from pathlib import Path

    from archive.warc import WarcSpool
    from crawler.capture import WarcCaptureMiddleware

    written = []

    class Writer:
        def write(self, op, key, data, content_type="application/octet-stream"):
            written.append((op, key, data if isinstance(data, Path) else bytes(data), content_type))
            assert not isinstance(data, Path) or data.exists(), "the file is there while it is written"
            return "stored"

    spool = WarcSpool(tmp_path / "spool", "20260101T000000Z-abcdef", datetime(2026, 1, 1, tzinfo=timezone.utc))
    middleware = WarcCaptureMiddleware(Writer(), spool, tmp_path)
    path = tmp_path / "spool" / "file.warc.gz"
    path.parent.mkdir()
    path.write_bytes(b"warc bytes")
    middleware._upload_file("warc/2026/01/01/file.warc.gz", path, "index line\n")
    assert [(op, key, content_type) for op, key, _data, content_type in written] == [
        ("put", "warc/2026/01/01/file.warc.gz", "application/warc"),
        ("put", "index/cdxj/2026/01/01/file.cdxj", "application/x-cdxj; charset=utf-8"),
    ]
    assert written[0][2] == path and written[1][2] == b"index line\n"
    assert not path.exists(), "removed once stored"
