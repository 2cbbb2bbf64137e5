"""Metadata extraction: publish dates, bylines, sources and titles of news pages.

Page snippets imitate real markup: Chinese portals (logo <h1>, nav, ranking
sidebar, related lists, copyright footer) and English news sites.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from crawler.extract.metadata import (
    PageMetadata,
    find_bylines,
    find_dateline,
    jsonld_articles,
    meta_authors,
    page_metadata,
    page_title,
    parse_byline,
    parse_date_value,
    parse_zh_datetime,
    structured_authors,
    structured_published,
    time_element_published,
)
from crawler.extract import zh_patterns as zp
from crawler.extract.page import Page
from crawler.extract.zh_bylines import trailing_credit
from crawler.extract.zh_dates import dateline, dateline_date, scan_dates, url_date

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2021, 10, 27, 12, 0, tzinfo=SH)

# Long enough (and punctuated) to read as body text; dates inside are prose.
BODY = """
<p>1月29日，自治区公安厅召开新闻发布会，通报2020年1月25日以来全区公安机关开展疫情防控工作的情况。发布会上，有关负责人介绍了各项措施的落实情况，并回答了记者提问。</p>
<p>据介绍，自2020年1月25日启动一级响应以来，全区公安机关共出动警力十余万人次，设置检查站点三百余个，检查车辆和人员数量巨大，有力保障了群众生命安全和身体健康。</p>
<p>下一步，公安机关将继续严格落实各项防控措施，依法打击各类违法犯罪活动，维护社会大局持续稳定，为打赢疫情防控阻击战提供坚强保障。</p>
"""

RANKING = """
<div class="right-side"><h3>热点排行</h3><ul>
<li><a href="/a1">郑州地铁三号线一期工程正式开通运营</a><span class="time">2021-01-04</span></li>
<li><a href="/a2">河南全面推进城镇老旧小区改造工作</a><span class="time">2021-01-03</span></li>
<li><a href="/a3">黄河流域生态保护和高质量发展</a><span class="time">2021-01-02</span></li>
</ul></div>
"""


def portal(article: str, *, head: str = "", title: str = "郑州推进老旧小区改造") -> lxml.html.HtmlElement:
    """A Chinese portal page around `article`, with the usual furniture and its dates."""
    return lxml.html.fromstring(f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{title}_新闻中心_大河网</title><meta property="og:site_name" content="大河网">{head}</head><body>
<div class="top-bar"><span class="today">今天是2021年1月5日 星期二</span> <a href="/login">登录</a></div>
<div id="header"><h1 class="logo"><a href="/">大河网</a></h1>
<ul class="nav"><li><a href="/news">新闻</a></li><li><a href="/finance">财经</a></li></ul></div>
<div class="crumbs">当前位置：<a href="/">首页</a> &gt; <a href="/news">新闻</a></div>
<div class="main"><div class="article">{article}</div>{RANKING}</div>
<div id="footer"><p>Copyright © 2008-2021 大河网 版权所有</p><p>网站更新时间：2021-01-05 08:00</p></div>
<script>var pubtime = "2019-01-01 00:00";</script>
</body></html>""")


# --- parse_zh_datetime ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("发布时间：2020-04-08 10:23", datetime(2020, 4, 8, 10, 23)),
        ("时间：2020-04-08 10:23:05", datetime(2020, 4, 8, 10, 23, 5)),
        ("发表于 2020/04/08", datetime(2020, 4, 8)),
        ("2020年04月08日 10:23", datetime(2020, 4, 8, 10, 23)),
        ("2020年4月8日10:23:05", datetime(2020, 4, 8, 10, 23, 5)),
        ("2020-4-8 10:23:05", datetime(2020, 4, 8, 10, 23, 5)),
        ("2020.04.08", datetime(2020, 4, 8)),
        ("发布时间：２０２０－０４－０８　１０：２３", datetime(2020, 4, 8, 10, 23)),  # full-width
        ("２０２０年４月８日　１０：２３：０５", datetime(2020, 4, 8, 10, 23, 5)),
        ("2020年04月08日 10时23分", datetime(2020, 4, 8, 10, 23)),
        ("2020年4月8日 下午3:05", datetime(2020, 4, 8, 15, 5)),
    ],
)
def test_parse_zh_datetime_absolute_forms_are_naive(text: str, expected: datetime) -> None:
    value = parse_zh_datetime(text)
    assert value == expected
    assert value.tzinfo is None


def test_parse_zh_datetime_keeps_an_explicit_offset() -> None:
    value = parse_zh_datetime("2020-04-08T10:23:00+08:00")
    assert value == datetime(2020, 4, 8, 2, 23, tzinfo=timezone.utc)
    assert value.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    "text",
    ["Copyright © 2008-2021 大河网 版权所有", "浏览次数：2020", "2020-13-45 10:00", "1899-01-01", "ICP备 2012.3.4.5", ""],
)
def test_parse_zh_datetime_rejects_non_dates(text: str) -> None:
    assert parse_zh_datetime(text, now=NOW) is None


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("刚刚", NOW, NOW),
        ("5分钟前", NOW, datetime(2021, 10, 27, 11, 55, tzinfo=SH)),
        ("半小时前", NOW, datetime(2021, 10, 27, 11, 30, tzinfo=SH)),
        ("2天前", NOW, datetime(2021, 10, 25, 12, 0, tzinfo=SH)),
        # across midnight
        ("3小时前", datetime(2021, 10, 27, 1, 30, tzinfo=SH), datetime(2021, 10, 26, 22, 30, tzinfo=SH)),
        ("昨天 22:10", NOW, datetime(2021, 10, 26, 22, 10, tzinfo=SH)),
        ("前天 08:00", NOW, datetime(2021, 10, 25, 8, 0, tzinfo=SH)),
        # across the year boundary
        ("昨天 23:50", datetime(2021, 1, 1, 0, 10, tzinfo=SH), datetime(2020, 12, 31, 23, 50, tzinfo=SH)),
        ("10分钟前", datetime(2021, 1, 1, 0, 5, tzinfo=SH), datetime(2020, 12, 31, 23, 55, tzinfo=SH)),
        ("10月27日 08:05", NOW, datetime(2021, 10, 27, 8, 5, tzinfo=SH)),
        ("10-27 08:05", NOW, datetime(2021, 10, 27, 8, 5, tzinfo=SH)),
        ("12月31日 23:00", datetime(2021, 1, 1, 0, 30, tzinfo=SH), datetime(2020, 12, 31, 23, 0, tzinfo=SH)),
        ("12月30日", datetime(2021, 1, 2, 9, 0, tzinfo=SH), datetime(2020, 12, 30, tzinfo=SH)),
        ("1月1日 00:05", datetime(2021, 1, 1, 0, 30, tzinfo=SH), datetime(2021, 1, 1, 0, 5, tzinfo=SH)),
        # in the future relative to `now`: last year's (beyond an hour of clock slack)
        ("10月28日 08:00", NOW, datetime(2020, 10, 28, 8, 0, tzinfo=SH)),
        ("10月27日 12:30", NOW, datetime(2021, 10, 27, 12, 30, tzinfo=SH)),
        # `now` in UTC is read in Shanghai: 16:30 UTC is 00:30 the next day there.
        ("昨天 23:00", datetime(2021, 10, 26, 16, 30, tzinfo=timezone.utc), datetime(2021, 10, 26, 23, 0, tzinfo=SH)),
        # a naive `now` is Shanghai wall time
        ("1小时前", datetime(2021, 10, 27, 0, 20), datetime(2021, 10, 26, 23, 20, tzinfo=SH)),
    ],
)
def test_parse_zh_datetime_relative_forms_are_aware_in_shanghai(text: str, now: datetime, expected: datetime) -> None:
    value = parse_zh_datetime(text, now=now)
    assert value == expected
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(hours=8)
    assert value.replace(tzinfo=None) == expected.astimezone(SH).replace(tzinfo=None)  # Shanghai wall time


@pytest.mark.parametrize("text", ["3小时前", "10月27日 08:05", "昨天 22:10", "刚刚"])
def test_relative_forms_need_now(text: str) -> None:
    assert parse_zh_datetime(text) is None


def test_today_in_a_site_name_is_not_a_date() -> None:
    assert parse_zh_datetime("来源：今日头条", now=NOW) is None


# --- datelines (text level) ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1月29日，自治区公安厅召开新闻发布会",
        "2020年1月25日，全区启动重大突发公共卫生事件一级响应。",
        "新华社北京4月8日电 国务院新闻办公室8日举行发布会",
        "3小时前，一辆货车在高速上发生侧翻",
    ],
)
def test_dates_in_prose_are_not_datelines(text: str) -> None:
    assert dateline_date(text, now=NOW) is None


def test_dateline_skips_the_update_time_for_the_publish_time() -> None:
    match = dateline_date("更新时间：2020-04-09 09:00 发布时间：2020-04-08 10:23")
    assert match is not None and match.value == datetime(2020, 4, 8, 10, 23)


@pytest.mark.parametrize(("text", "role"), [
    ("发布时间：2020-04-08 10:23", "labelled"),
    ("更新时间：2020-04-09 09:00 发布时间：10月8日 10:23", "labelled"),
    ("2020-04-08 10:23 来源：大河报", "plain"),
    ("来源：新华社 2020-04-08 10:23", "plain"),  # with a time: read as the page's own
    ("来源：人民日报 2020年4月8日", "print"),
    ("（2020年4月8日 第04版）", "print"),
])
def test_dateline_role(text: str, role: str) -> None:
    line = dateline(text, now=NOW)
    assert line is not None and line.role == role and line.date == dateline_date(text, now=NOW)


# --- parse_byline -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "authors"),
    [
        ("作者：张三", ["张三"]),
        ("文/李四", ["李四"]),
        ("文｜王小明", ["王小明"]),
        ("记者 张三", ["张三"]),
        ("本报记者 张三 李四", ["张三", "李四"]),
        ("本报记者●张三●李四", ["张三", "李四"]),
        ("本报通讯员●褚铁栓●安绩", ["褚铁栓", "安绩"]),
        ("通讯员 李明", ["李明"]),
        ("记者张三、李四，通讯员王五", ["张三", "李四", "王五"]),
        ("新华社记者 张三 摄", ["张三"]),
        ("记者 张三 李四 郑州报道", ["张三", "李四"]),
        ("本报驻京记者 欧阳明月", ["欧阳明月"]),
        ("实习生 王小明", ["王小明"]),
        ("作者：阿卜杜拉·买买提", ["阿卜杜拉·买买提"]),
        ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("By JANE DOE, Associated Press", ["Jane Doe"]),
        ("By Mary-Jane O'Neil | April 8, 2020", ["Mary-Jane O'Neil"]),
    ],
)
def test_parse_byline_authors(text: str, authors: list[str]) -> None:
    assert parse_byline(text) == (authors, [], None)


@pytest.mark.parametrize(
    ("text", "editors"),
    [
        ("编辑：王五", ["王五"]),
        ("责任编辑：赵六", ["赵六"]),
        ("责编：孙七", ["孙七"]),
        ("( 责编：孙七、周八 )", ["孙七", "周八"]),
        ("（责任编辑：吴九）", ["吴九"]),
        ("审核：吴九 校对：郑十", ["吴九", "郑十"]),
    ],
)
def test_parse_byline_editors_are_not_authors(text: str, editors: list[str]) -> None:
    assert parse_byline(text) == ([], editors, None)


def test_parse_byline_source_is_not_an_author() -> None:
    assert parse_byline("来源：新华网") == ([], [], "新华网")
    assert parse_byline("来源：人民网-人民日报 2020-04-08 10:23") == ([], [], "人民网-人民日报")


def test_parse_byline_mixed_line() -> None:
    line = "2020-04-08 10:23　来源：大河报　作者：张三　责任编辑：李四　浏览次数：1024"
    assert parse_byline(line) == (["张三"], ["李四"], "大河报")


def test_parse_byline_labels_glued_without_spaces() -> None:
    assert parse_byline("来源：新华网作者：张三编辑：李四") == (["张三"], ["李四"], "新华网")


def test_parse_byline_english_editing_credit() -> None:
    assert parse_byline("Reporting by Jane Doe; Editing by Mark Potter") == ([], ["Mark Potter"], None)


@pytest.mark.parametrize(
    "text",
    ["记者了解到，该项目已经完工。", "记者从市公安局获悉", "图片来源：网络", "他是一名记者。", "by the river"],
)
def test_parse_byline_ignores_prose(text: str) -> None:
    assert parse_byline(text) == ([], [], None)


# --- structured data ----------------------------------------------------------------


def test_jsonld_news_article_date_and_authors() -> None:
    tree = lxml.html.fromstring("""<html><head><script type="application/ld+json">
    {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "城市更新进入新阶段",
     "datePublished": "2020-04-08T10:23:00+08:00", "dateModified": "2020-04-09T08:00:00+08:00",
     "author": [{"@type": "Person", "name": "张三"}, {"@type": "Person", "name": "李四"}],
     "publisher": {"@type": "Organization", "name": "大河网"}}
    </script></head><body><h1>城市更新进入新阶段</h1></body></html>""")
    hit = structured_published(tree)
    assert hit is not None and hit.source == "json-ld"
    assert hit.value == datetime(2020, 4, 8, 10, 23, tzinfo=timezone(timedelta(hours=8)))
    assert hit.value.utcoffset() == timedelta(hours=8)
    assert structured_authors(tree) == ["张三", "李四"]


def test_jsonld_graph_list_and_string_author() -> None:
    tree = lxml.html.fromstring("""<html><head><script type="application/ld+json">
    [{"@context": "https://schema.org", "@graph": [
      {"@type": "WebPage", "datePublished": "2019-01-01"},
      {"@type": ["ReportageNewsArticle"], "datePublished": "2021-03-04T09:15:00-05:00", "author": "Jane Doe"}
    ]}]</script></head><body></body></html>""")
    hit = structured_published(tree)
    assert hit is not None and hit.value.utcoffset() == timedelta(hours=-5)
    assert (hit.value.year, hit.value.month, hit.value.day, hit.value.hour) == (2021, 3, 4, 9)
    assert structured_authors(tree) == ["Jane Doe"]


def test_jsonld_with_template_slips_still_parses() -> None:
    # A trailing comma and a raw newline inside a string: both common in CMS output.
    tree = lxml.html.fromstring("""<html><head><script type="application/ld+json">
    {"@type": "BlogPosting", "headline": "第一行
第二行", "datePublished": "2020-04-08 10:23:00", "author": {"name": "王五"},}
    </script></head><body></body></html>""")
    assert len(jsonld_articles(tree)) == 1
    hit = structured_published(tree)
    assert hit is not None and hit.value == datetime(2020, 4, 8, 10, 23)
    assert structured_authors(tree) == ["王五"]


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ('<meta property="article:published_time" content="2020-04-08T10:23:00+08:00">',
         datetime(2020, 4, 8, 2, 23, tzinfo=timezone.utc)),
        ('<meta name="publishdate" content="2020-04-08 10:23:00">', datetime(2020, 4, 8, 10, 23)),
        ('<meta name="PubDate" content="2020-04-08 10:23">', datetime(2020, 4, 8, 10, 23)),
        ('<meta name="publish-date" content="2020/04/08">', datetime(2020, 4, 8)),
        ('<meta name="pubdate" content="2020年04月08日 10:23">', datetime(2020, 4, 8, 10, 23)),
        ('<meta itemprop="datePublished" content="2020-04-08">', datetime(2020, 4, 8)),
        ('<meta name="DC.date.issued" content="2020-04-08">', datetime(2020, 4, 8)),
        ('<meta name="sailthru.date" content="Wed, 08 Apr 2020 10:23:00 GMT">',
         datetime(2020, 4, 8, 10, 23, tzinfo=timezone.utc)),
    ],
)
def test_meta_date_tags(meta: str, expected: datetime) -> None:
    tree = lxml.html.fromstring(f"<html><head>{meta}</head><body><p>x</p></body></html>")
    hit = structured_published(tree)
    assert hit is not None and hit.source == "meta"
    assert hit.value == expected
    assert (hit.value.tzinfo is None) == (expected.tzinfo is None)


def test_meta_others_is_not_a_date_and_dateline_is_used() -> None:
    tree = portal(
        '<h1>郑州推进老旧小区改造</h1><div class="info">2020-04-08 10:23 来源：大河报</div>'
        f'<div class="content">{BODY}</div>',
        head='<meta name="others" content="页面生成时间 2021-01-05 08:00:00">',
    )
    assert structured_published(tree) is None
    meta = page_metadata(tree)
    assert meta.published == datetime(2020, 4, 8, 10, 23)
    assert meta.published_from == "zh-dateline"


def test_time_element_in_article_header_not_in_related_list() -> None:
    tree = lxml.html.fromstring("""<html><body><article>
    <header><h1>Council approves budget</h1><p class="byline">By Jane Doe</p>
    <time datetime="2021-03-04T09:15:00-05:00">March 4, 2021</time></header>
    <p>The city council approved the budget on Thursday after a long and heated debate that lasted well into the night, officials said.</p>
    </article><aside><ul><li><time itemprop="datePublished" datetime="2021-02-01">Feb 1</time><a>Older story</a></li></ul></aside>
    </body></html>""")
    hit = time_element_published(tree)
    assert hit is not None and hit.source == "time-element"
    assert hit.value.utcoffset() == timedelta(hours=-5) and hit.value.day == 4


def test_priority_json_ld_then_meta_then_time_then_dateline() -> None:
    jsonld = '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2020-04-06T08:00:00+08:00"}</script>'
    meta = '<meta name="publishdate" content="2020-04-07 09:00:00">'
    article = ('<h1>郑州推进老旧小区改造</h1><div class="info">发布时间：2020-04-08 10:23</div>'
               f'<div class="content">{BODY}</div>')
    assert page_metadata(portal(article, head=jsonld + meta)).published_from == "json-ld"
    assert page_metadata(portal(article, head=jsonld + meta)).published.day == 6
    assert page_metadata(portal(article, head=meta)).published == datetime(2020, 4, 7, 9, 0)
    assert page_metadata(portal(article)).published == datetime(2020, 4, 8, 10, 23)


def test_date_only_meta_is_refined_by_a_same_day_dateline() -> None:
    article = ('<h1>郑州推进老旧小区改造</h1><div class="info">发布时间：2020-04-08 10:23</div>'
               f'<div class="content">{BODY}</div>')
    same_day = page_metadata(portal(article, head='<meta name="publishdate" content="2020-04-08">'))
    assert (same_day.published, same_day.published_from) == (datetime(2020, 4, 8, 10, 23), "zh-dateline")
    other_day = page_metadata(portal(article, head='<meta name="publishdate" content="2020-04-07">'))
    assert (other_day.published, other_day.published_from) == (datetime(2020, 4, 7), "meta")


def test_epoch_and_implausible_structured_values() -> None:
    assert parse_date_value("1586312580") == datetime(2020, 4, 8, 2, 23, tzinfo=timezone.utc)
    assert parse_date_value("0000-00-00 00:00:00") is None
    assert parse_date_value("2020") is None  # a year alone is not a publish date
    assert parse_date_value("April 2020") is None


# --- datelines on pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<div class="article-info"><span>发布时间：2020-04-08 10:23</span><span>来源：大河报</span></div>',
         datetime(2020, 4, 8, 10, 23)),
        ('<div class="source">2020年04月08日 10:23　人民网</div>', datetime(2020, 4, 8, 10, 23)),
        ('<p>2020年4月8日10:23:05　来源：新华网</p>', datetime(2020, 4, 8, 10, 23, 5)),
        ('<div class="pubtime">时间：2020.04.08</div>', datetime(2020, 4, 8)),
        ('<div class="meta">发表于 2020/4/8 10:23</div>', datetime(2020, 4, 8, 10, 23)),
        ('<div class="tit-sub"><span>２０２０－０４－０８　１０：２３</span><span>字号：大 中 小</span></div>',
         datetime(2020, 4, 8, 10, 23)),
        ('<p class="p1">更新时间：2020-04-09 09:00　发布时间：2020-04-08 10:23</p>', datetime(2020, 4, 8, 10, 23)),
    ],
)
def test_zh_dateline_under_the_headline(header: str, expected: datetime) -> None:
    tree = portal(f"<h1>郑州推进老旧小区改造</h1>{header}<div class=\"content\">{BODY}</div>")
    hit = find_dateline(tree)
    assert hit is not None
    assert (hit.value, hit.source) == (expected, "zh-dateline")


def test_dateline_above_the_headline_in_its_container() -> None:
    tree = portal(f'<div class="hd"><p class="time">2020-04-08 10:23</p><h1>郑州推进老旧小区改造</h1></div>'
                  f'<div class="content">{BODY}</div>')
    assert page_metadata(tree).published == datetime(2020, 4, 8, 10, 23)


def test_dates_only_in_body_text_are_not_the_publish_date() -> None:
    # No dateline: 1月29日 / 2020年1月25日 in paragraphs, the ranking sidebar,
    # the top bar's "today" and the footer must all be ignored.
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>')
    meta = page_metadata(tree, now=NOW)
    assert meta.published is None and meta.published_from is None
    assert find_dateline(tree, now=NOW) is None


def test_short_first_paragraph_with_a_date_is_not_a_dateline() -> None:
    tree = portal('<h1>郑州推进老旧小区改造</h1><div class="content"><p>1月29日，自治区公安厅召开发布会。</p>'
                  f'<p>2020年1月25日</p>{BODY}</div>')
    assert find_dateline(tree, now=NOW) is None


def test_header_dateline_wins_over_body_dates() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">2020-02-01 09:30 来源：大河报</div>'
                  f'<div class="content">{BODY}</div>')
    assert page_metadata(tree).published == datetime(2020, 2, 1, 9, 30)


def test_footer_copyright_and_update_time_are_not_dates() -> None:
    tree = lxml.html.fromstring(f"""<html><body><h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>
    <div class="copyright">© 2008-2021 大河网 版权所有 豫ICP备12345678号</div>
    <footer><p>网站更新时间：2021-01-05 08:00</p></footer></body></html>""")
    assert page_metadata(tree).published is None


def test_related_news_list_dates_are_not_the_publish_date() -> None:
    related = """<div class="box"><h3>相关新闻</h3><ul>
    <li><a href="/b1">郑州老旧小区改造首批项目全面开工建设</a><span>2020-03-01</span></li>
    <li><a href="/b2">河南省出台城镇老旧小区改造实施意见</a><span>2020-02-15</span></li>
    <li><a href="/b3">老旧小区改造如何让居民更满意</a><span>2020-01-20</span></li></ul></div>
    <div class="related-news"><p><a href="/b4">改造后的小区焕然一新</a> 2020-03-05 10:00</p></div>"""
    without = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>{related}')
    assert page_metadata(without).published is None
    dated = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">发布时间：2020-04-08 10:23</div>'
                   f'<div class="content">{BODY}</div>{related}')
    assert page_metadata(dated).published == datetime(2020, 4, 8, 10, 23)


def test_no_headline_uses_the_block_before_the_body() -> None:
    tree = lxml.html.fromstring(f"""<html><head><title>无标题页面</title></head><body>
    <div class="top"><span class="date">2021年1月5日 星期二</span></div>
    <div class="wrap"><div class="time-source">2020-04-08 10:23 来源：新华网</div>
    <div class="text">{BODY}</div></div></body></html>""")
    assert page_metadata(tree).published == datetime(2020, 4, 8, 10, 23)


def test_zaker_relative_dateline() -> None:
    article = ('<h1>郑州推进老旧小区改造</h1><div class="article_tips"><a href="/src/1">新华网</a>'
               '<span class="time">3小时前</span></div>'
               f'<div class="article_content">{BODY}</div>')
    hit = find_dateline(portal(article), now=NOW)
    assert hit is not None
    assert (hit.value, hit.source) == (datetime(2021, 10, 27, 9, 0, tzinfo=SH), "relative")
    meta = page_metadata(portal(article), now=NOW)
    assert (meta.published, meta.published_from) == (datetime(2021, 10, 27, 9, 0, tzinfo=SH), "relative")
    assert page_metadata(portal(article)).published is None  # no `now`, no guess


def test_zaker_month_day_dateline_across_the_year() -> None:
    article = ('<h1>郑州推进老旧小区改造</h1><div class="article_tips"><a>大河报</a><span>12月31日 23:40</span></div>'
               f'<div class="article_content">{BODY}</div>')
    meta = page_metadata(portal(article), now=datetime(2021, 1, 1, 8, 0, tzinfo=SH))
    assert meta.published == datetime(2020, 12, 31, 23, 40, tzinfo=SH)
    assert meta.published_from == "relative"


# --- a year-less date read in the year of the URL's date ------------------------------------

LATER = datetime(2024, 3, 1, 12, 0, tzinfo=SH)  # fetched years after the article


@pytest.mark.parametrize(("url", "expected"), [
    ("http://www.people.com.cn/n1/2021/1025/c1001-32262183.html", date(2021, 10, 25)),
    ("http://www.gov.example.cn/xxgk/202110/t20211025_1126843.html", date(2021, 10, 25)),
    ("http://www.news.example.cn/2021-10/25/c_1128000.htm", date(2021, 10, 25)),
    ("https://www.chinanews.example/gn/2021/10-25/9594.shtml", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/25/story.html", date(2021, 10, 25)),
    ("https://news.example.com/2021/1/5/story.html", date(2021, 1, 5)),
    ("https://news.example.com/a/20211025/hash.html", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/05/", date(2021, 10, 5)),
    ("https://news.example.com/archive/2021-10-25.html", date(2021, 10, 25)),  # the file named by its day
    # After year and month folders, a file or the path's end in two digits is the day's page.
    ("https://news.example.com/2021/10/25.html", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/25_123.html", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/25.htm", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/05.html", date(2021, 10, 5)),
    ("https://news.example.com/2021/10/25", date(2021, 10, 25)),
    ("https://news.example.com/archives/2021/10/25", date(2021, 10, 25)),
    ("https://news.example.com/2021/10/5/story.html", date(2021, 10, 5)),  # a folder, in any digits
])
def test_url_date(url: str, expected: date) -> None:
    assert url_date(url, LATER) == expected


@pytest.mark.parametrize("url", [
    "https://news.example.com/article/120211025123.html",  # digits of a longer id
    "https://news.example.com/a/20211345.html",  # no such day
    "https://news.example.com/2025/0101/a.html",  # after the fetch: an id
    "https://news.example.com/story/6178e3198e9f095dc36cd0d3",
    "https://20211025.example.com/a.html",  # the host is no date
    "https://news.example.com/a.html?date=20211025",  # nor is the query
    "https://news.example.com/article/5f20191025abcdef",  # inside a hex id
    "https://news.example.com/article/20191025abc.html",  # letters after it
    # After year and month folders, one digit in a file is the month's article,
    # and a number opening a slug the title's: no day.
    "https://news.example.com/2021/10/5.html",
    "https://news.example.com/2021/10/5_123.html",
    "https://news.example.com/2021/10/5",
    "https://news.example.com/2021/10/5-ways.html",
    "https://news.example.com/2021/10/5-ways-to-save-water.html",
    "https://news.example.com/2021/10/10-tips-for-winter.html",
])
def test_url_without_a_date(url: str) -> None:
    assert url_date(url, LATER) is None


def yearless_page(dateline: str, extra: str = "") -> lxml.html.HtmlElement:
    return portal(f'<h1>郑州推进老旧小区改造</h1><div class="article-info">{dateline}</div>{extra}<div class="content">{BODY}</div>')


@pytest.mark.parametrize(("dateline", "reference", "expected"), [
    ("10月25日 14:30 来源：大河报", date(2021, 10, 25), datetime(2021, 10, 25, 14, 30, tzinfo=SH)),
    # The URL's day may differ from the page's: the year that brings them nearest.
    ("1月1日 08:00 来源：大河报", date(2021, 12, 31), datetime(2022, 1, 1, 8, 0, tzinfo=SH)),
    ("12月31日 23:40 来源：大河报", date(2022, 1, 1), datetime(2021, 12, 31, 23, 40, tzinfo=SH)),
    ("发布时间：10-25 14:30", date(2021, 10, 26), datetime(2021, 10, 25, 14, 30, tzinfo=SH)),
    # English: naive, like every time a page gives without an offset.
    ("Published Oct 25, 2:30 pm", date(2021, 10, 25), datetime(2021, 10, 25, 14, 30)),
    ("Posted 25 October 9:15", date(2021, 10, 25), datetime(2021, 10, 25, 9, 15)),
])
def test_a_yearless_dateline_takes_the_year_of_the_url(dateline: str, reference: date, expected: datetime) -> None:
    assert page_metadata(yearless_page(dateline), now=LATER, reference=reference).published == expected
    # Without the URL's date it is read in the fetch time's year (or the one before).
    alone = page_metadata(yearless_page(dateline), now=LATER).published
    assert alone is not None and alone.year in (LATER.year, LATER.year - 1) and alone != expected


def test_a_yearless_date_is_never_put_in_the_future_by_the_url() -> None:
    # The URL's year would make it next week's: read near the fetch time instead.
    meta = page_metadata(yearless_page("3月8日 10:00 来源：大河报"), now=LATER, reference=date(2024, 3, 2))
    assert meta.published == datetime(2023, 3, 8, 10, 0, tzinfo=SH)


@pytest.mark.parametrize("url", [
    "https://news.example/news/20190512.html",  # digits that make a day, months off the dateline's
    "https://www.thepaper.example/newsDetail_forward_20191231",
])
def test_a_url_date_far_from_the_yearless_dateline_lends_it_no_year(url: str) -> None:
    # Read in the URL's year, 10月25日 is months from the URL's day: the URL's digits
    # are an id, and the dateline is read near the fetch time, as without them.
    now = datetime(2024, 10, 26, 12, 0, tzinfo=SH)
    reference = url_date(url, now)
    assert reference is not None and reference.year == 2019
    meta = page_metadata(yearless_page("10月25日 14:30 来源：大河报"), now=now, reference=reference)
    assert meta.published == datetime(2024, 10, 25, 14, 30, tzinfo=SH)


def test_an_article_number_after_year_and_month_folders_lends_no_year() -> None:
    # /2023/10/7.html is October's article 7: read as a day, it put 10月5日 in 2023.
    now = datetime(2024, 10, 26, 12, 0, tzinfo=SH)
    reference = url_date("https://news.example/2023/10/7.html", now)
    assert reference is None
    meta = page_metadata(yearless_page("10月5日 14:30 来源：大河报"), now=now, reference=reference)
    assert meta.published == datetime(2024, 10, 5, 14, 30, tzinfo=SH)


def test_a_day_file_after_year_and_month_folders_lends_its_year() -> None:
    now = datetime(2024, 10, 26, 12, 0, tzinfo=SH)
    reference = url_date("https://news.example/2023/10/25.html", now)
    meta = page_metadata(yearless_page("10月25日 14:30 来源：大河报"), now=now, reference=reference)
    assert meta.published == datetime(2023, 10, 25, 14, 30, tzinfo=SH)


def test_a_yearless_dateline_yields_to_one_with_its_year() -> None:
    extra = '<div class="pub-time">发布时间：2021年10月25日 14:30</div>'
    meta = page_metadata(yearless_page("10月26日 09:00 来源：大河报", extra), now=LATER, reference=date(2021, 10, 26))
    assert meta.published == datetime(2021, 10, 25, 14, 30)


@pytest.mark.parametrize(("dateline", "later"), [
    # Labelled, the year-less line is the page's publish date by its own word.
    ("发布时间：10月25日 14:30", "来源：人民日报 2023年10月20日"),
    ("发布时间：10月25日 14:30", "发布时间：2023年10月20日 08:00"),
    # A source's or a print edition's date is when the paper printed it.
    ("10-25 14:30", "来源：人民日报（2023年10月20日 04版）"),
    ("10月25日 14:30", "来源：人民日报 2023年10月20日"),
    ("10月25日 14:30", "（2023年10月20日 第4版）"),
])
def test_a_yearless_publish_line_is_not_overruled_by_a_print_date(dateline: str, later: str) -> None:
    extra = f'<div class="source">{later}</div>'
    meta = page_metadata(yearless_page(dateline, extra), now=LATER)
    assert meta.published == datetime(2023, 10, 25, 14, 30, tzinfo=SH)


# A source-first info line with its time is the page's dateline: the first dated
# header line with its year wins, and dates lower down (readers' replies, related
# items, a byline's date, a print footer) or above the headline do not overrule it.
SOURCE_FIRST = '<div class="info">来源：新华社 2021-10-25 14:30</div>'
DATE_FIRST = '<div class="info">2021-10-25 14:30 来源：新华社</div>'
REPLY = '<div class="gentie"><div class="item"><span class="user">网友甲</span><span class="time">{}</span></div></div>'
RELATED = ('<div class="yanshen"><h3>延伸阅读</h3><div class="item"><h4><a href="/x.html">另一篇很长很长的新闻标题在这里</a></h4>'
           '<div class="meta"><span class="time">{}</span></div></div></div>')


def info_page(info: str, *, after_body: str = "", in_scope: str = "", above_h1: str = "") -> lxml.html.HtmlElement:
    """An article of the portal with `info` under its headline; `in_scope` follows the article's own box."""
    return portal(f'<div class="art">{above_h1}<h1>郑州推进老旧小区改造</h1>{info}<div class="content">{BODY}</div>'
                  f'{after_body}</div>{in_scope}')


@pytest.mark.parametrize("info", [
    # Date and time in spans of their own: the date's span alone has no time, the line has.
    '<div class="info"><span class="source">来源：新华社</span> <span class="date">2021-10-25</span> <span class="time">14:30</span></div>',
    '<div class="info">来源：<a href="http://www.news.cn/">新华社</a> <span class="date">2021年10月25日</span> <em>14:30</em></div>',
])
def test_a_source_first_info_line_keeps_the_time_of_its_own_span(info: str) -> None:
    assert page_metadata(info_page(info), now=NOW).published == datetime(2021, 10, 25, 14, 30)


@pytest.mark.parametrize(("where", "extra"), [
    ("in_scope", REPLY.format("2021-10-26 09:12")),
    ("in_scope", REPLY.format("10-26 09:12")),
    ("in_scope", REPLY.format("3小时前")),
    ("in_scope", RELATED.format("2021-10-20 09:00")),
    ("after_body", '<div class="author">作者：张三 2021-10-26</div>'),
    ("above_h1", '<div class="date">2021年10月27日 星期三</div>'),
])
def test_a_source_first_info_line_is_not_overruled_by_other_dates(where: str, extra: str) -> None:
    assert page_metadata(info_page(SOURCE_FIRST, **{where: extra}), now=NOW).published == datetime(2021, 10, 25, 14, 30)


@pytest.mark.parametrize(("where", "extra"), [
    ("in_scope", RELATED.format("发布时间：2021-10-20")),  # another article's labelled date
    ("after_body", RELATED.format("发布时间：2021-10-20")),
    ("after_body", '<div class="paper-info">出版日期：2021-10-26 第04版</div>'),  # the print edition's
])
def test_a_labelled_date_lower_down_does_not_overrule_the_info_line(where: str, extra: str) -> None:
    assert page_metadata(info_page(DATE_FIRST, **{where: extra}), now=NOW).published == datetime(2021, 10, 25, 14, 30)


def test_extracted_article_keeps_the_time_of_a_source_first_info_line() -> None:
    from crawler.extract.core import ExtractOptions, extract_article

    info = '<div class="info">来源：<a href="http://www.news.cn/">新华社</a> <span class="date">2021-10-25</span> <span class="time">14:30</span></div>'
    page = lxml.html.tostring(info_page(info), encoding="utf-8")
    article = extract_article(page, "http://www.dahe.example.cn/2021/1025/c1001-1.html", options=ExtractOptions(now=NOW))
    assert article.published == "2021-10-25T06:30:00+00:00"


@pytest.mark.parametrize(("text", "expected"), [
    ("25 October 14:30", datetime(2024, 10, 25, 14, 30)),  # not October 14
    ("25 Oct 9:05", datetime(2024, 10, 25, 9, 5)),  # not Oct 9
    ("25 October, 2:30 pm", datetime(2024, 10, 25, 14, 30)),
    ("Oct 25 14:30", datetime(2024, 10, 25, 14, 30)),
])
def test_english_yearless_day_before_the_month_is_not_read_as_the_clock_hour(text: str, expected: datetime) -> None:
    now = datetime(2024, 10, 26, 12, 0, tzinfo=SH)
    assert [(d.value, d.kind) for d in scan_dates(text, now)] == [(expected, "year-less")]


@pytest.mark.parametrize("line", ["March 8 rally", "Top 5 May picks", "June 4 anniversary", "Jan 6 committee",
                                  "Monday 25 October", "Posted Oct 25"])
def test_an_english_header_line_with_a_month_and_day_but_no_time_is_no_dateline(line: str) -> None:
    # Kickers and headlines name days; an English dateline without its year shows its time.
    assert [d for d in scan_dates(line, LATER) if d.kind == "year-less"] == []
    assert page_metadata(yearless_page(line), now=LATER, reference=date(2022, 7, 1)).published is None


@pytest.mark.parametrize("text", ["it may 5 times", "Mayor 5 said", "Published March 2021", "Oct 2021"])
def test_english_yearless_forms_need_a_whole_capitalised_month_and_a_day(text: str) -> None:
    assert [d for d in scan_dates(text, LATER) if d.kind == "year-less"] == []


def test_extracted_article_reads_a_yearless_date_in_the_url_year() -> None:
    from crawler.extract.core import ExtractOptions, extract_article

    page = lxml.html.tostring(yearless_page("10月25日 14:30 来源：大河报"))
    options = ExtractOptions(now=LATER)
    dated = extract_article(page, "http://www.dahe.example.cn/news/2021/1025/a.html", options=options)
    assert dated.published == "2021-10-25T06:30:00+00:00"
    undated = extract_article(page, "http://www.dahe.example.cn/news/a.html", options=options)
    assert undated.published == "2023-10-25T06:30:00+00:00"
    for id_url in ("http://www.dahe.example.cn/news/20190512.html", "http://www.dahe.example.cn/article/5f20191025abcdef"):
        assert extract_article(page, id_url, options=options).published == undated.published, id_url


# --- bylines on pages ----------------------------------------------------------------


def test_header_byline_editor_and_source() -> None:
    tree = portal(
        '<h1>郑州推进老旧小区改造</h1><div class="article-info"><span>2020-04-08 10:23</span>'
        '<span>来源：<a href="/">大河报</a></span><span>作者：张三</span><span>编辑：李四</span></div>'
        f'<div class="content">{BODY}</div>',
        head='<meta name="author" content="大河网">',
    )
    meta = page_metadata(tree)
    assert meta.authors == ["张三"]
    assert meta.editors == ["李四"]
    assert meta.source_name == "大河报"


def test_first_body_line_byline_and_editor_after_the_body() -> None:
    tree = portal(
        '<h1>郑州推进老旧小区改造</h1><div class="info">2020-04-08 10:23 来源：大河报</div>'
        f'<div class="content"><p>本报通讯员●褚铁栓●安绩</p>{BODY}</div>'
        '<div class="edit">( 责编：王五、赵六 )</div>'
    )
    meta = page_metadata(tree)
    assert meta.authors == ["褚铁栓", "安绩"]
    assert meta.editors == ["王五", "赵六"]
    assert meta.source_name == "大河报"


def test_lead_credit_in_the_first_paragraph() -> None:
    body = BODY.replace("<p>1月29日", "<p>本报讯（记者 张三 通讯员 李四）1月29日", 1)
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{body}<p>（责任编辑：王五）</p></div>')
    assert find_bylines(tree) == (["张三", "李四"], ["王五"], None)


# --- a bare credit closing a Chinese article: （肖玥 王思洋） ------------------------------------

def seed_story(data_file: str, credit: str, *, after: str = "") -> lxml.html.HtmlElement:
    """A story of seed 004 (a police newspaper's page) on a portal page, its credit closing the body."""
    from tests.fixture_site.model import load_blocks

    paragraphs = "".join(f"<p>{b.text}</p>" for b in load_blocks(data_file) if b.kind == "p")
    return portal(f'<h1>林城双警伉俪 同守抗“疫”一线</h1><div class="content">{paragraphs}'
                  f'<p style="text-align: right;">{credit}</p>{after}</div>')


@pytest.mark.parametrize(("data_file", "credit", "authors"), [
    ("zh_shuangjing.txt", "（刘琪 董利苹）", ["刘琪", "董利苹"]),  # seed 004's, full-width as printed
    ("zh_baotou.txt", "(肖玥 王思洋)", ["肖玥", "王思洋"]),
    ("zh_baotou.txt", "（记者 张三）", ["张三"]),
    ("zh_baotou.txt", "（记者 张三 李四）", ["张三", "李四"]),
    ("zh_baotou.txt", "（通讯员 欧阳明远、王五）", ["欧阳明远", "王五"]),
    # Rarer surnames (see LESS_COMMON_SURNAMES), unlabelled as labelled.
    ("zh_baotou.txt", "（仉建国 王思洋）", ["仉建国", "王思洋"]),
    ("zh_baotou.txt", "（亓晓 嵇亮）", ["亓晓", "嵇亮"]),
    ("zh_baotou.txt", "（记者 郇正 赖文）", ["郇正", "赖文"]),
])
def test_a_bare_credit_closing_the_article_names_its_authors(data_file: str, credit: str, authors: list[str]) -> None:
    assert page_metadata(seed_story(data_file, credit)).authors == authors
    # Editor and source lines after it, and a share call, leave it the last word.
    after = "<p>（责任编辑：赵敏）</p><p>来源：呼伦贝尔日报</p><p>分享让更多人看到</p>"
    meta = page_metadata(seed_story(data_file, credit, after=after))
    assert (meta.authors, meta.editors) == (authors, ["赵敏"])


@pytest.mark.parametrize("heading", [
    "记者手记", "记者观察：", "【记者调查】", "编辑推荐",
    # Any column of the families (see CREDIT_COLUMN_WORDS), also run together or glued to a name.
    "记者专访", "记者走基层", "【记者走基层】", "记者蹲点", "记者见闻", "记者暗访", "记者现场",
    "记者蹲点日记", "记者现场直击", "记者专访张三", "【记者走基层·张三】",
])
def test_a_column_named_after_a_credit_label_names_no_one(heading: str) -> None:
    assert parse_byline(heading) == ([], [], None)
    body = f"<p>{heading}</p>{BODY}"
    assert find_bylines(portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{body}</div>')) == ([], [], None)


@pytest.mark.parametrize(("byline", "authors"), [
    ("记者 张三", ["张三"]),
    ("本报记者 王现场", ["王现场"]),  # a name holding a column's word after its surname
    ("本报记者 李见闻 通讯员 王一线", ["李见闻", "王一线"]),
    ("记者 连建明 解放", ["连建明", "解放"]),  # surnames that start a column's word (连线, 解读)
    ("记者 张三 李四 现场直击", ["张三", "李四"]),  # the column after the names ends them
])
def test_names_beside_column_words_are_still_names(byline: str, authors: list[str]) -> None:
    assert parse_byline(byline)[0] == authors


def test_a_closing_editor_credit_names_no_author() -> None:
    meta = page_metadata(seed_story("zh_shuangjing.txt", "（编辑 李四）"))
    assert (meta.authors, meta.editors) == ([], ["李四"])


@pytest.mark.parametrize("credit", [
    "（自治区公安厅党建工作处供稿）",  # seeds 001 and 003: an office, no person
    "（未完待续）", "（待续）", "（全文完）", "（本报综合）", "（资料图）", "（新华社）", "（人民网）",
    "（物业）的事，大家商量着办。",  # parenthesised words in a sentence
    "（张三 李四 王五 赵六 钱七）",  # more names than a credit lists
    "（张三丰收了）",  # prose, not a name
    "(Reuters)",
    # Photo credits, places, offices, columns and captions: one word, or words under no common surname.
    "（视觉中国）", "（新华社发）", "（截图）", "（网络图）", "（图为现场）",
    "（包头）", "（北京）", "（上海）", "（内蒙古）", "（石家庄）", "（张家口）", "（呼和浩特）", "（乌兰察布）",
    "（通辽）", "（赤峰）", "（鄂尔多斯）", "（高新区）", "（杨浦区）", "（王府井）", "（武汉）", "（黄冈）", "（杜尚别）",
    "（政治部）", "（公安厅）", "（宣传处）", "（党委）", "（央视）",
    "（专题）", "（战疫）", "（抗疫一线）", "（马上评）", "（史海钩沉）", "（金台点睛）", "（评论员）",
    "（民警 张三）", "（王五 制图）",  # a role, a task: any word that is no name rejects the credit
    # Rarer surnames widen names, not what a credit is.
    "（仉建国）",  # unlabelled, one word: still as likely a place or a column
    "（仉建国 制图）", "（洪水 预警）", "（弘扬 正气）", "（茅台 集团）", "（鄂州 黄石）", "（洪湖 赤卫队）",
    # Nor are places and words under surnames that start them (left out of LESS_COMMON_SURNAMES).
    "（洪洞 芮城）", "（桓仁 綦江）", "（郏县 谯城）", "（洪峰 洪水）", "（屠宰 汲取）", "（雍和宫 慕田峪）",
    "（戎装 慕名）", "（夔州 夔门）", "（糜烂 於今）",
    # Nor does a label make any word a name: columns and calls.
    "（记者手记）", "（记者 观察）", "（通讯员来稿）",
])
def test_closing_parentheses_that_are_no_credit(credit: str) -> None:
    assert trailing_credit(credit) == ([], [])
    assert page_metadata(seed_story("zh_shuangjing.txt", credit)).authors == []


@pytest.mark.parametrize("credit", ["（肖玥 王思洋）", "（仉建国 嵇亮）"])
def test_a_bare_credit_inside_the_text_is_not_taken(credit: str) -> None:
    # Seed 004 prints several stories on one page: the first one's credit
    # stands between stories, and only the text's end is read.
    more = "".join(f"<p>{p}</p>" for p in ("林城双警伉俪的故事还在继续，他们在各自岗位上坚守，守护着一方平安。", "民警们表示，将继续坚守岗位。"))
    assert page_metadata(seed_story("zh_baotou.txt", credit, after=more)).authors == []


def test_extracted_seed_story_has_its_closing_credit_as_authors() -> None:
    from crawler.extract.core import extract_article

    page = lxml.html.tostring(seed_story("zh_shuangjing.txt", "（刘琪 董利苹）"), encoding="utf-8")
    article = extract_article(page, "http://www.example.cn/news/2020/02/linchen-shuangjing.html")
    assert article.authors == ["刘琪", "董利苹"]
    assert article.text.endswith("(刘琪 董利苹)") or article.text.endswith("（刘琪 董利苹）"), "the credit stays in the text"


def test_editor_line_is_not_an_author_even_in_meta() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}<p>责任编辑：王五</p></div>',
                  head='<meta name="author" content="王五">')
    meta = page_metadata(tree)
    assert meta.authors == []
    assert meta.editors == ["王五"]


def test_source_line_is_not_an_author() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">来源：新华网</div><div class="content">{BODY}</div>')
    meta = page_metadata(tree)
    assert (meta.authors, meta.source_name) == ([], "新华网")


def test_meta_author_site_name_only_when_nothing_better() -> None:
    head = '<meta name="author" content="大河网">'
    with_byline = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">记者 张三</div><div class="content">{BODY}</div>',
                         head=head)
    assert page_metadata(with_byline).authors == ["张三"]
    alone = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>', head=head)
    assert meta_authors(alone) == ["大河网"]
    assert page_metadata(alone).authors == ["大河网"]


def test_meta_author_person_when_no_byline() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>',
                  head='<meta name="author" content="张三,李四">')
    assert page_metadata(tree).authors == ["张三", "李四"]


def test_jsonld_organisation_author_yields_to_the_byline() -> None:
    head = ('<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2020-04-08",'
            '"author":{"@type":"Organization","name":"大河网"}}</script>')
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">文/李四</div><div class="content">{BODY}</div>',
                  head=head)
    assert structured_authors(tree) == []
    assert page_metadata(tree).authors == ["李四"]


ENGLISH = """<!DOCTYPE html><html lang="en"><head><title>Council approves $2bn budget | The Daily Planet</title>
<meta property="og:title" content="Council approves $2bn budget | The Daily Planet">
<meta property="og:site_name" content="The Daily Planet">
<meta property="article:published_time" content="2021-03-04T09:15:00-05:00">
<meta name="author" content="The Daily Planet"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<main><article><h1>Council approves $2bn budget</h1>
<div class="byline">By <a href="/staff/jane">Jane Doe</a> and <a href="/staff/john">John Roe</a>, Staff Writers</div>
<p>The city council approved a $2bn budget on Thursday after a debate that lasted well into the night, officials said, ending months of talks.</p>
<p>Edited by Perry White</p>
</article>
<section class="comments"><div class="comment"><a rel="author" href="/u/troll">Angry Reader</a> March 5, 2021</div></section>
</main><footer>© 1998-2021 The Daily Planet</footer></body></html>"""


def test_english_page() -> None:
    meta = page_metadata(lxml.html.fromstring(ENGLISH))
    assert meta.published.utcoffset() == timedelta(hours=-5)
    assert (meta.published.date().isoformat(), meta.published_from) == ("2021-03-04", "meta")
    assert meta.authors == ["Jane Doe", "John Roe"]
    assert meta.editors == ["Perry White"]
    assert meta.title == "Council approves $2bn budget"


def test_rel_author_outside_comments() -> None:
    tree = lxml.html.fromstring(ENGLISH.replace('<a href="/staff/jane">', '<a rel="author" href="/staff/jane">'))
    assert structured_authors(tree) == ["Jane Doe"]


# --- titles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "h1", "expected"),
    [
        ('<meta property="og:title" content="郑州推进老旧小区改造 - 大河网">', "郑州推进老旧小区改造", "郑州推进老旧小区改造"),
        ('<meta property="og:title" content="郑州推进老旧小区改造_新闻频道_央视网">', "郑州推进老旧小区改造", "郑州推进老旧小区改造"),
        ('<meta property="og:title" content="Budget passes|Daily Planet">', "Budget passes", "Budget passes"),
        # the headline does not confirm the cut: keep og:title whole
        ('<meta property="og:title" content="A - B testing explained">', "Something else", "A - B testing explained"),
        ('<script type="application/ld+json">{"@type":"NewsArticle","headline":"JSON-LD 标题"}</script>'
         '<meta property="og:title" content="OG 标题">', "页面标题", "JSON-LD 标题"),
        ("", "只有一级标题", "只有一级标题"),
    ],
)
def test_page_title(head: str, h1: str, expected: str) -> None:
    tree = lxml.html.fromstring(f"<html><head>{head}</head><body><h1>{h1}</h1><p>正文。</p></body></html>")
    assert page_title(tree) == expected


def test_logo_h1_is_not_the_headline() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>')
    assert page_metadata(tree).title == "郑州推进老旧小区改造"


def test_page_metadata_full_chinese_page() -> None:
    tree = portal(
        '<h1>郑州推进老旧小区改造</h1>'
        '<div class="article-info">发布时间：2020年04月08日 10:23　来源：大河报　作者：张三 李四</div>'
        f'<div class="content">{BODY}<p>（责任编辑：王五）</p></div>',
        head='<meta property="og:title" content="郑州推进老旧小区改造 - 大河网"><meta name="author" content="大河网">',
    )
    assert page_metadata(tree, now=NOW) == PageMetadata(
        published=datetime(2020, 4, 8, 10, 23),
        published_from="zh-dateline",
        authors=["张三", "李四"],
        editors=["王五"],
        source_name="大河报",
        title="郑州推进老旧小区改造",
    )


# --- pages modelled on real portals (trimmed) ---------------------------------------------

PEOPLE_CN = """<html><head><meta http-equiv="content-type" content="text/html;charset=GB2312">
<title>女儿出嫁，郑板桥画了几笔兰花当嫁妆--文化--人民网 </title>
<meta name="publishdate" content="2019-06-15">
<meta name="author" content="104363">
<meta name="editor" content="1610">
<meta name="source" content="来源：人民网-文化频道 原创稿"></head>
<body>
<div class="top_nav clearfix"><div class="fl" id="rwb_nav"><a href="/">网站首页</a><a href="/politics">时政</a></div></div>
<div class="clearfix w1000_320 path path2 pos_re_search"><span id="rwb_navpath"><a href="/">人民网</a>&gt;&gt;<a href="/c">文化</a></span></div>
<div class="clearfix w1000_320 text_title">
  <h3 class="pre"></h3>
  <h1>女儿出嫁，郑板桥画了几笔兰花当嫁妆</h1>
  <h4 class="sub"></h4>
  <p class="author"></p>
  <div class="box01">
    <div class="fl">2019年06月15日08:18&nbsp;&nbsp;来源：<a href="http://culture.people.com.cn/">人民网-文化频道</a></div>
    <div class="fr"><div class="fx"><div id="ops_share"><span class="ops_tit">分享到：</span></div></div></div>
  </div>
</div>
<div class="clearfix w1000_320 text_con"><div class="fl text_con_left">
  <div class="box_con" id="rwb_zw">
    <p style="text-indent: 2em;">　　父亲的教诲像一盏灯，为我们照亮前行的路；父亲的关爱像一把伞，为我们遮蔽人世间的风风雨雨。父爱如山高大而巍峨，父爱如海宽广而辽阔……</p>
    <p style="text-indent: 2em;">　　今年的6月16日是父亲节。每当诵读那些关于父亲的古诗词，许多人的心中都会涌起一种深沉而又温暖的情感。</p>
    <p style="text-indent: 2em; text-align: center;"><strong>《冬夜读书示子聿》</strong></p>
    <p style="text-indent: 2em;">　　《冬夜读书示子聿》是陆游写给自己小儿子陆聿的一首诗。陆游十分注重家风教育，他的教子诗词是个人人生经验的总结，饱含着一个慈祥父亲对孩子浓浓深情与爱意。</p>
    <div class="zdfy clearfix"><a href="/1.html">【1】</a><a href="/2.html">【2】</a></div>
    <div class="edit clearfix">(责编：汤诗瑶、丁涛)</div>
  </div>
</div></div>
<div class="w1000 copyright">人民日报社概况｜关于人民网｜Copyright © 1997-2019 by www.people.com.cn. all rights reserved</div>
</body></html>"""


def test_people_cn_article() -> None:
    meta = page_metadata(lxml.html.fromstring(PEOPLE_CN), now=NOW)
    # The date-only <meta publishdate> is refined by the dateline's time.
    assert (meta.published, meta.published_from) == (datetime(2019, 6, 15, 8, 18), "zh-dateline")
    assert meta.authors == []  # "104363" is a CMS user id
    assert meta.editors == ["汤诗瑶", "丁涛"]
    assert meta.source_name == "人民网-文化频道"
    assert meta.title == "女儿出嫁,郑板桥画了几笔兰花当嫁妆"


XINHUANET = """<!DOCTYPE HTML><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<meta name="publishid" content="1125327450.12.1002.0"/>
<title>
法国全国大罢工再次严重影响交通-新华网
</title></head>
<body>
<div class="nav"><div class="nav-carousel"><span><a href="/a">未成年人网游防沉迷调查：实名认证难</a></span></div></div>
<div class="header"><div class="h-p1"><div class="news-position"><a href="/">新华网</a> 正文 </div></div>
<div class="h-p3 clearfix"><a href="/" class="net-logo"><img src="logo.png" /></a>
<div class="h-news">
<div class="h-title">
法国全国大罢工再次严重影响交通
</div>
<div class="h-info">
<span class="h-time"> 2019-12-10 07:57:40</span>
<span>
来源：
<em id="source"> 新华网</em>
</span>
</div></div></div></div>
<div class="main"><div class="part part1 clearfix"><div class="p-right left"><div id="p-detail">
<div class="lb"><span class="tj">图集</span></div>
<p>　　新华社巴黎12月9日电（记者唐霁）法国9日再次爆发全国跨行业大罢工，反对政府进行退休制度改革，首都巴黎交通几乎完全瘫痪，其他多个城市交通也受到影响。</p>
<p>　　9日的罢工是继5日80万多人参与的全国跨行业大罢工后，工会发起的第二轮向政府施压行动。当天大巴黎地区交通几乎完全瘫痪。</p>
<p>　　法国各工会号召10日继续举行全国跨行业大罢工及游行，预计交通、教育等多个行业都将受到影响。</p>
<div class="tadd"><div class="zan-wap"><div class="zan-i">+1</div></div></div>
<div class="p-tags" id=""><span class="p-jc"><span class="tiyi1"><a href="javascript:void(0);" class="advise">【纠错】</a></span>
责任编辑：
尹世杰
</span></div>
</div></div></div>
<div class="fllow3-wap"><ul class="right-wap hot-news"><div class="name">热帖</div>
<li><a href="/t1">大数据"坑熟客",技术之罪需规则规避</a><div class="clearfix hot-bottom"><div class="left publish-time">2018-03-02 08:58:39</div></div></li>
<li><a href="/t2">高质量发展，怎么消除“游离感”？</a><div class="clearfix hot-bottom"><div class="left publish-time">2018-03-02 08:58:39</div></div></li>
</ul></div></div>
</body></html>"""


def test_xinhuanet_article_without_h1() -> None:
    meta = page_metadata(lxml.html.fromstring(XINHUANET), now=NOW)
    assert (meta.published, meta.published_from) == (datetime(2019, 12, 10, 7, 57, 40), "zh-dateline")
    assert meta.authors == ["唐霁"]  # from the dispatch credit 新华社巴黎12月9日电（记者唐霁）
    assert meta.editors == ["尹世杰"]
    assert meta.source_name == "新华网"
    assert meta.title == "法国全国大罢工再次严重影响交通"


def test_government_cms_meta_tags() -> None:
    tree = lxml.html.fromstring("""<html><head><title>1-10月德清县固定资产投资结构趋稳趋优</title>
    <meta name="Maketime" content="2019-03-22 12:28:37"><meta name="SiteName" content="浙江省发展和改革委员会">
    <meta name="PubDate" content="2016-11-22 09:53"><meta name="author" content="">
    <meta name="contentSource" content="省发改委"></head>
    <body><table><tr><td class="title">1-10月德清县固定资产投资结构趋稳趋优</td></tr>
    <tr><td>发布日期：2019-03-22　浏览次数：88</td></tr>
    <tr><td><p>1-10月，全县固定资产投资完成246.79亿元，完成年度计划82.3%，同比增长15.3%，位列三县两区第一。其中第三产业投资完成119.90亿元，同比增长15.2%。</p></td></tr></table></body></html>""")
    meta = page_metadata(tree)
    assert (meta.published, meta.published_from) == (datetime(2016, 11, 22, 9, 53), "meta")
    assert meta.source_name == "省发改委"
    assert meta.authors == []


def test_meta_author_that_is_the_source_outlet() -> None:
    # sina: <meta property="article:author" content="参考消息"> names the outlet of 来源.
    tree = lxml.html.fromstring(f"""<html><head><title>中国人习以为常的地方 为何老外却说“了不得”？|公园_新浪新闻</title>
    <meta property="og:title" content="中国人习以为常的地方 为何老外却说“了不得”？">
    <meta property="article:published_time" content="2019-11-25T18:57:38+08:00">
    <meta property="article:author" content="参考消息"></head><body>
    <div class="main-content w1240"><h1 class="main-title">中国人习以为常的地方 为何老外却说“了不得”？</h1>
    <div class="top-bar-wrap"><div class="date-source"><span class="date">2019年11月25日 18:57</span>
    <a href="http://www.cankaoxiaoxi.com/" class="source">参考消息</a></div></div>
    <div class="article" id="article"><p>　　原标题：视界丨这个中国人习以为常的地方为何老外却说“了不得”？</p>{BODY}
    <p class="show_author">责任编辑：张迪 </p></div></div></body></html>""")
    meta = page_metadata(tree)
    assert meta.published == datetime(2019, 11, 25, 18, 57, 38, tzinfo=timezone(timedelta(hours=8)))
    assert meta.editors == ["张迪"]
    assert meta.title == "中国人习以为常的地方 为何老外却说“了不得”?"
    assert meta.authors == ["参考消息"]  # nothing better on the page: kept as a last resort


@pytest.mark.parametrize("author", ['"大河网"', '"新华社"', '{"@type": "Person", "name": "大河网"}'])
def test_jsonld_author_that_is_an_outlet_yields_to_the_byline(author: str) -> None:
    head = f'<script type="application/ld+json">{{"@type":"NewsArticle","author":{author}}}</script>'
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="info">记者 张三</div><div class="content">{BODY}</div>',
                  head=head)
    assert structured_authors(tree) == []
    assert page_metadata(tree).authors == ["张三"]


def test_info_block_below_the_body() -> None:
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>'
                  '<div class="article-info">发布日期：2020-04-08　来源：县政府办公室　【打印】【关闭】</div>')
    meta = page_metadata(tree)
    assert (meta.published, meta.published_from, meta.source_name) == (datetime(2020, 4, 8), "zh-dateline", "县政府办公室")


def test_top_bar_today_inside_a_page_wrapper_is_not_a_date() -> None:
    tree = lxml.html.fromstring(f"""<html><body><div id="wrapper">
    <div class="top"><span class="date">今天是2021年1月5日 星期二</span></div>
    <div class="main"><div class="article"><h2 class="art-title">郑州推进老旧小区改造</h2>
    <div class="content">{BODY}</div></div></div></div></body></html>""")
    assert page_metadata(tree, now=NOW).published is None
    assert dateline_date("今天是2021年1月5日 星期二") is None


def test_related_list_without_list_markup_below_the_body() -> None:
    related = ('<div class="box"><p><a href="/c1">郑州老旧小区改造首批项目全面开工</a><span class="time">2020-03-01</span></p>'
               '<p><a href="/c2">河南出台城镇老旧小区改造实施意见</a><span class="time">2020-02-15</span></p></div>')
    tree = portal(f'<h1>郑州推进老旧小区改造</h1><div class="content">{BODY}</div>{related}')
    assert page_metadata(tree).published is None


@pytest.mark.parametrize("pattern", [r"[^a]x", r"Info", r"a\$", r"x\d+", r"a.b"])
def test_no_prefilter_is_derived_from_a_hint_that_dropping_anchors_or_case_would_change(pattern: str) -> None:
    with pytest.raises(ValueError):
        zp.hint_prefilter(re.compile(pattern, re.IGNORECASE))


@pytest.mark.parametrize("class_id", [
    "info", "article-info", "pub_time", "ly", "from", "fbsj", "src-link", "ſource", "SOURCE", "lyric", "fromage",
    "article-content", "only", "main wrap", "", "editor", "zrbj", "author-name", "co-author", "ſditor",
])
@pytest.mark.parametrize("hint, prefilter", [
    (zp.HEADER_HINT_RE, zp.HEADER_HINT_PREFILTER_RE), (zp.EDITOR_HINT_RE, zp.EDITOR_HINT_PREFILTER_RE),
])
def test_a_hint_prefilter_never_changes_what_the_hint_finds(
    class_id: str, hint: re.Pattern[str], prefilter: re.Pattern[str],
) -> None:
    # The prefilter is a speed-up only: it must find something wherever a token matches.
    el = lxml.html.fromstring(f'<div class="{class_id}">x</div>')
    page = Page(el)
    assert page.has_hint(el, hint, prefilter) == page.has_hint(el, hint)
    assert all(prefilter.search(word) for word in re.sub(r"[()^$?:]", "", hint.pattern).split("|"))
