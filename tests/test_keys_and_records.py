"""Archive keys, article records and run records: pure functions, no I/O."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from archive.keys import (
    BadKey,
    MAX_SEGMENT_BYTES,
    article_key,
    check_key,
    image_key,
    run_key,
)
from archive.fields import SCHEMA, article_id, content_sha256, utc_iso
from archive.records import dump_record, load_record
from archive.runs import Failure, RunRecord, new_run_id, run_started, start_run

SHA = "ab" + "cd" + "0123456789abcdef" * 3 + "0123456789ab"
assert len(SHA) == 64


# --------------------------------------------------------------------------
# check_key
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "key",
    [
        "",
        "/articles/ab/x.json",
        "articles/ab/",
        "articles//x.json",
        "articles/../x.json",
        "../x.json",
        "articles/./x.json",
        ".",
        "..",
        "/",
        "a" * (MAX_SEGMENT_BYTES + 1),
        "articles/" + "b" * 256,
        # 85 three-byte characters and one ASCII letter: 86 characters, 256 bytes.
        "articles/" + "镕" * 85 + "x",
        "images/%00.jpg".replace("%00", "\x00"),  # no file name holds a NUL
        "articles/ab/x\n.json",
    ],
)
def test_check_key_rejects(key):
    with pytest.raises(BadKey):
        check_key(key)


def test_bad_key_is_a_value_error():
    with pytest.raises(ValueError):
        check_key("a//b")


@pytest.mark.parametrize(
    "key",
    [
        "articles/ab/abcdef0123456789.json",
        "x",
        "a" * MAX_SEGMENT_BYTES,
        "articles/" + "镕" * 85,  # 255 bytes exactly
        "runs/2021/10/27/中文.json",
        "a.b/..c/d..",  # dots inside a segment are fine
    ],
)
def test_check_key_accepts(key):
    assert check_key(key) == key


def test_segment_limit_counts_utf8_bytes_not_characters():
    # 100 characters is far under 255 characters but 300 bytes.
    key = "images/" + "昇" * 100
    assert len("昇" * 100) < MAX_SEGMENT_BYTES
    with pytest.raises(BadKey, match="255 bytes"):
        check_key(key)


# --------------------------------------------------------------------------
# key shapes
# --------------------------------------------------------------------------

def test_article_key_shape():
    assert article_key("abcdef0123456789") == "articles/ab/abcdef0123456789.json"
    assert article_key("00ff00ff00ff00ff") == "articles/00/00ff00ff00ff00ff.json"


@pytest.mark.parametrize(
    "bad_id",
    ["", "abc", "ABCDEF0123456789", "abcdef012345678g", "abcdef01234567890", "../../etc/passwd", "abcdef0123456789\n"],
)
def test_article_key_rejects_bad_ids(bad_id):
    with pytest.raises(BadKey):
        article_key(bad_id)


def test_image_key_shape():
    assert image_key(SHA, "jpg") == f"images/ab/cd/{SHA}.jpg"
    assert image_key(SHA, "png") == f"images/ab/cd/{SHA}.png"


@pytest.mark.parametrize("extension", ["", "JPG!", "jpeg/../x", "toolongext", "../x", "j pg", "jpg\n"])
def test_image_key_odd_extension_becomes_bin(extension):
    key = image_key(SHA, extension)
    assert key == f"images/ab/cd/{SHA}.bin"
    assert check_key(key) == key


@pytest.mark.parametrize("bad_hash", ["", "ab", SHA.upper(), SHA[:-1], SHA + "0", SHA[:-1] + "g", "../" + SHA[3:], SHA + "\n"])
def test_image_key_rejects_bad_hashes(bad_hash):
    with pytest.raises(BadKey):
        image_key(bad_hash, "jpg")


def test_run_key_shape():
    started = datetime(2021, 10, 27, 3, 4, 5, tzinfo=timezone.utc)
    assert run_key("20211027T030405Z-0a1b2c", started) == "runs/2021/10/27/20211027T030405Z-0a1b2c.json"


@pytest.mark.parametrize("bad_run", ["", "20211027T030405Z", "20211027T030405Z-0A1B2C", "2021-10-27-abc", "20211027T030405Z-0a1b2c/x", "20211027T030405Z-0a1b2c\n"])
def test_run_key_rejects_bad_run_ids(bad_run):
    with pytest.raises(BadKey):
        run_key(bad_run, datetime(2021, 10, 27, tzinfo=timezone.utc))


def test_new_run_id_round_trips_to_its_start():
    now = datetime(2021, 10, 27, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    run_id = new_run_id(now)
    assert run_id.startswith("20211027T030405Z-")
    assert run_started(run_id) == datetime(2021, 10, 27, 3, 4, 5, tzinfo=timezone.utc)
    run = start_run(run_id, ["a"])
    assert run.key == f"runs/2021/10/27/{run_id}.json"
    assert run.started == "2021-10-27T03:04:05+00:00"


def test_run_record_round_trip():
    run = start_run("20211027T030405Z-0a1b2c", ["zaker", "bbc"])
    run.count("archived", "zaker", 3)
    run.count("failed", "bbc")
    run.failures.append(Failure(url="http://x/1", reason="timeout", source="bbc", kind="article"))
    again = RunRecord.from_dict(json.loads(dump_record(run.to_dict())))
    assert again == run
    assert again.counts["archived"] == 3 and again.per_source["bbc"]["failed"] == 1


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------

def test_article_id_is_stable_sixteen_hex_digits():
    first = article_id("https://www.myzaker.com/article/6177e3f98e9f0968cd0fe3c1")
    assert first == article_id("https://www.myzaker.com/article/6177e3f98e9f0968cd0fe3c1")
    assert len(first) == 16 and int(first, 16) >= 0
    assert first != article_id("https://www.myzaker.com/article/6177e3f98e9f0968cd0fe3c2")
    assert article_key(first).endswith(f"/{first}.json")


def test_utc_iso():
    moment = datetime(2021, 10, 27, 6, 6, 31, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert utc_iso(moment) == "2021-10-26T22:06:31+00:00"
    with pytest.raises(ValueError):
        utc_iso(datetime(2021, 10, 27))


def make_record(**changes) -> dict:
    text = "第一段。\n\n第二段：朱镕基。"
    record = {
        "schema": SCHEMA,
        "id": article_id("https://example.com/a/1"),
        "source": "zaker-news",
        "url": "https://example.com/a/1?utm_source=x",
        "canonical_url": "https://example.com/a/1",
        "title": "标题",
        "authors": ["记者 张三"],
        "published": "2021-10-26T22:06:31+00:00",
        "fetched": "2021-10-27T01:00:00+00:00",
        "language": "zh",
        "categories": ["新媒体", "ZAKER"],
        "text": text,
        "html": f'<p>第一段。</p><p>第二段：朱镕基。</p><img src="{image_key(SHA, "jpg")}">',
        "images": [
            {
                "url": "http://zkres1.myzaker.com/202110/x.jpg",
                "key": image_key(SHA, "jpg"),
                "sha256": SHA,
                "content_type": "image/jpeg",
                "bytes": 1234,
                "width": 640,
                "height": 480,
            }
        ],
        "content_sha256": content_sha256(text),
    }
    record.update(changes)
    return record


def test_load_record_accepts_a_produced_record():
    data = dump_record(make_record())
    assert "朱镕基".encode("utf-8") in data  # Chinese kept readable, not \u-escaped
    record = load_record(data)
    assert record.id == article_id("https://example.com/a/1")
    assert record.published == "2021-10-26T22:06:31+00:00"
    assert record.images[0].width == 640
    # And it serialises back to the same object.
    assert json.loads(record.to_json()) == make_record()


def test_load_record_accepts_null_published():
    assert load_record(dump_record(make_record(published=None))).published is None


@pytest.mark.parametrize(
    "published",
    ["2021-10-27T06:06:31+08:00", "2021-10-26T22:06:31", "2021-10-26T17:06:31-05:00", "yesterday"],
)
def test_load_record_rejects_non_utc_published(published):
    with pytest.raises(ValidationError):
        load_record(dump_record(make_record(published=published)))


def test_load_record_rejects_non_utc_fetched():
    with pytest.raises(ValidationError):
        load_record(dump_record(make_record(fetched="2021-10-27T09:00:00+08:00")))


def test_load_record_rejects_unknown_field():
    with pytest.raises(ValidationError, match="extra"):
        load_record(dump_record(make_record(summary="extra field")))


def test_load_record_rejects_unknown_image_field():
    record = make_record()
    record["images"][0]["alt"] = "x"
    with pytest.raises(ValidationError):
        load_record(dump_record(record))


def test_load_record_rejects_wrong_schema_and_missing_fields():
    with pytest.raises(ValidationError):
        load_record(dump_record(make_record(schema="newsarchive.article/2")))
    record = make_record()
    del record["content_sha256"]
    with pytest.raises(ValidationError):
        load_record(dump_record(record))
    with pytest.raises(ValidationError):
        load_record(b"not json")


def test_run_records_come_newest_first_listing_only_what_is_read(tmp_path):
    from datetime import datetime, timedelta, timezone
    from itertools import islice

    from archive.runs import iter_runs, new_run_id, save_run, start_run
    from archive.store import open_store

    store = open_store(str(tmp_path / "archive"))
    now = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
    ages = [timedelta(hours=1), timedelta(hours=2), timedelta(days=1), timedelta(days=10), timedelta(days=400)]
    ids = []
    for age in ages:
        run = start_run(new_run_id(now - age), ["s"])
        save_run(store, run)
        ids.append(run.run_id)

    listed: list[str] = []
    real_list = store.list

    def list_keys(prefix: str = ""):
        listed.append(prefix)
        return real_list(prefix)

    store.list = list_keys
    assert [run.run_id for run in islice(iter_runs(store, now), 2)] == ids[:2]
    assert listed == ["runs/2026/03/10/"], "today's runs answer without listing anything older"
    assert [run.run_id for run in iter_runs(store, now)] == ids, "then everything, newest first"


def test_one_line_fields_of_a_record_hold_no_line_breaks():
    # A feed's <category>Politics&#x2028;Local</category>: U+2028 broke the
    # catalog's lines and listings; runs of whitespace become one space, and
    # a field left empty is dropped.
    from datetime import datetime, timezone

    from crawler.extract.article import ExtractedArticle
    from crawler.extract.record import article_record

    article = ExtractedArticle(url="https://news.example/a", canonical_url="https://news.example/a", title=" A\u2028 title\n\x85here ",
                               authors=["张三\u2029", " ", "Li\tSi"], published=None, language="en",
                               categories=["Politics\u2028Local", "\u2029"], text="Body.\u2028Still body.", html="<p>Body.</p>",
                               image_urls=[])
    record = article_record(article, source="s", fetched=datetime(2026, 1, 1, tzinfo=timezone.utc), categories=["新闻 \u3000 中心"])
    assert record["title"] == "A title here"
    assert record["authors"] == ["张三", "Li Si"]
    assert record["categories"] == ["新闻 中心", "Politics Local"]
    assert record["text"] == "Body.\u2028Still body.", "the body keeps what it had"
