"""`newsarchive serve`: the read-only site, driven in real headless Chromium.

For each backend the fixture site is crawled once, `serve` runs as a
process of its own, and Playwright reads the pages as a person would.
Screenshots land in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest

from tests.archive_helpers import ARTIFACTS, ROOT, crawled_archive

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HOSTILE = "<script>alert(1)</script>"
START_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def archived(request, site, tmp_path_factory):
    yield from crawled_archive(request.param, site, tmp_path_factory, request)


@pytest.fixture(scope="module")
def server(archived):
    """`newsarchive serve` on a free port; yields its base URL."""
    yield from serve(archived)


SMALL_PAGE = 2


@pytest.fixture(scope="module")
def paged_server(archived):
    """`serve --page-size 2`: the fixture archive's lists run over several pages."""
    yield from serve(archived, "--page-size", str(SMALL_PAGE))


def serve(archived, *options: str):
    port = free_port()
    log = (archived.workdir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "serve", "--port", str(port), "--config", str(archived.config), *options],
        env={**os.environ, **archived.env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.poll() is None, (archived.workdir / f"serve-{port}.log").read_text(errors="replace")
        try:
            with urllib.request.urlopen(base + "/", timeout=2):
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, "serve did not answer in time"
            time.sleep(0.1)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh page; any JavaScript dialog (an executed alert) fails the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert not dialogs, f"script ran in the page: {dialogs}"


def shot(page, archived, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"serve-{archived.kind}-{name}.png"), full_page=True)


def status_of(base: str, method: str, path: str) -> int:
    """The status of one raw request; the path goes out exactly as given (no client normalisation)."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def titles_on(page) -> list[str]:
    return [t.strip() for t in page.locator("a.title").all_inner_texts()]


# --- browsing ----------------------------------------------------------------


def test_home_lists_every_title(page, server, archived):
    page.goto(server + "/")
    titles = titles_on(page)
    assert Counter(titles) == Counter(r["title"] for r in archived.records.values())
    shot(page, archived, "home")


def test_browse_by_source_and_day(page, server, archived):
    sources = Counter(r["source"] for r in archived.records.values())
    page.goto(server + "/")
    for source, count in sources.items():
        page.goto(server + "/")
        page.locator(f'a[href="/source/{source}"]').first.click()
        page.wait_for_url(f"**/source/{source}")
        assert sorted(titles_on(page)) == sorted(r["title"] for r in archived.records.values() if r["source"] == source)
    days = Counter(r["published"][:10] for r in archived.records.values())
    page.goto(server + "/days")
    assert page.locator("ul.days a").all_inner_texts() == sorted(days, reverse=True), "every day, newest first"
    for day in days:
        page.goto(f"{server}/day/{day}")
        assert sorted(titles_on(page)) == sorted(r["title"] for r in archived.records.values() if r["published"][:10] == day)
    shot(page, archived, "day")


def test_article_pages_show_text_and_every_image_loads(page, server, archived):
    for record in archived.records.values():
        page.goto(f"{server}/")
        page.locator(f'a.title[href="/article/{record["id"]}"]').click()
        page.wait_for_url(f"**/article/{record['id']}")
        page.wait_for_load_state("load")
        text = page.locator("article").inner_text()
        assert record["title"] in text
        for paragraph in archived.expected(record).paragraphs:
            assert " ".join(paragraph.split()) in " ".join(text.split()), (record["id"], paragraph[:40])
        images = page.locator("article img")
        assert images.count() == len(record["images"]), record["id"]
        for img in images.all():
            src = img.get_attribute("src")
            assert src.startswith("/files/images/"), src
            assert img.evaluate("i => i.complete && i.naturalWidth > 0"), f"{record['id']}: {src} did not load"
        shot(page, archived, f"article-{archived.expected(record).key}")  # ids follow the site's port: name by key


def test_images_are_served_as_mirrored(server, archived):
    for record in archived.records.values():
        for image in record["images"]:
            with urllib.request.urlopen(f"{server}/files/{image['key']}", timeout=10) as response:
                assert hashlib.sha256(response.read()).hexdigest() == image["sha256"]
                assert response.headers["Content-Type"] == image["content_type"]


def test_unmirrored_image_is_a_link_not_a_fetch(page, server, archived):
    """The image the crawl could not mirror is never loaded from its origin."""
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    with_missing = [r for r in archived.records.values() if any(i.missing for i in archived.expected(r).images)]
    assert with_missing
    for record in with_missing:
        page.goto(f"{server}/article/{record['id']}")
        missing = [i.url(archived.base_url) for i in archived.expected(record).images if i.missing]
        for url in missing:
            assert page.locator(f'article a[href="{url}"]').count() == 1
    assert all(url.startswith(server) for url in requested), [u for u in requested if not u.startswith(server)]


def serve_records(request, tmp_path, records: list[dict], objects: dict[str, bytes] | None = None):
    """`serve` over an archive of these hand-made records (and objects, by key): a directory, or a bucket when
    ``request.param`` is "s3". Yields its base URL."""
    from archive.store import open_store
    from tests.archive_helpers import fill_archive
    from tests.crawl_helpers import write_config

    env, endpoint = {"XDG_CACHE_HOME": str(tmp_path / "cache")}, None
    if request.param == "local":
        url = str(tmp_path / "archive")
    else:
        s3 = request.getfixturevalue("s3_server")
        url, endpoint = f"s3://{request.getfixturevalue('s3_bucket')}/news", s3.endpoint_url
        env.update(request.getfixturevalue("s3_env"))
    store = open_store(url, endpoint_url=endpoint)
    store.ensure()
    for key, data in (objects or {}).items():
        store.put(key, data)
    fill_archive(store, records)
    config = write_config(tmp_path / "newsarchive.yaml", url, [], endpoint_url=endpoint)
    yield from serve(types.SimpleNamespace(workdir=tmp_path, config=config, env=env))


BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


@pytest.fixture(params=BACKENDS)
def lost_image(request, tmp_path):
    """`serve` over an archive whose one record names two mirrored images, one gone from the archive since.

    Yields the base URL, the record, the lost image's reference, and the backend.
    """
    from archive.keys import image_key
    from tests.archive_helpers import made_record
    from tests.fixture_site.images import PNG, ImageSpec, spec_bytes

    images, held = [], {}
    for name, colour in (("kept", (0, 128, 128)), ("lost", (220, 20, 60))):
        data = spec_bytes(ImageSpec(name, f"/{name}.png", 120, 80, PNG, colour))
        sha = hashlib.sha256(data).hexdigest()
        images.append({"url": f"https://photos.news.example/{name}.png", "key": image_key(sha, "png"), "sha256": sha,
                       "content_type": "image/png", "bytes": len(data), "width": 120, "height": 80})
        held[images[-1]["key"]] = data
    kept, lost = images
    del held[lost["key"]]  # lost since it was mirrored (verify reports it): the page must still read well
    html = (f'<p>额济纳胡杨林</p><figure><img src="{kept["key"]}" alt="胡杨"></figure>'
            f'<p>居延海<img src="{lost["key"]}" alt="湖面"> 的湖面</p>')
    record = made_record(1, "额济纳胡杨林\n\n居延海 的湖面", "额济纳", html=html, images=images)
    for base in serve_records(request, tmp_path, [record], held):
        yield base, record, lost, request.param


def test_an_image_gone_from_the_archive_is_a_link_to_its_origin_not_a_broken_image(browser, lost_image):
    # The page pointed an <img> at /files/ whatever the archive held: a lost
    # image was a 404 the browser showed as a broken-image icon.
    base, record, lost, kind = lost_image
    context = browser.new_context()
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(f"{base}/article/{record['id']}")
        page.wait_for_load_state("load")
        assert page.locator("article img").count() == 1, "the image the archive holds is shown"
        broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"shown broken: {broken}"
        link = page.locator(f'article a[href="{lost["url"]}"]')
        assert link.count() == 1 and "湖面" in link.inner_text(), "linked to its origin, labelled with its alt text"
        assert "居延海" in page.locator("article").inner_text() and "的湖面" in page.locator("article").inner_text()
        assert all(url.startswith(base) for url in requested), "nothing fetched from the origin"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"serve-{kind}-lost-image.png"), full_page=True)
    finally:
        context.close()


def test_an_article_view_asks_the_store_once_per_image_it_shows(tmp_path):
    # Each <img> of the article asked the store whether it holds the image: a
    # HEAD request per occurrence on a bucket, five for an image shown five times.
    from archive.search import SearchIndex
    from archive.web import create_app
    from tests.archive_helpers import made_record, small_archive

    shown = {"images/ab/" + "ab" * 32 + ".png": 5, "images/cd/" + "cd" * 32 + ".png": 2}
    images = [{"url": f"https://photos.example/{n}.png", "key": key, "sha256": key[-68:-4], "content_type": "image/png",
               "bytes": 3, "width": 1, "height": 1} for n, key in enumerate(shown)]
    html = "".join(f'<p>{n}<img src="{key}" alt="a"></p>' for key, times in shown.items() for n in range(times))
    record = made_record(1, "正文", html=html, images=images)
    store = small_archive(tmp_path / "archive", [record])
    store.put(images[0]["key"], b"png")

    class Counting:
        def __init__(self, inner) -> None:
            self.inner, self.url, self.asked = inner, inner.url, Counter()

        def exists(self, key: str) -> bool:
            self.asked[key] += 1
            return self.inner.exists(key)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    counting = Counting(store)
    client = create_app(counting, SearchIndex(tmp_path / "index.sqlite")).test_client()
    page = client.get(f"/article/{record['id']}").get_data(as_text=True)
    assert counting.asked == Counter(shown.keys())
    assert page.count(f'src="/files/{images[0]["key"]}"') == 5 and page.count(f'href="{images[1]["url"]}"') == 2
    client.get(f"/article/{record['id']}")
    assert counting.asked == Counter({key: 2 for key in shown}), "asked again at the next view: the archive may have changed"


# --- search ------------------------------------------------------------------


def test_search_from_the_form(page, server, archived):
    zh = [r for r in archived.records.values() if r["language"] == "zh"]
    record = max(zh, key=lambda r: len(r["text"]))
    paragraph = max(archived.expected(record).paragraphs, key=len)
    phrase = paragraph[len(paragraph) // 2 - 4: len(paragraph) // 2 + 4]
    for query in (phrase, "疫情", "wetlands"):
        page.goto(server + "/")
        page.fill('input[name="q"]', query)
        page.locator("header form button").click()
        page.wait_for_url("**/search?q=*")
        expected = sorted(r["title"] for r in archived.records.values()
                          if query.casefold() in (r["title"] + "\n" + r["text"]).casefold())
        assert expected and sorted(titles_on(page)) == expected, query
    shot(page, archived, "search")


ODDLY_SPACED = {"zh": "人民网呼和浩特 10 月 25 日电 危难之间显勇毅", "en": "The port   congestion\n\neased by Friday"}


@pytest.fixture(params=BACKENDS)
def oddly_spaced(request, tmp_path):
    """`serve` over two records whose texts are spaced as news sites space them; yields its base URL and the records."""
    from tests.archive_helpers import made_record

    records = {lang: made_record(n, text, f"{lang} news", language=lang) for n, (lang, text) in enumerate(ODDLY_SPACED.items(), 1)}
    for base in serve_records(request, tmp_path, list(records.values())):
        yield base, records


@pytest.mark.parametrize("query, lang, marked, shown", [
    ("10月25日", "zh", "10 月 25 日", "人民网呼和浩特 10 月 25 日电 危难之间显勇毅"),
    ("congestion eased", "en", "congestion\n\neased", "The port congestion eased by Friday"),
])
def test_a_search_snippet_shows_the_records_own_text_and_marks_the_match(browser, oddly_spaced, query, lang, marked, shown):
    # The snippet was cut from the index's text, whitespace beside Chinese
    # dropped: "10月25日" where the article says "10 月 25 日", and [brackets] for a highlight.
    base, records = oddly_spaced
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{base}/search?q={urllib.parse.quote(query)}")
        hit = page.locator("ol.hits li").filter(has=page.locator(f'a[href="/article/{records[lang]["id"]}"]'))
        assert hit.count() == 1
        snippet = hit.locator(".snippet")
        assert " ".join(snippet.inner_text().split()) == shown, "as the record writes it, as the browser shows it"
        assert snippet.locator("mark").count() == 1 and snippet.locator("mark").text_content() == marked
        highlight = snippet.locator("mark").evaluate("m => getComputedStyle(m).backgroundColor")
        assert highlight not in ("rgba(0, 0, 0, 0)", "transparent"), "the match stands out"
        assert "[" not in snippet.inner_text()
    finally:
        context.close()


def test_hostile_query_is_shown_escaped(page, server, archived):
    page.goto(server + "/")
    page.fill('input[name="q"]', HOSTILE)
    page.locator("header form button").click()
    page.wait_for_url("**/search?q=*")
    assert HOSTILE in page.locator("h2").inner_text()
    assert page.locator('input[name="q"]').input_value() == HOSTILE
    assert page.locator("main script").count() == 0
    html = page.content()
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "No article matches" in page.locator("main").inner_text()
    shot(page, archived, "hostile")
    # The source page echoes its path back: escaped as well.
    hostile_source = '"><img src=x onerror=alert(1)>'
    page.goto(server + "/source/" + urllib.parse.quote(hostile_source, safe=""))
    assert hostile_source in page.locator("h2").inner_text()
    assert page.locator("img").count() == 0 and hostile_source not in page.content()


def titles_page_by_page(page, url: str) -> tuple[list[str], int]:
    """Every title of a list, following its "older" links as a reader would; and how many pages."""
    page.goto(url)
    titles, pages = titles_on(page), 1
    while page.locator('a[rel="next"]').count():
        page.locator('a[rel="next"]').click()
        page.wait_for_url(f"**page={pages + 1}*")
        titles += titles_on(page)
        pages += 1
    return titles, pages


def test_long_lists_go_on_over_pages(browser, paged_server, archived):
    # A large archive was cut at 100 entries (500 a source, 50 hits) with no
    # way on: here a page holds 2, and every article is reached by its links.
    context = browser.new_context()
    page = context.new_page()
    try:
        records = list(archived.records.values())
        assert len(records) > 2 * SMALL_PAGE, "the fixture archive runs over three pages at least"
        titles, pages = titles_page_by_page(page, paged_server + "/")
        assert Counter(titles) == Counter(r["title"] for r in records)
        assert pages == -(-len(records) // SMALL_PAGE)
        assert f"page {pages} of {pages}" in page.locator("nav.pager").inner_text()
        page.locator('a[rel="prev"]').click()
        assert titles_on(page) == titles[(pages - 2) * SMALL_PAGE:(pages - 1) * SMALL_PAGE], "back a page"
        source = Counter(r["source"] for r in records).most_common(1)[0][0]
        titles, _ = titles_page_by_page(page, f"{paged_server}/source/{source}")
        assert Counter(titles) == Counter(r["title"] for r in records if r["source"] == source)
        query = "的"  # in nearly every Chinese article
        expected = Counter(r["title"] for r in records if query in r["title"] + "\n" + r["text"])
        assert sum(expected.values()) > SMALL_PAGE
        titles, pages = titles_page_by_page(page, f"{paged_server}/search?q={urllib.parse.quote(query)}")
        assert Counter(titles) == expected and pages > 1
        page.goto(paged_server + "/?page=999")
        assert titles_on(page) == [] and page.locator('a[rel="prev"]').count() == 1, "past the end: a way back"
    finally:
        context.close()


def test_any_page_number_is_answered(server, archived):
    for path in ("/search?q=the&page=9999999999999999999", "/?page=99999999999999999999999", "/?page=-3", "/?page=x"):
        assert status_of(server, "GET", path) == 200, path


def test_a_nul_anywhere_in_a_request_is_answered(server, archived):
    # A NUL ended FTS5's reading of the query, and no file name can hold one: both were 500s.
    image = next(i for r in archived.records.values() for i in r["images"])
    answers = {"/search?q=%00": 200, "/search?q=port%00congestion": 200, "/search?q=%E7%96%AB%00%E6%83%85": 200,
               "/search?q=the&page=%00": 200, "/?page=1%00": 200, "/source/site-rss%00": 200, "/day/2021-10-26%00": 404,
               "/article/%00": 404, "/files/images/%00": 404, f"/files/{image['key']}%00": 404}
    assert {path: status_of(server, "GET", path) for path in answers} == answers


# --- read-only, and nothing beyond the images ----------------------------------


def test_writes_are_refused(server, archived):
    record = next(iter(archived.records.values()))
    paths = ["/", "/search?q=x", f"/article/{record['id']}", f"/source/{record['source']}",
             f"/files/{record['images'][0]['key'] if record['images'] else 'images/x.jpg'}", "/no/such/page"]
    for path in paths:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert status_of(server, method, path) == 405, (method, path)
    assert status_of(server, "GET", "/") == 200


def test_only_images_are_served_raw(server, archived):
    record = next(iter(archived.records.values()))
    article_path = f"articles/{record['id'][:2]}/{record['id']}.json"
    image = next(i for r in archived.records.values() for i in r["images"])
    bad = ["/files/../x", "/files/..%2Fx", "/files/%2e%2e/x", f"/files/{article_path}", f"/files/images/../{article_path}",
           "/files/runs/", f"/files/{record['capture']['warc']}", "/files/images/00/00/nothing.jpg", "/files//etc/passwd",
           "/article/../files/x", "/article/not-an-id", "/day/yesterday"]
    for path in bad:
        assert status_of(server, "GET", path) == 404, path
    assert status_of(server, "GET", f"/files/{image['key']}") == 200
