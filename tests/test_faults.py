"""Real faults over real HTTP: every bad page is recorded with its reason, never archived,
tried again next run; hostile pages cannot put script into stored HTML."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from archive.keys import ARTICLES_PREFIX
from tests.crawl_helpers import archive_store, article_records, crawl, latest_run, write_config
from tests.fixture_site import ARTICLES, FixtureSite
from tests.fixture_site.responses import Response

PARAGRAPH = "这是一篇用来测试故障处理的新闻稿件，内容足够长，足以让正文提取器把它当作文章正文来看待，而不是页面上的导航或者广告。" * 3
INJECTION = f"""<html lang="zh-CN"><head><meta charset="utf-8"><title>注入测试</title>
<script>document.cookie</script></head><body onload="alert(1)"><h1>注入测试</h1>
<p onclick="alert(2)">{PARAGRAPH}</p>
<p>{PARAGRAPH}<script>alert(3)</script><a href="javascript:alert(4)">链接</a><a href="JaVaScRiPt:alert(5)">二</a></p>
<iframe src="http://127.0.0.1/evil"></iframe><svg onload="alert(6)"><circle r="1"/></svg>
<p>{PARAGRAPH}<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(7)"><style>p{{x:expression(alert(8))}}</style></p>
<p>{PARAGRAPH}<img src="http://localhost:9/internal.jpg"><img src="http://[::1]:9/internal.png"></p>
</body></html>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><title>&lol3;</title><item><title>x</title><link>http://127.0.0.1/x</link></item></channel></rss>"""


def _article_page(title: str) -> bytes:
    return f"<html lang='zh-CN'><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1><p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></body></html>".encode()


class TruncatingServer:
    """Promises 5000 bytes, sends 40, hangs up: a truncated body."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5000\r\n\r\n<html><body><p>cut short")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def faulty_site():
    flaky_calls: list[float] = []

    def flaky(request):
        flaky_calls.append(time.monotonic())
        if len(flaky_calls) % 2 == 1:
            return Response(503, b"busy", "text/plain", headers={"Retry-After": "1"})
        return Response(200, _article_page("稍后重试后成功的文章"))

    site = FixtureSite().start()
    truncating = TruncatingServer()
    good = ARTICLES[0]
    links = {
        "good": site.url(good.path),
        "500": site.url("/faults/500.html"),
        "flaky": site.url("/faults/flaky.html"),
        "slow": site.url("/faults/slow.html"),
        "reset": site.url("/faults/reset.html"),
        "pdf": site.url("/faults/report.pdf"),
        "inject": site.url("/faults/inject.html"),
        "robots": site.url("/private/drafts/preview.html"),
        "truncated": f"http://127.0.0.1:{truncating.port}/cut.html",
        "loop": site.url("/faults/loop-a.html"),
        "moved": site.url("/faults/moved.html"),
        # Past Scrapy's default URL length limit (2083), within ours.
        "long": site.url("/faults/long-query.html?ref=" + "x" * 3000),
        # Past ours, a tracking query; the same article's clean link comes next.
        "too_long": site.url("/faults/too-long.html?utm_content=" + "y" * 9000),
        "too_long_clean": site.url("/faults/too-long.html"),
    }
    items = "".join(f"<item><title>{name}</title><link>{url}</link></item>" for name, url in links.items())
    feed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>faults</title>{items}</channel></rss>'
    site.add_route("/faults/feed.xml", lambda r: Response(200, feed.encode(), "application/rss+xml"))
    site.add_route("/faults/bomb.xml", lambda r: Response(200, BILLION_LAUGHS, "application/rss+xml"))
    site.add_route("/faults/500.html", lambda r: Response(500, b"oops", "text/plain"))
    site.add_route("/faults/flaky.html", flaky)
    site.add_route("/faults/slow.html", lambda r: Response(200, _article_page("慢"), delay=6))
    site.add_route("/faults/reset.html", lambda r: Response(reset=True))
    site.add_route("/faults/report.pdf", lambda r: Response(200, b"%PDF-1.4\n%fake\n", "application/pdf"))
    site.add_route("/faults/inject.html", lambda r: Response(200, INJECTION.encode()))
    # Moved by a refresh tag 2,200 characters (4,400 bytes of GBK) into a 25 KB page.
    moved = (f"<html><head><meta charset='gbk'><title>{'旧址' * 1100}</title>"
             "<meta http-equiv='refresh' content='0; url=/faults/moved-here.html'></head>"
             f"<body>{('<p>' + PARAGRAPH + '</p>') * 60}</body></html>").encode("gbk")
    site.add_route("/faults/moved.html", lambda r: Response(200, moved, "text/html"))
    site.add_route("/faults/moved-here.html", lambda r: Response(200, _article_page("搬到新址的文章")))
    site.add_route("/faults/long-query.html", lambda r: Response(200, _article_page("网址很长的文章")))
    site.add_route("/faults/too-long.html", lambda r: Response(200, _article_page("网址太长的文章")))
    site.add_route("/faults/loop-a.html", lambda r: Response(302, b"", "text/plain", headers={"Location": "/faults/loop-b.html"}))
    site.add_route("/faults/loop-b.html", lambda r: Response(302, b"", "text/plain", headers={"Location": "/faults/loop-a.html"}))
    yield site, links, flaky_calls, truncating
    truncating.close()
    site.stop()


@pytest.fixture(scope="module")
def fault_run(faulty_site, tmp_path_factory):
    site, links, flaky_calls, truncating = faulty_site
    root = tmp_path_factory.mktemp("faults")
    sources = [
        {"id": "faults", "kind": "feed", "url": site.url("/faults/feed.xml")},
        {"id": "bomb", "kind": "feed", "url": site.url("/faults/bomb.xml")},
    ]
    config = write_config(root / "cfg.yaml", str(root / "archive"), sources, timeout=3, extract_workers=1)
    crawl(config)  # exit 0: the run completed although pages failed
    store = archive_store(str(root / "archive"))
    return config, store, latest_run(store)


def _reason(run: dict, url: str) -> str:
    reasons = [f["reason"] for f in run["failures"] if f["url"] == url]
    assert reasons, f"{url} is not in the run record's failures"
    return reasons[0]


def test_each_fault_is_recorded_with_its_reason(faulty_site, fault_run):
    site, links, _calls, _trunc = faulty_site
    _config, _store, run = fault_run
    assert run["status"] == "completed"
    assert "HTTP 500" in _reason(run, links["500"])
    assert "timeout" in _reason(run, links["slow"]).lower() or "Timeout" in _reason(run, links["slow"])
    assert _reason(run, links["reset"])
    assert "application/pdf" in _reason(run, links["pdf"])
    assert "robots" in _reason(run, links["robots"]).lower()
    assert _reason(run, links["truncated"])
    assert "redirect" in _reason(run, links["loop"]).lower()
    assert "refused XML" in _reason(run, site.url("/faults/bomb.xml"))
    assert site.count("/private/drafts/preview.html") == 0, "robots.txt obeyed"


def test_no_fault_is_archived_and_good_pages_are(faulty_site, fault_run):
    site, links, _calls, _trunc = faulty_site
    _config, store, _run = fault_run
    records = article_records(store)
    urls = {r["url"] for r in records.values()}
    assert links["good"] in urls and links["flaky"] in urls and links["inject"] in urls
    for name in ("500", "slow", "reset", "pdf", "robots", "truncated", "loop"):
        assert links[name] not in urls, name


def test_a_page_moved_by_a_refresh_tag_is_followed(faulty_site, fault_run):
    site, links, _calls, _trunc = faulty_site
    _config, store, _run = fault_run
    record = next(r for r in article_records(store).values() if r["title"] == "搬到新址的文章")
    assert record["url"] == site.url("/faults/moved-here.html")
    assert all(r["url"] != links["moved"] for r in article_records(store).values())


def test_a_url_past_the_length_limit_is_a_failure_of_the_run_and_a_long_one_is_fetched(faulty_site, fault_run):
    site, links, _calls, _trunc = faulty_site
    _config, store, run = fault_run
    assert "URL longer than 8000 characters" in _reason(run, links["too_long"])
    assert [(f["kind"], f["attempt"]) for f in run["failures"] if f["url"] == links["too_long"]] == [("link", 1)]
    # The article itself is fetched once, under its clean link.
    assert site.count("/faults/too-long.html") == 1
    titles = {r["title"] for r in article_records(store).values()}
    assert {"网址很长的文章", "网址太长的文章"} <= titles


def test_retry_after_is_honoured(faulty_site, fault_run):
    _site, _links, calls, _trunc = faulty_site
    assert len(calls) >= 2
    assert calls[1] - calls[0] >= 0.9, "the retry waited for Retry-After: 1"


def test_hostile_page_cannot_inject_script(faulty_site, fault_run):
    _site, links, _calls, _trunc = faulty_site
    _config, store, _run = fault_run
    record = next(r for r in article_records(store).values() if r["url"] == links["inject"])
    html = record["html"].lower()
    for forbidden in ("<script", "onload", "onclick", "onerror", "javascript:", "<iframe", "<svg", "<style", "data:image", "expression("):
        assert forbidden not in html, forbidden
    assert PARAGRAPH[:20] in record["text"]


def test_failed_pages_are_tried_again_next_run(faulty_site, fault_run):
    site, links, _calls, truncating = faulty_site
    config, store, _run = fault_run
    before = {name: site.count(links[name].replace(site.base_url, "")) for name in ("500", "pdf", "reset")}
    hits = truncating.hits
    crawl(config)
    for name, count in before.items():
        assert site.count(links[name].replace(site.base_url, "")) > count, name
    # An over-long link is not asked for again (it would be dropped again): only the feed names it.
    assert [f["attempt"] for f in latest_run(store)["failures"] if f["url"] == links["too_long"]] == [1]
    assert truncating.hits > hits
    assert all(json.loads(store.get(k))["url"] != links["500"] for k in store.list(ARTICLES_PREFIX))


def test_private_addresses_a_page_points_at_are_refused(faulty_site, fault_run):
    _site, _links, _calls, _trunc = faulty_site
    _config, _store, run = fault_run
    for url in ("http://localhost:9/internal.jpg", "http://[::1]:9/internal.png"):
        assert "refused" in _reason(run, url), url


def test_a_challenge_served_with_an_error_status_is_handled_as_a_challenge(tmp_path):
    from tests.fixture_site.zaker_pages import challenge_page

    site = FixtureSite().start()
    challenge = challenge_page("/walled/feed.xml").encode()
    carried, lost = site.url("/walled/carried.html"), site.url("/walled/lost.html")
    body = "".join(f"<p>{PARAGRAPH}</p>" for _ in range(3))
    site.add_route("/walled/feed.xml", lambda request: Response(403, challenge, "text/html; charset=utf-8"))
    site.add_route("/open/feed.xml", lambda request: Response(200, (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"<item><title>全文在源里</title><link>{carried}</link><content:encoded><![CDATA[{body}]]></content:encoded></item>"
        f"<item><title>只有标题</title><link>{lost}</link></item></channel></rss>").encode(), "application/rss+xml"))
    for path in ("/walled/carried.html", "/walled/lost.html"):
        site.add_route(path, lambda request: Response(403, challenge, "text/html; charset=utf-8"))
    try:
        config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"), [
            {"id": "walled", "kind": "feed", "url": site.url("/walled/feed.xml")},
            {"id": "open", "kind": "feed", "url": site.url("/open/feed.xml")},
        ])
        crawl(config)
        store = archive_store(str(tmp_path / "archive"))
        run = latest_run(store)
        # A feed answered with a challenge: its source is blocked, the challenge named.
        assert set(run["blocked"]) == {"walled"} and "WAF challenge page (HTTP 403)" in run["blocked"]["walled"]
        reasons = {f["url"]: f["reason"] for f in run["failures"]}
        assert reasons[site.url("/walled/feed.xml")].startswith("WAF challenge page (HTTP 403)")
        # An article behind one comes from the feed that carries it, else it is a failure.
        records = article_records(store)
        assert set(records) == {carried} and records[carried]["title"] == "全文在源里"
        assert PARAGRAPH[:20] in records[carried]["text"] and "captcha" not in records[carried]["text"].lower()
        assert reasons[lost].startswith("WAF challenge page instead of the article")
    finally:
        site.stop()


@pytest.mark.parametrize("together", [False, True], ids=["one-at-a-time", "in-flight-together"])
def test_an_extraction_worker_that_dies_fails_only_its_page(together):
    # A worker killed mid-page (the OOM killer, a crash in a C extension)
    # breaks Python's process pool, with every page it held: the pipeline
    # starts a new pool, and tries each of those pages once more in a worker
    # of its own, so only the page that kills its worker fails.
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, "-m", "tests.probes.extract_pool", *(["--together"] if together else [])],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    killer = "https://news.example/kill-the-worker.html"
    assert outcomes.pop(killer) == "failed: extraction failed: its worker died, twice", result.stdout
    assert len(outcomes) == (7 if together else 3) and set(outcomes.values()) == {"ok"}, result.stdout + result.stderr[-2000:]


def test_a_host_whose_lookup_fails_is_refused_not_let_through(monkeypatch):
    # A failed lookup is not cached: let through, the download would ask
    # again, and a hostile name server could answer 127.0.0.1 the second time.
    import asyncio

    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    import crawler.middlewares as middlewares

    answers = {"rebind.example": [], "news.example": ["93.184.216.34"], "inside.example": ["10.0.0.7"]}

    async def resolve(host: str) -> list[str]:
        return answers[host]

    from twisted.internet.error import DNSLookupError

    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(middlewares, "_resolve", resolve)
    guard = middlewares.PrivateAddressMiddleware(set())
    # A DNS error, which the retry middleware retries (this check with it), never a download.
    with pytest.raises(DNSLookupError, match="cannot resolve rebind.example"):
        asyncio.run(guard.process_request(Request("http://rebind.example/x")))
    with pytest.raises(IgnoreRequest, match="private"):
        asyncio.run(guard.process_request(Request("http://inside.example/x")))
    assert asyncio.run(guard.process_request(Request("http://news.example/x"))) is None
    # Behind a proxy the proxy resolves names; a private literal address is still refused.
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    assert asyncio.run(guard.process_request(Request("http://rebind.example/x"))) is None
    with pytest.raises(IgnoreRequest, match="private"):
        asyncio.run(guard.process_request(Request("http://127.0.0.1:8/x")))


def test_challenges_on_articles_in_a_row_block_the_source_for_the_rest_of_the_run(tmp_path):
    # One challenged article is a fluke of one page (see test_zaker); several
    # in a row mean the site now challenges the crawler: asking on gets it banned.
    from crawler.spiders.news import CHALLENGES_IN_A_ROW_TO_BLOCK
    from tests.crawl_helpers import add_feed_of_articles, article_page
    from tests.fixture_site.zaker_pages import challenge_page

    site = FixtureSite().start()
    walled = add_feed_of_articles(site, "/walled", 8, page=lambda n: Response(
        200, challenge_page(f"/walled/{n}.html").encode(), "text/html; charset=utf-8"))
    fine = add_feed_of_articles(site, "/fine", 3)
    # A challenged page between real ones starts the count again.
    flaky = add_feed_of_articles(site, "/flaky", 4, page=lambda n: Response(
        200, challenge_page(f"/flaky/{n}.html").encode() if n % 2 else article_page(f"flaky {n}"),
        "text/html; charset=utf-8"))
    try:
        config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"), [
            {"id": "walled", "kind": "feed", "url": site.url("/walled/feed.xml")},
            {"id": "fine", "kind": "feed", "url": site.url("/fine/feed.xml")},
            {"id": "flaky", "kind": "feed", "url": site.url("/flaky/feed.xml")},
        ], concurrency=1)
        crawl(config)
        store = archive_store(str(tmp_path / "archive"))
        run, records = latest_run(store), article_records(store)
        assert set(run["blocked"]) == {"walled"}, run["blocked"]
        assert f"{CHALLENGES_IN_A_ROW_TO_BLOCK} articles in a row" in run["blocked"]["walled"]
        fetched = [url for url in walled if site.count(url.removeprefix(site.base_url))]
        # One at a time: the next page may be on its way as the third challenge is read.
        assert CHALLENGES_IN_A_ROW_TO_BLOCK <= len(fetched) <= CHALLENGES_IN_A_ROW_TO_BLOCK + 1, fetched
        reasons = {f["url"]: f["reason"] for f in run["failures"] if f["source"] == "walled"}
        assert set(reasons) == set(walled), "every article of the blocked source is a failure, tried again next run"
        for url in set(walled) - set(fetched):
            assert "not fetched: the source is blocked" in reasons[url], reasons[url]
        assert set(records) == {*fine, *(url for n, url in enumerate(flaky) if n % 2 == 0)}

        crawl(config)  # next run: still blocked, and still nothing of it lost
        again = latest_run(store)
        assert again["run_id"] != run["run_id"] and set(again["blocked"]) == {"walled"}
        assert {f["url"] for f in again["failures"] if f["source"] == "walled"} == set(walled)
    finally:
        site.stop()


def test_a_dropped_article_is_logged_by_its_url_not_its_whole_page(tmp_path):
    # Scrapy logs a dropped item whole: a failed article wrote its page (up to
    # tens of KB a line) into the log, and under the daemon into the journal.
    marker = "整页内容不应写进日志" * 500
    empty = f"<html><head><title>空</title><script>var filler = '{marker}';</script></head><body></body></html>"
    with FixtureSite() as site:
        url = site.url("/faults/empty.html")
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>空</title><link>{url}</link></item></channel></rss>'
        site.add_route("/faults/empty.html", lambda r: Response(200, empty.encode()))
        site.add_route("/faults/empty.xml", lambda r: Response(200, feed.encode(), "application/rss+xml"))
        config = write_config(tmp_path / "cfg.yaml", str(tmp_path / "archive"), [{"id": "empty", "kind": "feed", "url": site.url("/faults/empty.xml")}])
        result = crawl(config)
    assert _reason(latest_run(archive_store(str(tmp_path / "archive"))), url).startswith("no article")
    dropped = [line for line in result.stderr.splitlines() if "Dropped" in line]
    assert dropped and any(url in line for line in result.stderr.splitlines()), result.stderr[-2000:]
    assert "整页内容" not in result.stderr and len(result.stderr) < 20_000
