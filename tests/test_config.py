"""The YAML config: what loads, and errors that name file, line and key."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.config import ConfigError, FeedSource, SitemapSource, ZakerSource
from crawler.configfile import config_path, load_config, parse_config
from crawler.schedule import MIN_INTERVAL, BadSchedule, parse_schedule

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "newsarchive.yaml"
NEWSARCHIVE = Path(sys.executable).parent / "newsarchive"

GOOD = """\
# a comment line
archive:
  url: ./archive
crawl:
  concurrency: 4
  download_delay: 0.25
sources:
  - id: first-feed
    kind: feed
    url: https://example.com/rss.xml
    schedule: every 15m
    categories: [新闻]
  - id: second-map
    kind: sitemap
    urls:
      - https://example.com/sitemap.xml
    schedule: "*/30 * * * *"
    timezone: Asia/Shanghai
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the ``occurrence``-th ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in the YAML text")


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


# --------------------------------------------------------------------------
# good configs
# --------------------------------------------------------------------------

def test_default_config_loads():
    config = load_config(DEFAULT_CONFIG)
    ids = [s.id for s in config.sources]
    assert ids == [
        "zaker-domestic", "zaker-world", "chinanews-scroll", "people-politics",
        "bbc-world", "guardian-world", "npr-news",
    ]
    assert config.archive.url == "./archive"
    assert config.archive.endpoint_url is None
    assert config.crawl.concurrency == 16
    assert config.crawl.download_delay == 0.5
    assert config.crawl.obey_robots_txt is True and config.crawl.images is True
    zaker = config.source("zaker-domestic")
    assert isinstance(zaker, ZakerSource)
    assert zaker.categories == ["新媒体", "ZAKER"]
    assert zaker.timezone == "Asia/Shanghai"
    assert zaker.parsed_schedule.nominal_interval == timedelta(minutes=30)
    assert zaker.start_urls == ["https://www.myzaker.com/channel/1"]
    assert isinstance(config.source("bbc-world"), FeedSource)
    npr = config.source("npr-news")
    assert isinstance(npr, SitemapSource) and npr.lastmod_days == 2
    assert npr.parsed_schedule.nominal_interval == timedelta(hours=2)
    with pytest.raises(KeyError):
        config.source("no-such-source")


def test_good_config_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD, "good.yaml"))
    assert config.crawl.concurrency == 4
    first, second = config.sources
    assert first.start_urls == ["https://example.com/rss.xml"]
    assert second.start_urls == ["https://example.com/sitemap.xml"]
    assert first.categories == ["新闻"]
    assert second.parsed_schedule.cron == "*/30 * * * *"


def test_an_integer_stands_for_a_float(tmp_path):
    config = load_config(write(tmp_path, GOOD.replace("download_delay: 0.25", "download_delay: 2"), "good.yaml"))
    assert config.crawl.download_delay == 2.0


def test_numbers_with_an_exponent_are_numbers(tmp_path):
    # YAML 1.1 (PyYAML) reads 5e-1 and 2e7 as strings; YAML 1.2 and people read numbers.
    text = GOOD.replace("download_delay: 0.25", "download_delay: 5e-1\n  max_page_bytes: 2e7\n  warc_max_bytes: 1.5E8")
    config = load_config(write(tmp_path, text, "good.yaml"))
    assert config.crawl.download_delay == 0.5
    assert config.crawl.max_page_bytes == 20_000_000 and isinstance(config.crawl.max_page_bytes, int)
    assert config.crawl.warc_max_bytes == 150_000_000


def test_utf8_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert load_config(path).sources[0].categories == ["新闻"]


def test_a_config_not_in_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    message = str(config_error(path))
    assert message.startswith(f"{path}:{line_of(GOOD, '新闻')}: not UTF-8"), message


def test_empty_config_is_all_defaults(tmp_path):
    config = load_config(write(tmp_path, "# nothing\n", "empty.yaml"))
    assert config.sources == []
    assert config.archive.url == "./archive"


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSARCHIVE_CONFIG", raising=False)
    assert config_path(None) == Path("config/newsarchive.yaml")
    monkeypatch.setenv("NEWSARCHIVE_CONFIG", str(tmp_path / "env.yaml"))
    assert config_path(None) == tmp_path / "env.yaml"
    assert config_path(tmp_path / "explicit.yaml") == tmp_path / "explicit.yaml"


def test_missing_config_file_is_a_config_error(tmp_path):
    error = config_error(tmp_path / "absent.yaml")
    assert str(tmp_path / "absent.yaml") in str(error)


# --------------------------------------------------------------------------
# bad configs: file:LINE: key
# --------------------------------------------------------------------------

def bad(text: str, needle: str, key: str, occurrence: int = 1, message: str | None = None):
    return pytest.param(text, needle, key, occurrence, message, id=key + (f"-{message}" if message else ""))


BAD_CASES = [
    # unknown keys at every level
    bad(GOOD + "extra_section: 1\n", "extra_section", "extra_section", message="unknown key"),
    bad(GOOD.replace("  download_delay: 0.25\n", "  download_delay: 0.25\n  concurency: 8\n"),
        "concurency", "crawl.concurency", message="unknown key"),
    bad(GOOD.replace("    timezone: Asia/Shanghai\n", "    timezone: Asia/Shanghai\n    colour: red\n"),
        "colour", "sources[1].colour", message="unknown key"),
    bad(GOOD.replace("  url: ./archive\n", "  url: ./archive\n  bucket: x\n"), "bucket", "archive.bucket", message="unknown key"),
    # wrong types
    bad(GOOD.replace("concurrency: 4", "concurrency: many"), "concurrency", "crawl.concurrency"),
    bad(GOOD.replace("concurrency: 4", "concurrency: 0"), "concurrency", "crawl.concurrency"),
    bad(GOOD.replace("download_delay: 0.25", "download_delay: [1]"), "download_delay", "crawl.download_delay"),
    bad(GOOD.replace("categories: [新闻]", "categories: 新闻"), "categories", "sources[0].categories"),
    bad(GOOD.replace("id: second-map", "id: 12"), "id: 12", "sources[1].id"),
    # strict types: nothing converted by guess
    bad(GOOD.replace("concurrency: 4", 'concurrency: "4"'), "concurrency", "crawl.concurrency"),
    bad(GOOD.replace("concurrency: 4", "concurrency: 4.0"), "concurrency", "crawl.concurrency"),
    bad(GOOD.replace("concurrency: 4", "concurrency: 1e1"), "concurrency", "crawl.concurrency"),
    bad(GOOD.replace("download_delay: 0.25", "download_delay: 0.25\n  max_page_bytes: 20000.5"), "max_page_bytes", "crawl.max_page_bytes"),
    bad(GOOD.replace("download_delay: 0.25", "download_delay: true"), "download_delay", "crawl.download_delay"),
    bad(GOOD.replace("download_delay: 0.25", "download_delay: 0.25\n  images: \"off\""), "images", "crawl.images"),
    bad(GOOD.replace("download_delay: 0.25", "download_delay: 0.25\n  obey_robots_txt: 1"), "obey_robots_txt", "crawl.obey_robots_txt"),
    bad(GOOD.replace("timezone: Asia/Shanghai", "timezone: Asia/Shanghai\n    revisit_days: \"2\""), "revisit_days", "sources[1].revisit_days"),
    # bad schedules
    bad(GOOD.replace("schedule: every 15m", "schedule: every 10s"), "every 10s", "sources[0].schedule"),
    bad(GOOD.replace('schedule: "*/30 * * * *"', 'schedule: "* * *"'), "* * *", "sources[1].schedule"),
    bad(GOOD.replace('schedule: "*/30 * * * *"', 'schedule: "61 * * * *"'), "61 * * * *", "sources[1].schedule"),
    bad(GOOD.replace("schedule: every 15m", "schedule: hourly"), "hourly", "sources[0].schedule"),
    # bad URLs
    bad(GOOD.replace("url: https://example.com/rss.xml", "url: ftp://example.com/rss.xml"), "ftp://", "sources[0].url"),
    bad(GOOD.replace("url: https://example.com/rss.xml", "url: example.com/rss.xml"), "url: example.com", "sources[0].url"),
    bad(GOOD.replace("      - https://example.com/sitemap.xml\n", "      - https://example.com/sitemap.xml\n      - not a url\n"),
        "urls:", "sources[1].urls"),
    bad(GOOD.replace("  url: ./archive\n", "  url: http://example.com/archive\n"), "url: http://example.com/archive", "archive.url"),
    bad(GOOD.replace("  url: ./archive\n", "  url: file://archive/x\n"), "url: file://archive", "archive.url"),
    bad(GOOD.replace("  url: ./archive\n", "  url: ./archive\n  endpoint_url: localhost:8333\n"), "endpoint_url", "archive.endpoint_url"),
    # bad timezone
    bad(GOOD.replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus_Mons"), "Mars", "sources[1].timezone"),
    bad(GOOD.replace("timezone: Asia/Shanghai", "timezone: ../../etc/passwd"), "passwd", "sources[1].timezone"),
    # bad source ids
    bad(GOOD.replace("id: first-feed", "id: First_Feed"), "First_Feed", "sources[0].id"),
    bad(GOOD.replace("id: first-feed", "id: first--feed"), "first--feed", "sources[0].id"),
    bad(GOOD.replace("id: first-feed", "id: -first"), "-first", "sources[0].id"),
    # both url and urls (and neither): the source itself is wrong
    bad(GOOD.replace("    url: https://example.com/rss.xml\n", "    url: https://example.com/rss.xml\n    urls: [https://example.com/b]\n"),
        "- id: first-feed", "sources[0]", message="exactly one"),
    bad(GOOD.replace("    url: https://example.com/rss.xml\n", ""), "- id: first-feed", "sources[0]", message="exactly one"),
    # unknown or missing kind
    bad(GOOD.replace("kind: sitemap", "kind: podcast"), "kind: podcast", "sources[1].kind"),
    # duplicate source ids: the second one is named
    bad(GOOD.replace("id: second-map", "id: first-feed"), "id: first-feed", "sources[1].id", occurrence=2, message="duplicate source id"),
    # duplicate YAML keys, which PyYAML alone would silently merge
    bad(GOOD.replace("  download_delay: 0.25\n", "  download_delay: 0.25\n  concurrency: 8\n"),
        "concurrency", "crawl.concurrency", occurrence=2, message="duplicate key"),
    bad(GOOD.replace("    categories: [新闻]\n", "    categories: [新闻]\n    kind: sitemap\n"),
        "kind:", "sources[0].kind", occurrence=2, message="duplicate key"),
    bad(GOOD + "crawl:\n  images: false\n", "crawl:", "crawl", occurrence=2, message="duplicate key"),
]


@pytest.mark.parametrize("text, needle, key, occurrence, message", BAD_CASES)
def test_bad_config_names_file_line_and_key(tmp_path, text, needle, key, occurrence, message):
    path = write(tmp_path, text)
    error = config_error(path)
    expected_line = line_of(text, needle, occurrence)
    assert f"{path}:{expected_line}: {key}: " in str(error), str(error)
    if message:
        assert message in str(error)
    # The structured form agrees with the text.
    assert (expected_line, key) in [(line, k) for line, k, _ in error.problems]


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace("concurrency: 4", "concurrency: many").replace("timezone: Asia/Shanghai", "timezone: Nowhere/City")
    path = write(tmp_path, text)
    message = str(config_error(path))
    assert f"{path}:{line_of(text, 'concurrency')}: crawl.concurrency: " in message
    assert f"{path}:{line_of(text, 'Nowhere')}: sources[1].timezone: " in message


@pytest.mark.parametrize(
    "text, bad_line",
    [
        # indentation that breaks the mapping on line 5
        ("archive:\n  url: ./archive\ncrawl:\n  concurrency: 16\n download_delay: 0.5\n", 5),
        # a tab on line 3
        ("crawl:\n  concurrency: 16\n\tdownload_delay: 1\n", 3),
    ],
)
def test_invalid_yaml_names_file_and_line(tmp_path, text, bad_line):
    path = write(tmp_path, text)
    message = str(config_error(path))
    assert message.startswith(f"{path}:{bad_line}: not valid YAML")


def test_non_mapping_config(tmp_path):
    path = write(tmp_path, "- just\n- a list\n")
    assert str(config_error(path)).startswith(f"{path}:1: ")


def test_parse_config_does_not_half_apply():
    # One bad source makes the whole config unusable: no partial Config comes back.
    text = GOOD.replace("timezone: Asia/Shanghai", "timezone: Bad/Zone")
    with pytest.raises(ConfigError):
        parse_config(text, Path("inline.yaml"))


# --------------------------------------------------------------------------
# the real CLI
# --------------------------------------------------------------------------

def _run_cli(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    # Not a terminal, default width: as in a CI log or a cron mail.
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSARCHIVE_CONFIG", "COLUMNS")}
    env.update(extra_env)
    return subprocess.run([str(NEWSARCHIVE), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    "text, needle, key",
    [
        (GOOD.replace("schedule: every 15m", "schedule: every 10s"), "every 10s", "sources[0].schedule"),
        (GOOD.replace("id: second-map", "id: first-feed"), "second-map", "sources[1].id"),
        (GOOD.replace("  download_delay: 0.25\n", "  download_delay: 0.25\n  concurency: 8\n"), "concurency", "crawl.concurency"),
    ],
)
def test_cli_exits_2_naming_file_line_and_key(tmp_path, text, needle, key):
    if needle == "second-map":  # the duplicate replaced it: find the second first-feed
        needle_line = line_of(text, "id: first-feed", 2)
    else:
        needle_line = line_of(text, needle)
    path = write(tmp_path, text)
    result = _run_cli("sources", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{path}:{needle_line}: {key}: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_cli_prints_config_errors_as_written(tmp_path):
    # Square brackets in a message or a value are text, never terminal markup.
    text = GOOD.replace("id: first-feed", 'id: "[bold]x"').replace("schedule: every 15m", "schedule: every 2q")
    result = _run_cli("sources", "--config", str(write(tmp_path, text)), cwd=tmp_path, COLUMNS="300")
    assert result.returncode == 2, result.stderr
    assert "'[bold]x'" in result.stderr and "'every N[smhd]'" in result.stderr, result.stderr


def test_cli_config_not_in_utf8_exits_2(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(GOOD.encode("gbk"))
    result = _run_cli("sources", "--config", str(path), cwd=tmp_path, COLUMNS="300")
    assert result.returncode == 2 and "not UTF-8" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["s3://", "http://example.com/archive", "file://relative/dir"])
def test_cli_bad_archive_option_exits_2_naming_it(tmp_path, url):
    result = _run_cli("ls", "--archive", url, cwd=tmp_path, COLUMNS="300")
    assert result.returncode == 2, result.stderr
    assert "--archive" in result.stderr and url in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_cli_reads_a_config_named_by_the_environment_even_with_archive(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = _run_cli("ls", "--archive", str(tmp_path / "archive"), cwd=tmp_path, NEWSARCHIVE_CONFIG=str(missing), COLUMNS="300")
    assert result.returncode == 2 and str(missing) in result.stderr, result.stderr


def test_cli_accepts_a_good_config(tmp_path):
    path = write(tmp_path, GOOD.replace("./archive", str(tmp_path / "archive")), "good.yaml")
    result = _run_cli("sources", "--config", str(path), cwd=tmp_path, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    assert "first-feed" in result.stdout and "second-map" in result.stdout


# --------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, interval",
    [
        ("every 15m", timedelta(minutes=15)),
        ("every 2h", timedelta(hours=2)),
        ("every 1m", MIN_INTERVAL),
        ("every 90s", timedelta(seconds=90)),
        ("every 1d", timedelta(days=1)),
        ("EVERY  2H", timedelta(hours=2)),
        ("*/30 * * * *", timedelta(minutes=30)),
        ("0 */2 * * *", timedelta(hours=2)),
        ("15,45 * * * *", timedelta(minutes=30)),
        ("0 3 * * *", timedelta(days=1)),
    ],
)
def test_valid_schedules(text, interval):
    schedule = parse_schedule(text)
    assert schedule.nominal_interval == interval
    assert (schedule.cron is None) == text.lower().startswith("every")


def test_schedule_text_is_normalised():
    assert parse_schedule("every   15m").text == "every 15m"
    assert parse_schedule("  */30  *  * * * ").text == "*/30 * * * *"


@pytest.mark.parametrize(
    "text",
    ["every 10s", "every 59s", "every 0m", "* * *", "61 * * * *", "* 25 * * *", "* * * * * *", "every 15", "every m", "hourly", "", "every -5m"],
)
def test_invalid_schedules(text):
    with pytest.raises(BadSchedule):
        parse_schedule(text)


def test_cron_trigger_fires_on_the_half_hour():
    from datetime import datetime, timezone

    trigger = parse_schedule("*/30 * * * *").trigger()
    fire = trigger.get_next_fire_time(None, datetime(2024, 1, 1, 10, 7, tzinfo=timezone.utc))
    assert fire == datetime(2024, 1, 1, 10, 30, tzinfo=timezone.utc)


def test_committed_schema_matches_the_models():
    """config/schema.json is what `python -m crawler.configschema` prints today."""
    import json

    from crawler.configschema import config_schema

    committed = json.loads((Path(__file__).resolve().parent.parent / "config" / "schema.json").read_text(encoding="utf-8"))
    assert committed == config_schema(), "regenerate: python -m crawler.configschema > config/schema.json"
