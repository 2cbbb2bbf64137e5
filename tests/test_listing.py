"""``listing`` sources (issue 3): list pages of sites with neither feed nor
sitemap, per-source selectors, and the Chinese datelines and bylines of such
sites that tests/test_metadata.py does not cover.

The e-paper of the fixture site is the model: list pages chained by a 下一版
link, articles whose headline, time and byline generic extraction gets wrong.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from archive.keys import ARTICLES_PREFIX
from archive.fields import article_id
from archive.records import load_record
from crawler.config import ConfigError
from crawler.configfile import parse_config
from crawler.extract.core import ExtractOptions, extract_article
from crawler.extract.metadata import page_metadata
from crawler.extract.rules import SiteRules
from crawler.extract.zh_bylines import parse_byline, person_names
from crawler.extract.zh_dates import dateline_date, parse_zh_datetime
from crawler.sources.listing import parse_listing
from tests.crawl_helpers import archive_backend, archive_store, article_records, crawl, latest_run, write_config
from tests.fixture_site.epaper import (
    EPAPER_ARTICLES, EPAPER_DIR, EPAPER_SELECTORS, LINK_PATTERN, NEXT_SELECTOR, TRADE, EpaperArticle, article_page,
    articles_within, boilerplate, list_page, node_path,
)

SH = ZoneInfo("Asia/Shanghai")
BASE = "http://127.0.0.1:8000"
MAX_PAGES = 2
RULES = SiteRules(title=EPAPER_SELECTORS["title_selector"], published=EPAPER_SELECTORS["date_selector"],
                  author=EPAPER_SELECTORS["author_selector"], body=EPAPER_SELECTORS["body_selector"])


def epaper_source(site, **overrides) -> dict:
    return {"id": "epaper", "kind": "listing", "url": site.url(node_path(1)), "link_pattern": LINK_PATTERN,
            "next_selector": NEXT_SELECTOR, "max_pages": MAX_PAGES, "categories": ["数字报"],
            **EPAPER_SELECTORS, **overrides}


# --- parse_listing -------------------------------------------------------------------


def test_links_by_pattern_and_the_next_page():
    page = parse_listing(list_page(1), BASE + node_path(1), link_selector=None, link_pattern=LINK_PATTERN,
                         next_selector=NEXT_SELECTOR)
    # Not the 版面导航, the PDF, the 往期回顾: only article links, absolute.
    assert page.article_urls == [BASE + a.path for a in EPAPER_ARTICLES if a.page == 1]
    # ".pager .next" selects the <span> around the 下一版 link.
    assert page.next_url == BASE + node_path(2)
    last = parse_listing(list_page(3), BASE + node_path(3), link_selector=None, link_pattern=LINK_PATTERN,
                         next_selector=NEXT_SELECTOR)
    assert last.article_urls == [TRADE.url(BASE)] and last.next_url is None


@pytest.mark.parametrize(("selector", "pattern"), [("#list li", None), ("#list a", None), ("a", LINK_PATTERN)])
def test_links_by_selector(selector, pattern):
    page = parse_listing(list_page(1), BASE + node_path(1), link_selector=selector, link_pattern=pattern,
                         next_selector=".pager .next a")
    assert page.article_urls == [BASE + a.path for a in EPAPER_ARTICLES if a.page == 1]
    assert page.next_url == BASE + node_path(2)


def test_links_that_are_no_pages_are_skipped():
    html = """<html><body><ul class="list">
    <li><a href="javascript:void(0)">打开</a></li><li><a href="mailto:a@b.example">来信</a></li>
    <li><a href="#top">顶部</a></li><li><a> 无链接 </a></li><li><a href=" content_7.htm ">正文</a></li>
    <li><a href="content_7.htm#p2">同一篇</a></li></ul>
    <div class="pager"><a class="next" href="javascript:;">下一页</a><a class="next" href="node_2.htm">下一页</a></div>
    </body></html>"""
    page = parse_listing(html, "http://e.example/2020/node_1.htm", link_selector="ul.list li", link_pattern=None,
                         next_selector=".pager .next")
    assert page.article_urls == ["http://e.example/2020/content_7.htm", "http://e.example/2020/content_7.htm#p2"]
    assert page.next_url == "http://e.example/2020/node_2.htm"


# --- per-source selectors ---------------------------------------------------------------


@pytest.mark.parametrize("article", EPAPER_ARTICLES, ids=lambda a: a.key)
def test_selectors_override_generic_extraction(article: EpaperArticle):
    page = article_page(article).encode()
    extracted = extract_article(page, article.url(BASE), options=ExtractOptions(rules=RULES))
    assert extracted.title == article.title
    assert extracted.authors == list(article.authors)  # the byline parsed; 编辑：… is no author
    assert extracted.published == article.published_utc
    assert extracted.text.split("\n\n") == list(article.paragraphs)
    for noise in boilerplate(article):
        assert noise not in extracted.text and noise not in extracted.html, noise
    # Without them this layout reads wrong: the masthead as title, the build date as date.
    generic = extract_article(page, article.url(BASE), options=ExtractOptions())
    assert generic.title != article.title and generic.published != article.published_utc


def test_bad_selector_is_a_config_error(tmp_path):
    text = f"""sources:
  - id: epaper
    kind: listing
    url: {BASE}{node_path(1)}
    link_pattern: 'content_\\d+'
    title_selector: 'td.font01['
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "bad.yaml")
    assert any(key == "sources[0].title_selector" and line == 6 for line, key, _ in caught.value.problems), caught.value


# --- Chinese datelines and bylines not covered by test_metadata -------------------------------

NOW = datetime(2021, 10, 27, 12, 0, tzinfo=SH)
BODY = ("<p>眼下正值春耕备耕关键时期，全区各地在做好疫情防控的同时，抢抓农时组织农民群众开展春耕生产，种子、化肥、农机等农资供应充足。"
        "农牧部门组织农技人员深入田间地头，帮助农民解决备耕中遇到的实际问题。</p>"
        "<p>据统计，全区已储备各类农作物种子两亿余公斤，化肥到位率超过八成，春耕生产物资保障有力，各项工作正在有序推进之中。</p>")


def news_page(header: str, *, head: str = "", after: str = "") -> lxml.html.HtmlElement:
    return lxml.html.fromstring(f"""<html lang="zh-CN"><head><meta charset="utf-8"><title>春耕备耕有序推进_北疆新闻网</title>
{head}</head><body><div class="nav"><a href="/">首页</a></div><div class="article"><h1>春耕备耕有序推进</h1>
{header}<div class="content">{BODY}</div>{after}</div><div class="footer">Copyright © 2003-2021 北疆新闻网</div></body></html>""")


@pytest.mark.parametrize(("header", "expected"), [
    ('<div class="info">2020-4-8 10:23:05 来源：新华网</div>', datetime(2020, 4, 8, 10, 23, 5)),
    ('<div class="info">时间：2020年04月08日 10:23</div>', datetime(2020, 4, 8, 10, 23)),
    ('<p>发布时间：2020-4-8 10:23:05　作者：张三</p>', datetime(2020, 4, 8, 10, 23, 5)),
    ('<div class="source">来源：大河报　2020年04月08日 10:23</div>', datetime(2020, 4, 8, 10, 23)),
])
def test_datelines_on_the_page(header, expected):
    meta = page_metadata(news_page(header), now=NOW)
    assert (meta.published, meta.published_from) == (expected, "zh-dateline")


def test_structured_dates_come_before_the_dateline():
    header = '<div class="info">发布时间：2020-04-08 10:23</div>'
    meta_tag = '<meta property="article:published_time" content="2020-04-08T09:00:00+08:00">'
    meta = page_metadata(news_page(header, head=meta_tag), now=NOW)
    assert (meta.published.isoformat(), meta.published_from) == ("2020-04-08T09:00:00+08:00", "meta")
    jsonld = ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2020-04-08T08:30:00+08:00",'
              ' "author": {"@type": "Person", "name": "李四"}}</script>')
    meta = page_metadata(news_page(header, head=jsonld + meta_tag), now=NOW)
    assert (meta.published.isoformat(), meta.published_from, meta.authors) == ("2020-04-08T08:30:00+08:00", "json-ld", ["李四"])


@pytest.mark.parametrize(("header", "after", "authors", "editors", "source"), [
    ('<div class="info">2020-04-08 10:23　记者 张三</div>', "", ["张三"], [], None),
    ('<div class="info">2020-04-08 10:23　本报记者 王静　通讯员 李明</div>', "", ["王静", "李明"], [], None),
    ('<div class="info">来源：内蒙古日报　作者：张三</div>', '<div class="edit">责任编辑：李四</div>', ["张三"], ["李四"], "内蒙古日报"),
    ('<div class="info">2020-04-08 10:23　来源：新华网</div>', '<p class="editor">编辑：王五</p>', [], ["王五"], "新华网"),
    # the same person as writer and editor is an editor only
    ('<div class="info">作者：赵六　编辑：赵六</div>', "", [], ["赵六"], None),
])
def test_bylines_on_the_page(header, after, authors, editors, source):
    meta = page_metadata(news_page(header, after=after), now=NOW)
    assert (meta.authors, meta.editors, meta.source_name) == (authors, editors, source)


@pytest.mark.parametrize("text", [
    "2020-4-31 10:23",  # no 31 April
    "2020-4-8 25:23:05",  # no hour 25: a misread, not a midnight guess
    "2020年13月08日",
    "时间：待定",
    "发布时间：",
    "2020-4",
    "4-8",  # month-day without a clock time is too ambiguous
])
def test_not_dates(text):
    assert parse_zh_datetime(text, now=NOW) is None


@pytest.mark.parametrize("text", [
    "时间：2020-04-08 10:23　更新时间：2020-04-09",  # labelled: the first one, not the update
])
def test_dateline_with_a_label(text):
    assert dateline_date(text).value == datetime(2020, 4, 8, 10, 23)


@pytest.mark.parametrize(("text", "expected"), [
    ("本报记者", ([], [], None)),  # a label without a name
    ("通讯员", ([], [], None)),
    ("作者：人民网", ([], [], None)),  # an outlet is no author
    ("来源：", ([], [], None)),
    ("编辑部", ([], [], None)),
    ("本报记者 王静　编辑：赵敏", (["王静"], ["赵敏"], None)),
    ("记者 张三 摄影 李四", (["张三"], [], None)),  # the photographer is credited, not an author
    ("责任编辑：王五 作者：张三", (["张三"], ["王五"], None)),
])
def test_bylines_text(text, expected):
    assert parse_byline(text) == expected


@pytest.mark.parametrize(("value", "names"), [
    # What an author selector or <meta name="author"> holds.
    ("本报记者 王静 通讯员 李明", ["王静", "李明"]),
    ("人民网", ["人民网"]),  # a bare name stays (ZAKER's byline is the account)
    ("编辑：李四", []),  # an editor credit names no author
    ("本报记者", []),
    ("作者：张三 编辑：张三", ["张三"]),
])
def test_person_names_of_a_byline_value(value, names):
    assert person_names(value) == names


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path):
    return archive_backend(request, tmp_path)


def test_epaper_listing_crawl(site, backend, tmp_path):
    url, endpoint, env = backend
    config = write_config(tmp_path / "newsarchive.yaml", url, [epaper_source(site)], endpoint_url=endpoint)
    site.reset_log()
    crawl(config, env=env)
    assert site.errors == []
    store = archive_store(url, endpoint)
    records, run = article_records(store), latest_run(store)
    expected = articles_within(MAX_PAGES)
    assert set(records) == {a.url(site.base_url) for a in expected}
    for article in expected:
        record = records[article.url(site.base_url)]
        load_record(store.get(f"{ARTICLES_PREFIX}{record['id'][:2]}/{record['id']}.json"))
        assert (record["id"], record["source"]) == (article_id(article.url(site.base_url)), "epaper")
        assert record["title"] == article.title
        assert record["authors"] == list(article.authors)
        assert record["published"] == article.published_utc
        assert record["language"] == "zh" and record["categories"] == ["数字报"]
        assert record["text"].split("\n\n") == list(article.paragraphs)
        assert not [n for n in boilerplate(article) if n in record["text"] or n in record["html"]]
        assert record["images"] == []
    assert run["status"] == "completed" and run["failures"] == [] and run["blocked"] == {}
    assert run["counts"]["archived"] == len(expected)
    # Paging up to max_pages and no further; nothing but list and article pages asked for.
    paths = [p for p in site.paths() if p != "/robots.txt"]
    assert sorted(paths) == sorted([node_path(p) for p in range(1, MAX_PAGES + 1)] + [a.path for a in expected])
    assert all(p.startswith(EPAPER_DIR) for p in paths)
    assert site.count(node_path(MAX_PAGES + 1)) == 0 and site.count(TRADE.path) == 0
    assert datetime.fromisoformat(records[expected[0].url(site.base_url)]["fetched"]) <= datetime.now(timezone.utc)
