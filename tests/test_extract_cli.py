"""`newsarchive extract`: pages in, one JSON record per line out, in input order; nothing written."""

from __future__ import annotations

import json
import urllib.request

from archive.fields import article_id
from tests.conftest import run_cli
from tests.fixture_site import ARTICLES


def _page(site, article) -> bytes:
    with urllib.request.urlopen(site.url(article.path)) as response:
        return response.read()


def test_files_and_urls_in_input_order(site, tmp_path):
    zh = next(a for a in ARTICLES if a.language == "zh" and a.charset == "utf-8" and not a.feed_body_only)
    en = next(a for a in ARTICLES if a.language == "en")
    gbk = next(a for a in ARTICLES if a.charset != "utf-8")
    zh_file = tmp_path / "zh.html"
    zh_file.write_bytes(_page(site, zh))
    gbk_file = tmp_path / "gbk.html"
    gbk_file.write_bytes(_page(site, gbk))  # charset only in a <meta>: decoded as GB18030

    result = run_cli("extract", str(zh_file), site.url(en.path), str(gbk_file))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == [zh.title, en.title, gbk.title]
    assert records[1]["url"] == site.url(en.path)
    assert records[1]["id"] == article_id(site.url(en.path))
    assert records[0]["url"] == zh_file.resolve().as_uri()
    for record, article in zip(records, (zh, en, gbk)):
        assert record["published"] == article.published_utc
        assert record["authors"] == list(article.authors)
        assert all(p in record["text"] for p in article.paragraphs)
    assert set(tmp_path.iterdir()) == {zh_file, gbk_file}, "extract writes nothing"


def test_url_option_names_a_file_page(site, tmp_path):
    article = ARTICLES[0]
    page = tmp_path / "page.html"
    page.write_bytes(_page(site, article))
    result = run_cli("extract", str(page), "--url", site.url(article.path) + "?utm_source=x")
    record = json.loads(result.stdout)
    assert record["canonical_url"] == site.url(article.path)


def test_url_option_is_for_one_file_and_an_absolute_url(site, tmp_path):
    # Given to two files, both records claimed it; "notaurl" became a record's url.
    page = tmp_path / "page.html"
    page.write_bytes(_page(site, ARTICLES[0]))
    for inputs, url in (([str(page), str(page)], site.url("/a.html")), ([site.url(ARTICLES[0].path)], site.url("/a.html")),
                        ([str(page)], "notaurl"), ([str(page)], "/relative/a.html")):
        result = run_cli("extract", *inputs, "--url", url)
        assert (result.returncode, result.stdout) == (2, ""), (inputs, url, result.stderr)
        assert "--url" in result.stderr


def test_a_bad_input_is_reported_and_the_rest_still_printed(site, tmp_path):
    article = ARTICLES[0]
    missing = tmp_path / "nope.html"
    result = run_cli("extract", str(missing), site.url(article.path), site.url("/no/such/page.html"))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["title"] == article.title
    assert "nope.html" in result.stderr and "HTTP 404" in result.stderr
    assert result.stderr.replace("\n", "").count(site.url("/no/such/page.html")) == 1, "named once"


def test_an_input_named_like_terminal_markup_is_reported_as_named(tmp_path):
    missing = tmp_path / "x[/red].html"
    result = run_cli("extract", str(missing))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "x[/red].html" in result.stderr.replace("\n", "")


def test_an_unknown_timezone_is_a_usage_error(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>text</p></body></html>")
    result = run_cli("extract", str(page), "--timezone", "Nowhere/Land")
    assert result.returncode == 2 and "Nowhere/Land" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_named_config_sets_how_pages_are_fetched(site, tmp_path):
    article = ARTICLES[0]
    config = tmp_path / "cfg.yaml"
    config.write_text("crawl:\n  user_agent: extract-check/1.0\n  contact: ops@example.com\n", encoding="utf-8")
    url = site.url(article.path) + "?extract-ua-check"
    result = run_cli("extract", url, "--config", str(config))
    assert result.returncode == 0, result.stderr
    (headers,) = [h for _method, path, h in site.requests if path.endswith("?extract-ua-check")]
    assert headers.get("User-Agent") == "extract-check/1.0 (+ops@example.com)"


def test_a_page_over_the_configured_size_limit_is_refused_and_the_rest_extracted(site, tmp_path):
    big = site.url(ARTICLES[0].path)  # tens of KB
    small = tmp_path / "small.html"  # a file: the limit is the fetch's
    small.write_bytes(urllib.request.urlopen(site.url(ARTICLES[1].path), timeout=10).read())
    limit = 2048
    config = tmp_path / "cfg.yaml"
    config.write_text(f"crawl:\n  max_page_bytes: {limit}\n", encoding="utf-8")
    result = run_cli("extract", big, str(small), "--config", str(config))
    assert result.returncode == 1, result.stderr
    message = result.stderr.replace("\n", "")  # as wrapped for an 80-column terminal
    assert f"{big}: page larger than {limit} bytes" in message, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["title"] == ARTICLES[1].title


def test_a_bad_named_config_stops_extract(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>text</p></body></html>")
    config = tmp_path / "bad.yaml"
    config.write_text("crawl:\n  concurency: 4\n", encoding="utf-8")
    result = run_cli("extract", str(page), "--config", str(config))
    assert result.returncode == 2 and f"{config}:2: crawl.concurency" in result.stderr, result.stderr
    assert result.stdout == ""


def test_the_text_opens_with_the_article_not_its_kicker_and_headline(site):
    english = [a for a in ARTICLES if a.language == "en"]
    result = run_cli("extract", *(site.url(a.path) for a in english))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == [a.title for a in english]
    for record, article in zip(records, english):
        assert record["text"].startswith(article.paragraphs[0][:40]), record["text"][:120]


def test_control_characters_of_a_page_never_reach_the_record(tmp_path):
    # A terminal obeys ESC: "&#27;[2J" in a title cleared the screen of `show`.
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>A&#27;[2JB</title><meta property='og:title' content='A&#x1b;[31mB'></head>"
                    "<body><article><h1>A&#27;[2JB</h1>"
                    + "".join(f"<p>Paragraph {n} of the article holds words enough to count as text, one &#7; here.</p>" for n in range(6))
                    + "</article></body></html>", encoding="utf-8")
    result = run_cli("extract", str(page))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    for field in ("title", "text", "html"):
        assert not any(ord(c) < 32 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in record[field]), (field, record[field])
    assert record["title"].startswith("A[") and "one here" in record["text"], "the article is extracted, without the control"
