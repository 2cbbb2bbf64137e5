"""The archivists' commands (`ls`, `show`, `search`, `export`, `verify`) through the real CLI.

The fixture site is crawled once per backend (a directory, an S3 bucket);
every command then runs as an admin would run it, in a process of its own.
The tests that damage the archive put it back as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import lxml.html
import pytest
import yaml

from archive.catalog import CATALOG_PREFIX
from archive.warc import WARC_PREFIX
from tests.archive_helpers import crawled_archive, parse_ls
from tests.conftest import run_cli

# The seed ZAKER post's front matter, key by key (/work/shared/seeds/000_*.txt).
SEED_FRONT_MATTER_KEYS = ["title", "categories", "headimg", "author", "comments", "date", "thumbnail"]
RFC2822_GMT = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")
HIT_LINE = re.compile(r"^\S.*\b([0-9a-f]{16})\b")


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def archived(request, site, tmp_path_factory):
    yield from crawled_archive(request.param, site, tmp_path_factory, request)


def newest_first(records) -> list[str]:
    instant = lambda r: datetime.fromisoformat(r["published"] or r["fetched"])  # noqa: E731
    return [r["id"] for r in sorted(records, key=lambda r: (instant(r), r["id"]), reverse=True)]


def ls_ids(archived, *args: str) -> list[str]:
    return [row[2] for row in parse_ls(archived.ok("ls", *args))]


# --- ls ----------------------------------------------------------------------


def test_ls_lists_every_article_newest_first(archived):
    rows = parse_ls(archived.ok("ls"))
    records = archived.by_id
    assert [row[2] for row in rows] == newest_first(records.values())
    for date, source, article_id, title in rows:
        record = records[article_id]
        assert (source, title) == (record["source"], record["title"])
        assert date == record["published"][:16].replace("T", " ")


def test_ls_filters_by_source(archived):
    sources = {r["source"] for r in archived.records.values()}
    assert len(sources) > 1, "the fixture crawl fills several sources"
    for source in sorted(sources):
        expected = newest_first(r for r in archived.records.values() if r["source"] == source)
        assert ls_ids(archived, "--source", source) == expected, source
    assert ls_ids(archived, "--source", "no-such-source") == []


def test_ls_filters_by_since(archived):
    records = list(archived.records.values())
    ordered = newest_first(records)
    pivot = archived.by_id[ordered[len(ordered) // 2]]
    moment = datetime.fromisoformat(pivot["published"])
    expected = [i for i in ordered if datetime.fromisoformat(archived.by_id[i]["published"]) >= moment]
    assert 0 < len(expected) < len(ordered)
    # The same instant, in UTC and as a Beijing wall-clock time with its offset.
    assert ls_ids(archived, "--since", pivot["published"]) == expected
    beijing = moment.astimezone(timezone(timedelta(hours=8))).isoformat()
    assert ls_ids(archived, "--since", beijing) == expected
    # One second later the pivot itself is out.
    later = moment + timedelta(seconds=1)
    after = [i for i in ordered if datetime.fromisoformat(archived.by_id[i]["published"]) >= later]
    assert pivot["id"] not in after
    assert ls_ids(archived, "--since", later.isoformat()) == after
    # A plain date: from midnight UTC on.
    day = pivot["published"][:10]
    by_day = [i for i in ordered if archived.by_id[i]["published"][:10] >= day]
    assert ls_ids(archived, "--since", day) == by_day
    # Both filters at once.
    source = pivot["source"]
    both = [i for i in expected if archived.by_id[i]["source"] == source]
    assert ls_ids(archived, "--source", source, "--since", pivot["published"]) == both
    bad = archived.cli("ls", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


# --- show --------------------------------------------------------------------


def test_show_prints_the_article_readably(archived):
    for record in archived.records.values():
        stdout = archived.ok("show", record["id"])
        lines = stdout.splitlines()
        assert lines[0] == record["title"]
        assert record["source"] in lines[1] and record["published"] in lines[1]
        assert record["url"] in stdout
        assert record["text"] in stdout, "the body whole, not re-wrapped"
        for paragraph in archived.expected(record).paragraphs:
            assert paragraph in stdout
        for image in record["images"]:
            assert image["key"] in stdout


def test_show_json_is_the_stored_record(archived):
    for record in archived.records.values():
        stdout = archived.ok("show", "--json", record["id"])
        stored = archived.store.get(archived.key(record))
        assert stdout.encode("utf-8") == stored
        assert json.loads(stdout) == record


def test_show_takes_an_id_in_capitals(archived):
    record = next(iter(archived.records.values()))
    assert archived.ok("show", "--json", record["id"].upper()).encode("utf-8") == archived.store.get(archived.key(record))


def test_show_ls_and_search_print_no_control_characters(archived):
    # An archive made before control characters were dropped at extraction.
    store = archived.store
    record = sorted(archived.records.values(), key=lambda r: r["id"])[0]
    key = archived.key(record)
    saved = store.get(key)
    try:
        store.put(key, json.dumps({**record, "title": "\x1b[2J\x1b[H" + record["title"], "text": record["text"] + "\x1b]8;;x\x07"},
                                  ensure_ascii=False).encode("utf-8"))
        shown = archived.ok("show", record["id"])
        assert "\x1b" not in shown and "\x07" not in shown and record["title"] in shown
    finally:
        store.put(key, saved)


def test_ls_limit(archived):
    assert ls_ids(archived, "--limit", "2") == newest_first(archived.records.values())[:2]
    negative = archived.cli("ls", "--limit", "-1")
    assert negative.returncode == 2 and "--limit" in negative.stderr


def test_show_unknown_id_fails(archived):
    for bad in ("0123456789abcdef", "../../etc/passwd"):
        result = archived.cli("show", bad)
        assert result.returncode == 1 and not result.stdout


# --- search ------------------------------------------------------------------


def search_ids(archived, text: str) -> list[str]:
    result = archived.cli("search", text)
    assert result.returncode == 0, f"search {text!r}: {result.returncode}\n{result.stdout}\n{result.stderr[-2000:]}"
    return [m.group(1) for line in result.stdout.splitlines() if (m := HIT_LINE.match(line))]


def containing(archived, text: str) -> set[str]:
    needle = text.casefold()
    return {r["id"] for r in archived.records.values() if needle in (r["title"] + "\n" + r["text"]).casefold()}


def a_chinese_phrase(archived) -> str:
    """Ten characters from the middle of the longest paragraph of a Chinese article."""
    zh = [archived.expected(r) for r in archived.records.values() if r["language"] == "zh"]
    paragraph = max((p for a in zh for p in a.paragraphs), key=len)
    middle = len(paragraph) // 2
    return paragraph[middle - 5: middle + 5]


@pytest.mark.parametrize("query", ["疫情", "PHRASE", "wetlands", "Port Congestion"])
def test_search_finds_titles_and_bodies(archived, query):
    if query == "PHRASE":
        query = a_chinese_phrase(archived)
    expected = containing(archived, query)
    assert expected, f"the fixture has {query!r} somewhere"
    hits = search_ids(archived, query)
    assert len(hits) == len(set(hits))
    assert set(hits) == expected, query
    if query == "疫情":
        assert len(expected) < len(archived.records), "a word some articles lack"


def test_search_miss_exits_1(archived):
    result = archived.cli("search", "量子纠缠计算机")
    assert result.returncode == 1
    assert not HIT_LINE.search(result.stdout)


@pytest.mark.parametrize("command", ["ls", "search"])
def test_a_listing_whose_reader_stopped_ends_quietly_with_exit_0(archived, command):
    # `search 的 | head -1` exited 1, `search`'s "no article matches", though
    # articles matched: its reader had only stopped reading. Here the reader is gone before the first line.
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    args = ["ls"] if command == "ls" else ["search", a_chinese_phrase(archived)]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "crawler", *args, "--config", str(archived.config)], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **archived.env}, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")


# --- export ------------------------------------------------------------------


def test_export_jsonl(archived, tmp_path):
    out = tmp_path / "jsonl"
    archived.ok("export", "--format", "jsonl", "--output", str(out))
    files = list(out.iterdir())
    assert len(files) == 1
    lines = files[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(archived.records)
    exported = [json.loads(line) for line in lines]
    assert {r["canonical_url"]: r for r in exported} == archived.records
    assert [r["id"] for r in exported] == newest_first(archived.records.values())


def front_matter(post: str) -> tuple[str, str]:
    assert post.startswith("---\n"), post[:80]
    head, sep, body = post[4:].partition("\n---\n")
    assert sep, "front matter closed by ---"
    return head, body


def test_export_hexo_matches_the_seed_shape(archived, tmp_path):
    out = tmp_path / "hexo"
    archived.ok("export", "--format", "hexo", "--output", str(out))
    posts = {p.stem: p for p in (out / "_posts").glob("*.md")}
    assert set(posts) == set(archived.by_id)
    configured = {s["id"]: s["categories"] for s in yaml.safe_load(archived.config.read_text(encoding="utf-8"))["sources"]}
    for article_id, path in posts.items():
        record = archived.by_id[article_id]
        head, body = front_matter(path.read_text(encoding="utf-8"))
        keys = [line.split(":", 1)[0] for line in head.splitlines() if not line.startswith(" ")]
        expected_keys = [k for k in SEED_FRONT_MATTER_KEYS if record["images"] or k not in ("headimg", "thumbnail")]
        assert keys == [*expected_keys, "disableNunjucks"], article_id
        meta = yaml.safe_load(head)
        assert meta["disableNunjucks"] is True, "Hexo must not run a crawled page's {{ }} as a template"
        assert meta["title"] == record["title"]
        assert meta["comments"] is False
        assert meta["categories"][: len(configured[record["source"]])] == configured[record["source"]]
        assert set(record["categories"]) <= set(meta["categories"])
        assert meta["author"] == (", ".join(record["authors"]) or record["source"])
        date_line = next(line for line in head.splitlines() if line.startswith("date: "))
        assert RFC2822_GMT.match(date_line[len("date: "):]), date_line
        assert parsedate_to_datetime(meta["date"]) == datetime.fromisoformat(record["published"])
        if record["images"]:
            first = record["images"][0]
            assert meta["headimg"] == meta["thumbnail"]
            # From the site's root: Hexo serves a post at its permalink, and source/images/ at /images/.
            assert meta["headimg"].startswith("/images/"), meta["headimg"]
            copy = (out / meta["headimg"][1:]).resolve()
            assert copy.is_relative_to(out.resolve())
            assert hashlib.sha256(copy.read_bytes()).hexdigest() == first["sha256"]
        # The body: the record's HTML, every image a root path to a copy in the export.
        fragment = lxml.html.fragment_fromstring(body.strip(), create_parent="div")
        hashes = {i["sha256"] for i in record["images"]}
        shown = set()
        for img in fragment.iter("img"):
            src = img.get("src")
            assert src.startswith("/images/"), (article_id, src)
            digest = hashlib.sha256((out / src[1:]).read_bytes()).hexdigest()
            assert digest in hashes, (article_id, src)
            shown.add(digest)
        assert shown == hashes, "every mirrored image appears in the body"
        assert archived.expected(record).paragraphs[0] in fragment.text_content()
    for exported in out.rglob("*"):
        if exported.suffix in (".md", ".html", ".json", ".yml", ".yaml"):
            assert "cors" not in exported.read_text(encoding="utf-8").lower(), exported


def test_export_hexo_again_repairs_a_damaged_image_copy(archived, tmp_path):
    out = tmp_path / "hexo"
    archived.ok("export", "--format", "hexo", "--output", str(out))
    image = next(i for r in sorted(archived.records.values(), key=lambda r: r["id"]) for i in r["images"])
    copy = out / image["key"]
    copy.write_bytes(b"")  # an export killed mid-write
    archived.ok("export", "--format", "hexo", "--output", str(out))
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == image["sha256"]
    assert not list(out.rglob("*.tmp")), "no temp file left"


def test_a_hexo_body_is_one_html_block_markdown_never_reads(tmp_path):
    # A blank line would end the HTML block, and Markdown would turn what
    # follows into links and images of its own (javascript:, a tracker).
    from archive.export import hexo_post

    html = "<blockquote>code line\n\n[pre link](javascript:alert(2))\n\n![x](https://tracker.example/p.gif)</blockquote><p>{{ range.constructor('x')() }}</p>"
    record = {"id": "a" * 16, "title": "t", "categories": [], "source": "s", "authors": [], "published": None,
              "fetched": "2026-01-01T00:00:00+00:00", "html": html, "images": []}
    post = hexo_post(record, {})
    body = post.split("\n---\n", 1)[1]
    lines = body.strip().split("\n")
    assert lines[0] == "<div>" and lines[-1] == "</div>" and len(lines) == 3, "one block, no blank line in it"
    assert lxml.html.fragment_fromstring(lines[1], create_parent="div").text_content() == lxml.html.fragment_fromstring(
        html, create_parent="div").text_content(), "the same text to an HTML reader"


def test_export_hexo_never_points_at_the_origin_for_a_missing_image(archived, tmp_path):
    """An image the crawl could not mirror is a link to its origin, never an <img> loading from it."""
    out = tmp_path / "hexo"
    archived.ok("export", "--format", "hexo", "--output", str(out))
    with_missing = [r for r in archived.records.values() if any(i.missing for i in archived.expected(r).images)]
    assert with_missing, "the fixture has an article whose image is gone"
    for record in with_missing:
        post = (out / "_posts" / f"{record['id']}.md").read_text(encoding="utf-8")
        fragment = lxml.html.fragment_fromstring(front_matter(post)[1].strip(), create_parent="div")
        assert all(not img.get("src", "").startswith(("http:", "https:")) for img in fragment.iter("img"))


def test_export_warc_copies_the_capture_files(archived, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    out = tmp_path / "warc"
    archived.ok("export", "--format", "warc", "--output", str(out))
    named = {r["capture"]["warc"] for r in archived.records.values()}
    exported = {p.relative_to(out).as_posix() for p in out.rglob("*.warc.gz")}
    assert named and exported == named
    urls = set()
    for key in exported:
        assert (out / key).read_bytes() == archived.store.get(key)
        with (out / key).open("rb") as handle:
            for warc_record in ArchiveIterator(handle):
                if warc_record.rec_type == "response":
                    urls.add(warc_record.rec_headers.get_header("WARC-Target-URI"))
        assert list(out.glob("index/cdxj/**/*.cdxj")), "each file's CDXJ index comes along"
    assert {r["url"] for r in archived.records.values()} <= urls


def test_a_partial_export_says_which_records_it_skipped_and_why_and_exits_1(archived, tmp_path):
    # It said "exported 18 articles" and exited 0, a missing record named by its key alone
    # ("skipping KEY: KEY") and a damaged one by pydantic's count of errors.
    store = archived.store
    records = sorted(archived.records.values(), key=lambda r: r["id"])
    lost_key, damaged_key = archived.key(records[0]), archived.key(records[1])
    saved = {key: store.get(key) for key in (lost_key, damaged_key)}
    try:
        store.delete(lost_key)
        store.put(damaged_key, json.dumps({**json.loads(saved[damaged_key]), "fetched": "yesterday"}).encode("utf-8"))
        result = archived.cli("export", "--format", "jsonl", "--output", str(tmp_path / "jsonl"))
    finally:
        for key, data in saved.items():
            store.put(key, data)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"exported {len(records) - 2} articles" in result.stdout
    assert "2 records skipped" in result.stderr and "partial" in result.stderr
    assert f"skipping {lost_key}: missing" in result.stderr
    assert f"skipping {damaged_key}: damaged: fetched: " in result.stderr, result.stderr
    exported = [json.loads(line)["id"] for line in (tmp_path / "jsonl" / "articles.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(exported) == [r["id"] for r in records[2:]]


def test_export_warc_of_one_source_says_its_files_are_whole(archived, tmp_path):
    source = sorted({r["source"] for r in archived.records.values()})[0]
    stdout = archived.ok("export", "--format", "warc", "--output", str(tmp_path / "warc"), "--source", source)
    assert "whole files" in stdout


def test_export_matching_nothing_leaves_an_earlier_export_alone(archived, tmp_path):
    out = tmp_path / "jsonl"
    archived.ok("export", "--format", "jsonl", "--output", str(out))
    before = (out / "articles.jsonl").read_bytes()
    result = archived.cli("export", "--format", "jsonl", "--output", str(out), "--source", "no-such-source")
    assert result.returncode == 1 and "no-such-source" in result.stderr, result.stderr
    assert (out / "articles.jsonl").read_bytes() == before


def test_export_into_a_file_is_refused(archived, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("mine")
    result = archived.cli("export", "--format", "jsonl", "--output", str(target))
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert target.read_text() == "mine"


def test_serve_on_a_port_in_use_says_so(archived):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = archived.cli("serve", "--port", str(port), timeout=60)
    assert result.returncode == 1 and f"cannot serve on 127.0.0.1:{port}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_export_rejects_an_unknown_format(archived, tmp_path):
    result = archived.cli("export", "--format", "pdf", "--output", str(tmp_path / "x"))
    assert result.returncode == 2


# --- verify ------------------------------------------------------------------


def verify_json(archived, *extra: str) -> tuple[int, dict]:
    result = archived.cli("verify", "--json", *extra)
    return result.returncode, json.loads(result.stdout)


def test_verify_clean_archive(archived):
    code, report = verify_json(archived)
    assert (code, report["ok"], report["problems"]) == (0, True, [])
    assert report["records"] == len(archived.records)
    assert report["images"] == len({i["key"] for r in archived.records.values() for i in r["images"]})
    assert report["captures"] == len(archived.records)
    text = archived.cli("verify")
    assert text.returncode == 0 and "damaged" not in text.stdout


@pytest.mark.parametrize("damage", ["invalid-json", "schema-break"])
def test_verify_reports_exactly_the_damaged_objects(archived, damage):
    store = archived.store
    records = sorted(archived.records.values(), key=lambda r: r["id"])
    victim = next(r for r in records if r["images"])
    image_owner = next(r for r in records if r["images"] and r["id"] != victim["id"])
    image_key = image_owner["images"][0]["key"]
    record_key = archived.key(victim)
    saved = {key: store.get(key) for key in (image_key, record_key)}
    try:
        store.put(image_key, b"\xff\xd8 not the picture any more " + saved[image_key][:64])
        if damage == "invalid-json":
            store.put(record_key, saved[record_key][: len(saved[record_key]) // 2])
        else:
            broken = json.loads(saved[record_key])
            broken["published"] = "2021-10-27T06:06:31+08:00"  # an instant, but not normalised to UTC
            store.put(record_key, json.dumps(broken, ensure_ascii=False).encode("utf-8"))
        code, report = verify_json(archived)
        assert code == 1 and report["ok"] is False
        assert sorted(p["key"] for p in report["problems"]) == sorted([image_key, record_key]), report["problems"]
        image_problem = next(p for p in report["problems"] if p["key"] == image_key)
        assert archived.key(image_owner) in image_problem["named_by"]
        text = archived.cli("verify")
        assert text.returncode == 1
        assert image_key in text.stdout and record_key in text.stdout
    finally:
        for key, data in saved.items():
            store.put(key, data)
    assert verify_json(archived)[0] == 0


@pytest.mark.parametrize("field, value, what", [
    ("text", "edited by hand", "content_sha256 is not the hash of text"),
    ("canonical_url", "https://example.com/another", "is not derived from canonical_url"),
    ("language", "Chinese", "is not a BCP 47 tag"),
])
def test_verify_reports_fields_that_contradict_their_source(archived, field, value, what):
    store = archived.store
    victim = sorted(archived.records.values(), key=lambda r: r["id"])[0]
    key = archived.key(victim)
    saved = store.get(key)
    try:
        store.put(key, json.dumps({**json.loads(saved), field: value}, ensure_ascii=False).encode("utf-8"))
        code, report = verify_json(archived)
        assert code == 1 and [(p["key"], what in p["what"]) for p in report["problems"]] == [(key, True)], report["problems"]
    finally:
        store.put(key, saved)


def test_verify_reports_a_lost_record_the_catalog_lists_and_records_it_does_not(archived):
    # A record gone from articles/ is lost: `ls` still listed it while verify said "archive OK".
    store = archived.store
    records = sorted(archived.records.values(), key=lambda r: r["id"])
    lost_key = archived.key(records[0])
    saved = store.get(lost_key)
    segments = {key: store.get(key) for key in store.list(CATALOG_PREFIX)}
    try:
        store.delete(lost_key)
        code, report = verify_json(archived)
        assert code == 1 and [(p["key"], p["what"]) for p in report["problems"]] == [(lost_key, "record missing: the catalog lists it")]
        assert report["unlisted"] == []
        store.put(lost_key, saved)
        for key in segments:
            store.delete(key)
        code, report = verify_json(archived)
        assert (code, report["problems"]) == (0, []), "records the catalog misses are no damage (a crawl may be running)"
        assert report["unlisted"] == sorted(archived.key(r) for r in records)
        text = archived.cli("verify")
        assert text.returncode == 0 and f"{len(records)} records are not in the catalog" in text.stdout
    finally:
        store.put(lost_key, saved)
        for key, data in segments.items():
            store.put(key, data)
    assert verify_json(archived)[1]["unlisted"] == []


def test_a_damaged_record_left_out_of_a_rebuilt_catalog_is_not_called_unlisted(archived):
    # After --rebuild-index left it out, verify called it "not in the catalog"
    # and advised --rebuild-index, which leaves it out again.
    store = archived.store
    record_key = archived.key(sorted(archived.records.values(), key=lambda r: r["id"])[0])
    saved = store.get(record_key)
    segments = {key: store.get(key) for key in store.list(CATALOG_PREFIX)}
    try:
        store.put(record_key, saved[: len(saved) // 2])
        assert archived.cli("verify", "--rebuild-index").returncode == 1
        code, report = verify_json(archived)
        assert code == 1 and [p["key"] for p in report["problems"]] == [record_key]
        assert report["unlisted"] == []
        assert "not in the catalog" not in archived.cli("verify").stdout
    finally:
        store.put(record_key, saved)
        for key in store.list(CATALOG_PREFIX):
            if key not in segments:
                store.delete(key)
        for key, data in segments.items():
            store.put(key, data)
    code, report = verify_json(archived)
    assert (code, report["unlisted"]) == (0, []), "the archive put back as it was"


def test_verify_of_a_live_archive_takes_no_new_record_for_a_lost_one(tmp_path):
    # A crawl ends while verify reads the archive: its records are written
    # after articles/ was listed, and its catalog part lists them.
    from archive.catalog import catalog_entry, segment_key, write_segment
    from archive.keys import ARTICLES_PREFIX, article_key
    from archive.fields import SCHEMA, article_id, content_sha256
    from archive.records import dump_record
    from archive.store import open_store
    from archive.verify import verify_archive

    def record(n: int) -> dict:
        url, text = f"https://news.example/{n}", f"第{n}段。"
        return {"schema": SCHEMA, "id": article_id(url), "source": "s", "url": url, "canonical_url": url, "title": f"t{n}",
                "authors": [], "published": None, "fetched": "2026-01-01T00:00:00+00:00", "language": "zh", "categories": [],
                "text": text, "html": f"<p>{text}</p>", "images": [], "content_sha256": content_sha256(text)}

    store = open_store(str(tmp_path / "archive"))
    store.ensure()

    class CrawlEndsMeanwhile:
        def __init__(self, store):
            self.store, self.url = store, store.url

        def __getattr__(self, name):
            return getattr(self.store, name)

        def list(self, prefix=""):
            yield from self.store.list(prefix)
            if prefix == ARTICLES_PREFIX:
                new = record(2)
                self.store.put(article_key(new["id"]), dump_record(new), "application/json")
                write_segment(self.store, segment_key("20260101T010000Z-bbbbbb", datetime(2026, 1, 1, 1, tzinfo=timezone.utc), 0),
                              [catalog_entry(new)])

    first = record(1)
    store.put(article_key(first["id"]), dump_record(first), "application/json")
    write_segment(store, segment_key("20260101T000000Z-aaaaaa", datetime(2026, 1, 1, tzinfo=timezone.utc), 0), [catalog_entry(first)])
    report = verify_archive(CrawlEndsMeanwhile(store))
    assert report.ok, report.problems
    store.delete(article_key(first["id"]))
    assert [p.key for p in verify_archive(store).problems] == [article_key(first["id"])], "a record really gone is still reported"


def test_verify_of_a_path_holding_nothing_fails(tmp_path):
    typo = run_cli("verify", "--archive", str(tmp_path / "typo"))
    assert typo.returncode == 1 and f"error: no archive directory {tmp_path / 'typo'}" in typo.stderr, typo.stdout + typo.stderr
    # A relative one is named whole: "no archive directory archive" left the reader to guess from where.
    relative = run_cli("ls", "--archive", "typo", cwd=tmp_path)
    assert relative.returncode == 1 and f"error: no archive directory {tmp_path / 'typo'}" in relative.stderr, relative.stderr
    assert "archive OK" not in typo.stdout
    from archive.store import open_store

    open_store(str(tmp_path / "made")).ensure()  # a directory, with no archive in it
    result = run_cli("verify", "--archive", str(tmp_path / "made"))
    assert result.returncode == 1 and "nothing is stored" in result.stdout, result.stdout + result.stderr
    assert "archive OK" not in result.stdout


def test_verify_rebuild_index_restores_ls_and_search(archived):
    store = archived.store
    before = archived.ok("ls")
    query = a_chinese_phrase(archived)
    hits_before = search_ids(archived, query)
    segments = {key: store.get(key) for key in store.list(CATALOG_PREFIX)}
    assert segments, "the crawl wrote a catalog"
    try:
        for key in segments:
            store.delete(key)
        empty = archived.cli("ls")
        assert empty.returncode == 0 and empty.stdout == ""
        assert "rebuild-index" in empty.stderr
        assert archived.cli("search", query).returncode == 1, "search follows the catalog"
        assert archived.cli("verify", "--rebuild-index").returncode == 0
        assert archived.ok("ls") == before
        assert sorted(search_ids(archived, query)) == sorted(hits_before)
        assert list(store.list(WARC_PREFIX)), "rebuilding touches the catalog only"
    finally:
        if not list(store.list(CATALOG_PREFIX)):
            for key, data in segments.items():
                store.put(key, data)
