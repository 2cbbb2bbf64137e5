"""Bytes to text (decode), safe HTML (sanitize) and dates to UTC instants."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crawler.extract import dates
from crawler.extract.dates import dateutil_datetime, infer_timezone, parse_datetime, standard_datetime, to_utc
from crawler.extract.decode import decode_html, detect_encoding
from crawler.extract.sanitize import safe_html

# 镕 (U+9555) and 昇 (U+6607) are in GBK but not in GB2312: a page labelled
# gb2312 that uses them only decodes right when read as GBK/GB18030.
GBK_ONLY = "朱镕基 李昇"
PARAGRAPH = (
    "国务院总理朱镕基今天在北京会见了来访的客人，双方就经济合作、文化交流等共同关心的问题深入交换了意见。"
    "南唐烈祖李昇的陵墓位于江苏南京，是五代十国时期规模最大的帝王陵墓之一。"
)


def page(head: str = "", body: str = PARAGRAPH) -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>新闻</title></head><body><p>{body}</p></body></html>"


def assert_clean_chinese(text: str) -> None:
    assert "\ufffd" not in text
    assert "朱镕基" in text and "李昇" in text
    assert PARAGRAPH in text


# --------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------

def test_gbk_only_characters_are_not_gb2312():
    with pytest.raises(UnicodeEncodeError):
        GBK_ONLY.encode("gb2312")
    assert GBK_ONLY.encode("gbk").decode("gbk") == GBK_ONLY


def test_gbk_page_with_charset_only_in_meta_http_equiv():
    html = page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    text, encoding = decode_html(html.encode("gbk"))
    assert_clean_chinese(text)
    assert encoding == "gb18030"


def test_gbk_page_with_meta_charset():
    text, _ = decode_html(page('<meta charset="GBK">').encode("gbk"), "text/html")
    assert_clean_chinese(text)


def test_http_header_charset_beats_meta():
    # The page claims UTF-8 but is GBK; the server says so.
    body = page('<meta charset="utf-8">').encode("gbk")
    text, encoding = decode_html(body, "text/html; charset=GBK")
    assert_clean_chinese(text)
    assert encoding == "gb18030"
    # And the other way round: a UTF-8 page whose template says gb2312.
    body = page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">').encode("utf-8")
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert_clean_chinese(text)
    assert encoding == "utf-8"


def test_utf8_bom_beats_header_and_meta():
    body = b"\xef\xbb\xbf" + page('<meta charset="gbk">').encode("utf-8")
    text, encoding = decode_html(body, "text/html; charset=gbk")
    assert_clean_chinese(text)
    assert encoding == "utf-8"
    assert not text.startswith("\ufeff")
    assert text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("codec", "expected"), [
    ("utf-8-sig", "utf-8"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
    ("utf-32-le", "utf-32-le"), ("utf-32-be", "utf-32-be"),
])
def test_every_byte_order_mark_beats_a_contradicting_label(codec, expected):
    body = page('<meta charset="gbk">').encode(codec)
    if codec != "utf-8-sig":  # the -le/-be codecs write no BOM of their own
        body = "\ufeff".encode(codec) + body
    text, encoding = decode_html(body, "text/html; charset=gbk")
    assert_clean_chinese(text)
    assert text.startswith("<!DOCTYPE html>")
    assert encoding == expected


def test_undeclared_utf8_page():
    body = page().encode("utf-8")
    assert detect_encoding(body) == "utf-8"
    text, encoding = decode_html(body, "text/html")
    assert_clean_chinese(text)
    assert encoding == "utf-8"


def test_undeclared_gbk_page_falls_back_to_statistics():
    body = page().encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert detect_encoding(body) == "gb18030"
    text, encoding = decode_html(body)
    assert_clean_chinese(text)
    assert encoding == "gb18030"


def test_undeclared_short_gbk_snippet():
    text, _ = decode_html(f"<p>{GBK_ONLY}在北京</p>".encode("gbk"))
    assert text == f"<p>{GBK_ONLY}在北京</p>"


def test_undeclared_ascii_page():
    text, encoding = decode_html(b"<html><body><p>Hello world</p></body></html>")
    assert text == "<html><body><p>Hello world</p></body></html>"
    assert encoding == "utf-8"


# --------------------------------------------------------------------------
# sanitize
# --------------------------------------------------------------------------

HOSTILE = [
    ('<p>a<script>alert("x")</script>b</p>', ["<script", "alert"]),
    ('<img src="x.jpg" onerror="alert(1)">', ["onerror", "alert"]),
    ('<p onclick="steal()">text</p>', ["onclick", "steal"]),
    ('<a href="javascript:alert(1)">link</a>', ["javascript", "alert"]),
    ('<a href="JaVaScRiPt:alert(1)">link</a>', ["javascript", "alert"]),
    ('<a href=" javascript:alert(1)">link</a>', ["javascript", "alert"]),
    ('<a href="java&#x09;script:alert(1)">link</a>', ["script:", "alert"]),
    ('<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">', ["data:", "base64"]),
    ('<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>', ["data:", "<script"]),
    ('<iframe src="https://evil.example/"></iframe><p>kept</p>', ["<iframe", "evil.example"]),
    ("<style>body{background:url(javascript:alert(1))}</style><p>kept</p>", ["<style", "background", "javascript"]),
    ('<svg onload="alert(1)"><circle r="1"/></svg><p>kept</p>', ["<svg", "onload", "alert", "<circle"]),
    ('<p style="background:url(x)">kept</p>', ["style=", "url(x)"]),
    ('<form action="https://evil.example/"><input name="pw"></form>', ["<form", "<input", "evil.example"]),
    ('<object data="x.swf"></object><embed src="x.swf">', ["<object", "<embed", "x.swf"]),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', ["<meta", "refresh", "evil.example"]),
    ('<p>a</p><!-- <script>alert(1)</script> -->', ["<!--", "alert"]),
]


@pytest.mark.parametrize("html, forbidden", HOSTILE)
def test_hostile_markup_never_survives(html, forbidden):
    cleaned = safe_html(html)
    for needle in forbidden:
        assert needle.lower() not in cleaned.lower(), cleaned
    assert "on" + "error" not in cleaned.lower() and "onload" not in cleaned.lower()


def test_surviving_text_of_hostile_markup():
    assert safe_html('<p onclick="x()">text</p>') == "<p>text</p>"
    assert ">link</a>" in safe_html('<a href="JaVaScRiPt:alert(1)">link</a>')
    assert "<p>kept</p>" in safe_html("<style>p{color:red}</style><p>kept</p>")


def test_normal_markup_survives():
    html = (
        '<p>第一段<strong>重点</strong>和<em>强调</em>。</p>'
        '<p><a href="https://example.com/a?b=1&amp;c=2" title="来源">来源</a></p>'
        '<figure><img src="images/ab/cd/x.jpg" alt="图片" width="640" height="480"><figcaption>图注</figcaption></figure>'
        "<ul><li>一</li><li>二</li></ul><blockquote>引用</blockquote>"
    )
    cleaned = safe_html(html)
    assert "<p>第一段<strong>重点</strong>和<em>强调</em>。</p>" in cleaned
    assert 'href="https://example.com/a?b=1&amp;c=2"' in cleaned
    assert 'title="来源"' in cleaned
    assert '<img src="images/ab/cd/x.jpg" alt="图片" width="640" height="480">' in cleaned
    assert "<figcaption>图注</figcaption>" in cleaned
    assert "<ul><li>一</li><li>二</li></ul>" in cleaned
    assert "<blockquote>引用</blockquote>" in cleaned


def test_links_get_a_safe_rel():
    cleaned = safe_html('<a href="http://example.com/" rel="opener" target="_blank">x</a>')
    assert 'href="http://example.com/"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned
    assert "target" not in cleaned and 'rel="opener"' not in cleaned


def test_relative_and_absolute_image_sources_survive():
    assert safe_html('<img src="http://a.example/x.jpg">') == '<img src="http://a.example/x.jpg">'
    assert safe_html('<img src="../x.jpg">') == '<img src="../x.jpg">'
    assert safe_html('<img src="/x.jpg">') == '<img src="/x.jpg">'


def test_text_is_escaped_not_dropped():
    assert safe_html("<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>") == "<p>1 &lt; 2 &amp;&amp; 3 &gt; 2</p>"


# --------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------

UTC = timezone.utc


def test_to_utc_reads_naive_times_in_the_given_zone():
    assert to_utc(datetime(2021, 10, 27, 6, 6, 31), "Asia/Shanghai") == datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)
    assert to_utc(datetime(2021, 10, 27, 6, 6, 31), "Asia/Shanghai").utcoffset() == timedelta(0)


def test_to_utc_naive_without_zone_is_utc():
    assert to_utc(datetime(2021, 10, 27, 6, 6, 31)) == datetime(2021, 10, 27, 6, 6, 31, tzinfo=UTC)


def test_to_utc_keeps_aware_input_instant():
    aware = datetime(2021, 10, 27, 6, 6, 31, tzinfo=timezone(timedelta(hours=-5)))
    # The zone name is for naive input only: an aware time keeps its instant.
    result = to_utc(aware, "Asia/Shanghai")
    assert result == datetime(2021, 10, 27, 11, 6, 31, tzinfo=UTC)
    assert result.tzinfo == UTC
    zoned = datetime(2021, 7, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    assert to_utc(zoned) == datetime(2021, 7, 1, 16, 0, tzinfo=UTC)


def test_to_utc_honours_daylight_saving():
    assert to_utc(datetime(2021, 1, 15, 12, 0), "Europe/London") == datetime(2021, 1, 15, 12, 0, tzinfo=UTC)
    assert to_utc(datetime(2021, 7, 15, 12, 0), "Europe/London") == datetime(2021, 7, 15, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "tag, zone",
    [
        ("zh", "Asia/Shanghai"),
        ("zh-CN", "Asia/Shanghai"),
        ("zh_CN", "Asia/Shanghai"),
        ("ZH-cn", "Asia/Shanghai"),
        ("zh-TW", "Asia/Taipei"),
        ("zh-HK", "Asia/Hong_Kong"),
        ("ja", "Asia/Tokyo"),
        ("en", None),
        ("en-US", None),
        ("", None),
        (None, None),
    ],
)
def test_infer_timezone(tag, zone):
    assert infer_timezone(tag) == zone


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Tue, 26 Oct 2021 22:06:31 GMT", datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)),
        ("Tue, 26 Oct 2021 22:06:31 +0000", datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)),
        ("2021-10-27T06:06:31+08:00", datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)),
        ("2021-10-26T22:06:31Z", datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)),
        ("  2021-10-26T17:06:31.250-05:00 ", datetime(2021, 10, 26, 22, 6, 31, 250000, tzinfo=UTC)),
    ],
)
def test_parse_datetime_aware_strings(value, expected):
    parsed = parse_datetime(value)
    assert parsed is not None and parsed.utcoffset() is not None
    assert parsed == expected
    assert to_utc(parsed) == expected


def test_parse_datetime_keeps_the_offset():
    parsed = parse_datetime("2021-10-27T06:06:31+08:00")
    assert parsed.utcoffset() == timedelta(hours=8)
    assert (parsed.year, parsed.month, parsed.day, parsed.hour) == (2021, 10, 27, 6)


def test_parse_datetime_naive_string_stays_naive():
    parsed = parse_datetime("2021-10-27 06:06:31")
    assert parsed == datetime(2021, 10, 27, 6, 6, 31)
    assert parsed.tzinfo is None
    assert to_utc(parsed, "Asia/Shanghai") == datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "not a date at all",
        "",
        "   ",
        None,
        "1900-01-01T00:00:00Z",
        "Mon, 01 Jan 1900 00:00:00 GMT",
        "2150-01-01",
        "99999999999",
        # No year: dateutil would make one up.
        "10-26 22:06",
        "22:06",
        "12",
    ],
)
def test_parse_datetime_rejects(value):
    assert parse_datetime(value) is None


def test_parse_datetime_date_only_and_partial_dates():
    assert parse_datetime("2021-10-26") == datetime(2021, 10, 26)
    assert parse_datetime("2021-10") == datetime(2021, 10, 1)  # W3C datetime (sitemap lastmod) granularity


COMMON_MACHINE_DATES = [
    "2021-10-26", "2021-10-26T22:06", "2021-10-26 22:06:31", "2021-10-26T22:06:31Z", "2021-10-26T22:06:31.250Z",
    "2021-10-26T22:06:31.123456+08:00", "2021-10-26T22:06:31+0800", "2021-10-26T22:06+08:00", "2021-10-26T17:06:31-05:00",
    "Tue, 26 Oct 2021 22:06:31 GMT", "Tue, 26 Oct 2021 22:06:31 +0800", "26 Oct 2021 22:06 +0000",
    "Tue, 26 Oct 2021 22:06:31 UTC", "Tue, 26 oct 2021 22:06:31 -0500", "wed, 26 Oct 2021 22:06:31 GMT",
]


@pytest.mark.parametrize("value", COMMON_MACHINE_DATES)
def test_common_machine_dates_are_read_without_dateutil(value, monkeypatch):
    # dateutil reads a string twice (did it name a year?): 0.1 ms a date, for a reading the standard library gives.
    expected = dateutil_datetime(value)

    def refused(*args, **kwargs):
        raise AssertionError("read by dateutil")

    monkeypatch.setattr(dates.date_parser, "parse", refused)
    moment = parse_datetime(value)
    assert moment is not None and moment.replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert moment.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("value", [
    *COMMON_MACHINE_DATES,
    # Left to dateutil, whose reading differs: "-0000" is UTC there and naive in email.utils, "CST" a US zone there.
    "Tue, 26 Oct 2021 22:06:31 -0000", "Tue, 26 Oct 2021 22:06:31 CST",
    # ... an offset without a time (08:00 to fromisoformat), any day name and a pivoted year (email.utils).
    "2021-10-26+08:00", "2021-10-26Z", "2021-10-26+0100", "Lun, 25 Oct 2021 10:00:00 +0200", "Foo, 1 Oct 2021 22:06 GMT",
    "1 Oct 0070 22:06 GMT",
    # Not the forms the standard library is asked: dateutil reads them.
    "2021-10-26T22:06:31.1234567Z", "2021-10-26T22:06:31+08", "20211026T220631Z", "2021-W43-2", "26 Oct 21 22:06 GMT",
    # Impossible: nobody reads them.
    "2021-02-30", "2021-10-26T24:00:00", "2021-13-01", "Tue, 31 Feb 2021 22:06:31 GMT",
])
@pytest.mark.filterwarnings("ignore:tzname CST identified")  # dateutil on "CST": read as naive, as the crawl does
def test_the_standard_librarys_reading_is_dateutils(value):
    ours, theirs = standard_datetime(value), dateutil_datetime(value)
    if ours is not None:
        assert theirs is not None and ours.replace(tzinfo=None) == theirs.replace(tzinfo=None)
        assert ours.utcoffset() == theirs.utcoffset()
    assert parse_datetime(value) == (theirs if theirs is None or theirs.year in dates.PLAUSIBLE_YEARS else None)


def test_language_sample_reaches_past_an_english_lead_in():
    from crawler.extract.language import text_language

    lead = "Editor's note: the following report was first published by our partner newsroom. " * 40
    body = "国家统计局今天发布数据，经济运行总体平稳，稳中有进的态势没有改变。各地各部门认真贯彻落实。" * 120
    assert len(lead) > 3000  # longer than a sample from the start alone
    assert text_language(lead + "\n\n" + body) == "zh"
    assert text_language(lead) == "en"


@pytest.mark.parametrize("text, expected", [
    ("国家统计局今天发布数据，经济运行总体平稳，稳中有进的态势没有改变。" * 20, "zh"),
    # Han characters with kana between them: Japanese, for the model to say.
    ("東京都は本日、新しい政策を発表しました。市民の生活を支援するためです。" * 20, "ja"),
    ("서울시는 오늘 새로운 정책을 발표했다. 시민들의 생활을 지원하기 위해서다." * 20, "ko"),
    # Written Cantonese: Chinese, the macrolanguage.
    ("佢哋話今日嘅天氣好好，我哋一齊去公園行下啦。" * 20, "zh"),
    # Mostly English around a few Chinese words.
    ("The statistics bureau (国家统计局) said on Tuesday that the economy grew steadily this year. " * 20, "en"),
])
def test_text_language_by_script_and_model(text, expected):
    from crawler.extract.language import text_language

    assert text_language(text) == expected


def test_chinese_is_told_by_its_script_without_the_model(monkeypatch):
    import py3langid

    from crawler.extract.language import text_language

    def no_model(text):
        raise AssertionError("the model ran on Chinese text")

    monkeypatch.setattr(py3langid, "classify", no_model)
    assert text_language("额济纳旗继续实行居家管控措施，志愿者将物资送到居民家门口。" * 10 + " COVID-19 PCR") == "zh"


# -- boilerplate pruning --------------------------------------------------------

def _pruned(body: str) -> str:
    import lxml.html

    from crawler.extract.boilerplate import prune_boilerplate
    from crawler.extract.core import parse_html

    tree = parse_html(f"<html><head><title>t</title></head><body>{body}</body></html>")
    prune_boilerplate(tree)
    return lxml.html.tostring(tree.find("body"), encoding="unicode")


@pytest.mark.parametrize("bar", [
    # A share bar holding a recommendation block: measured once the block is gone.
    '<div class="share-bar"><a href="/wx">微信</a><div id="recommend">' + "推荐阅读" * 70 + "</div></div>",
    # ... or a call to action longer than a share bar may be.
    '<div class="bdshare"><span>微信</span><p>点击阅读全文' + "字" * 200 + "</p></div>",
])
def test_share_bars_go_with_what_they_hold(bar):
    out = _pruned(f"<article><p>正文内容，足够长的一段话。</p>{bar}<p>第二段。</p></article>")
    assert "微信" not in out and "推荐" not in out and "点击" not in out
    assert "正文内容" in out and "第二段" in out


def test_a_wrapper_named_like_a_share_bar_keeps_the_article():
    text = "国家统计局今天发布数据，经济运行总体平稳。" * 20
    out = _pruned(f'<div class="share-wrap"><p>{text}</p></div><p>分享让更多人看到</p>')
    assert text in out and "分享让更多人看到" not in out


@pytest.mark.parametrize("prefix", ["<b>Notice</b>: Undefined index: id in /var/www/news.php on line 12\n", ""])
def test_pages_not_starting_with_html_are_pruned_too(prefix):
    # lxml hands such a page over as a <div> inside its own <html>.
    import lxml.html

    from crawler.extract.boilerplate import prune_boilerplate
    from crawler.extract.core import parse_html

    page = (f'{prefix}<body><div class="wrap"><div id="recommend">推荐阅读：另一篇文章</div>'
            '<div class="share">分享到：微博</div><p>分享让更多人看到</p><p>正文内容，足够长的一段话。</p></div></body>')
    tree = parse_html(page)
    prune_boilerplate(tree)
    out = lxml.html.tostring(tree.getroottree().getroot(), encoding="unicode")
    assert "正文内容" in out
    assert "推荐阅读" not in out and "微博" not in out and "分享让更多人看到" not in out


# -- page furniture and links -----------------------------------------------------

ARTICLE_PARAGRAPHS = "".join(f"<p>第{i}段：国家统计局今天发布数据，经济运行总体平稳，稳中有进的态势没有改变。</p>" for i in range(8))
FURNITURE = ('<nav><ul><li><a href="/">菜单首页</a></li></ul></nav>'
             '<aside><p>侧栏热点新闻一条</p></aside>'
             '<footer><p>页脚版权所有</p></footer>')


def test_furniture_is_dropped_but_never_the_last_paragraphs():
    import lxml.html

    from crawler.extract.boilerplate import drop_furniture
    from crawler.extract.core import parse_html

    tree = parse_html(f"<html><body>{FURNITURE}<article>{ARTICLE_PARAGRAPHS}</article></body></html>")
    drop_furniture(tree)
    out = lxml.html.tostring(tree, encoding="unicode")
    assert "第0段" in out and "菜单首页" not in out and "侧栏" not in out and "页脚" not in out
    # Every paragraph inside furniture: a template's article in an <aside> stays.
    tree = parse_html(f"<html><body><nav><a href='/'>菜单首页</a></nav><aside>{ARTICLE_PARAGRAPHS}</aside></body></html>")
    drop_furniture(tree)
    assert "第0段" in lxml.html.tostring(tree, encoding="unicode")


def test_site_rules_read_the_page_before_its_furniture_goes():
    from crawler.extract.core import extract_article
    from crawler.extract.article import ExtractOptions
    from crawler.extract.rules import SiteRules

    page = (f"<html><head><title>标题</title></head><body>{FURNITURE}<article><h1>标题</h1>{ARTICLE_PARAGRAPHS}"
            "<footer class='byline'>记者 张三</footer></article></body></html>")
    options = ExtractOptions(rules=SiteRules(author="footer.byline"))
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html", options=options)
    assert article.authors == ["张三"]
    assert "菜单首页" not in article.text and "页脚" not in article.text and "第7段" in article.text


def test_article_links_resolve_against_the_page_not_the_site_root():
    from crawler.extract.core import extract_article

    paragraphs = ARTICLE_PARAGRAPHS.replace("<p>第3段", '<p><a href="more.html">相关报道</a>第3段').replace(
        "<p>第5段", '<p><a href="/about/">关于我们</a>第5段')
    page = f"<html><head><title>标题</title></head><body>{FURNITURE}<article>{paragraphs}</article></body></html>"
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html")
    assert 'href="http://news.example.com/2024/01/more.html"' in article.html
    assert 'href="http://news.example.com/about/"' in article.html


def test_article_links_resolve_against_the_base_href():
    from crawler.extract.core import extract_article

    paragraphs = ARTICLE_PARAGRAPHS.replace("<p>第3段", '<p><a href="more.html">相关报道</a>第3段')
    page = (f"<html><head><title>标题</title><base href='/static/'></head><body>{FURNITURE}"
            f"<article>{paragraphs}<p><img src='pic.jpg' alt='图'>第8段：图片说明以外的正文内容。</p></article></body></html>")
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html")
    assert 'href="http://news.example.com/static/more.html"' in article.html
    assert article.image_urls == ["http://news.example.com/static/pic.jpg"]


def test_furniture_holding_an_image_stays_for_the_article_to_place_it():
    from crawler.extract.core import extract_article

    paragraphs = ARTICLE_PARAGRAPHS.replace(
        "<p>第4段", "<aside class='photo'><img src='/img/photo.jpg' alt='现场'></aside><p>第4段")
    page = f"<html><head><title>标题</title></head><body>{FURNITURE}<article>{paragraphs}</article></body></html>"
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html")
    assert article.image_urls == ["http://news.example.com/img/photo.jpg"]
    assert "菜单首页" not in article.text


def test_metadata_inside_furniture_outlives_it():
    import json

    from crawler.extract.core import extract_article

    jsonld = json.dumps({"@type": "NewsArticle", "datePublished": "2024-01-02T10:20:00+08:00",
                         "author": {"@type": "Person", "name": "张三"}}, ensure_ascii=False)
    page = (f"<html><head><title>标题</title></head><body>{FURNITURE}<article><h1>标题</h1>{ARTICLE_PARAGRAPHS}</article>"
            f"<footer><p>页脚</p><script type='application/ld+json'>{jsonld}</script>"
            "<meta name='keywords' content='经济'></footer></body></html>")
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html")
    assert article.published == "2024-01-02T02:20:00+00:00" and article.authors == ["张三"]
    assert "页脚" not in article.text


def test_linked_images_keep_no_furniture_and_sidebar_microdata_stays_the_sidebars():
    import lxml.html

    from crawler.extract.boilerplate import drop_furniture
    from crawler.extract.core import extract_article, parse_html

    logo_nav = "<nav><a href='/'><img src='/logo.png'></a><a href='/world/'>菜单国际</a></nav>"
    card = ("<aside><div itemscope itemtype='https://schema.org/NewsArticle'><a href='/old.html'><img src='/t.jpg'></a>"
            "<meta itemprop='datePublished' content='2020-05-06'><meta itemprop='author' content='李四'>旧闻一则</div></aside>")
    page = (f"<html><head><title>标题</title></head><body>{logo_nav}{card}<article><h1>标题</h1>"
            f"<meta itemprop='datePublished' content='2024-01-02T10:20:00+08:00'>{ARTICLE_PARAGRAPHS}</article>"
            "<footer><a href='http://beian.example/'><img src='/beian.png'></a>备案号</footer></body></html>")
    tree = parse_html(page)
    drop_furniture(tree)
    out = lxml.html.tostring(tree, encoding="unicode")
    assert "菜单国际" not in out and "旧闻一则" not in out and "备案号" not in out, "linked images keep no furniture"
    article = extract_article(page.encode("utf-8"), "http://news.example.com/2024/01/a.html")
    assert article.published == "2024-01-02T02:20:00+00:00" and "李四" not in article.authors


@pytest.mark.parametrize("head, expected", [
    ("<base href='javascript:void(0)'>", "http://news.example.com/2024/01/more.html"),  # no web address: ignored
    ("<base target='_blank'><base href='http://cdn.example.com/a/'>", "http://cdn.example.com/a/more.html"),
    ("", "http://news.example.com/2024/01/more.html"),
])
def test_the_base_url_is_the_first_web_address_base(head, expected):
    from urllib.parse import urljoin

    from crawler.extract.core import document_base_url, parse_html

    tree = parse_html(f"<html><head>{head}</head><body><p>x</p></body></html>")
    assert urljoin(document_base_url(tree, "http://news.example.com/2024/01/a.html"), "more.html") == expected


def test_a_relative_canonical_resolves_against_the_base_href():
    from crawler.extract.article import canonical_url
    from crawler.extract.core import parse_html

    tree = parse_html("<html><head><base href='/news/'><link rel='canonical' href='2024/a.html'></head><body><p>x</p></body></html>")
    assert canonical_url(tree, "http://news.example.com/m/a.html?from=app", base_url="http://news.example.com/news/") == \
        "http://news.example.com/news/2024/a.html"


# --- the headline opening an extracted body ---------------------------------------

LEAD = "<p>Backlogs at the region's two largest terminals have fallen to their lowest level in months.</p>"


@pytest.mark.parametrize("body, dropped, first", [
    # a kicker (the section as a link), then the headline: both go
    ("<p><ref target='/b'>Business</ref></p><head rend='h1'>Port  Congestion Eases</head>" + LEAD, True, "p"),
    ("<head rend='h1'>Port Congestion Eases</head>" + LEAD, True, "p"),
    # another heading, or text before the headline: nothing goes
    ("<head rend='h1'>Shipping</head>" + LEAD, False, "head"),
    (LEAD + "<head rend='h2'>Port Congestion Eases</head>", False, "p"),
    ("<p>Monday, a day of reckoning</p><head rend='h1'>Port Congestion Eases</head>" + LEAD, False, "p"),
    # the headline is all the text the body holds: it stays
    ("<head rend='h1'>Port Congestion Eases</head>", False, "head"),
    ("<head rend='h1'>Port Congestion Eases</head><graphic src='/a.jpg'/><p>分享让更多人看到</p>", False, "head"),
    # An image's caption is no body text either (crawler.extract.captions).
    ("<head rend='h1'>Port Congestion Eases</head><figure><graphic src='/a.jpg'/><figcaption>Cranes idle at the port</figcaption></figure>",
     False, "head"),
])
def test_a_headline_opening_the_body_goes_the_title_is_in_the_record(body, dropped, first):
    from lxml import etree

    from crawler.extract.boilerplate import drop_leading_headline

    tree = etree.fromstring(f"<body>{body}</body>")
    before = etree.tostring(tree)
    assert drop_leading_headline(tree, "Port Congestion Eases") is dropped
    assert tree[0].tag == first
    if dropped:
        assert "Congestion" not in "".join(tree.itertext()) and "Backlogs" in "".join(tree.itertext())
    else:
        assert etree.tostring(tree) == before, "left as it was"


@pytest.mark.parametrize("html, text", [
    ("a&#7;b", "ab"), ("a&#x1B;[2Jb", "a[2Jb"), ("a&#0027;b", "ab"), ("a&#127;b", "ab"),
    # not controls: kept for the parser
    ("don&#146;t", "don&#146;t"), ("1990&#150;2000", "1990&#150;2000"), ("&#128;5", "&#128;5"), ("&#x85;", "&#x85;"),
    ("&#9;&#10;", "&#9;&#10;"), ("&#271;&#x1b3;&#128512;&#39;", "&#271;&#x1b3;&#128512;&#39;"),
])
def test_only_references_to_controls_are_dropped_before_parsing(html, text):
    from crawler.extract.decode import drop_control_references

    assert drop_control_references(html) == text


def test_a_windows_1252_reference_survives_extraction():
    from crawler.extract.core import extract_article

    page = ("<html><head><title>T</title></head><body><article>"
            + "".join(f"<p>Paragraph {n}: we don&#146;t lose the apostrophe of 1990&#150;2000 here.</p>" for n in range(6))
            + "</article></body></html>").encode()
    assert "don’t" in extract_article(page, "https://e.com/a.html").text


@pytest.mark.parametrize("declared_in", ["meta", "header"])
def test_a_gbk_page_declared_utf8_is_read_as_gbk(declared_in):
    # A template copied from a UTF-8 site: the whole record was mojibake.
    body = page('<meta charset="utf-8">' if declared_in == "meta" else "").encode("gbk")
    text, encoding = decode_html(body, "text/html; charset=utf-8" if declared_in == "header" else "text/html")
    assert_clean_chinese(text)
    assert encoding == "gb18030"


@pytest.mark.parametrize("label", ["gbk", "gb2312", "big5", "iso-8859-1"])
def test_a_utf8_page_declared_otherwise_is_read_as_utf8(label):
    body = page(f'<meta charset="{label}">').encode("utf-8")
    text, encoding = decode_html(body, "text/html")
    assert_clean_chinese(text)
    assert encoding == "utf-8"


def test_little_evidence_leaves_the_declaration_alone():
    # One stray byte in a UTF-8 page, or one symbol that happens to be valid
    # UTF-8 in a Latin-1 page, is no reason to read the page otherwise.
    stray = page('<meta charset="utf-8">', "Caf\u00e9 " * 3 + PARAGRAPH).encode("utf-8") + b"<!-- \xff -->"
    text, encoding = decode_html(stray, "text/html")
    assert encoding == "utf-8" and PARAGRAPH in text
    latin = b'<html><head><meta charset="iso-8859-1"><title>News</title></head><body><p>Caf\xc3\xa9 du monde</p></body></html>'
    text, encoding = decode_html(latin, "text/html")
    assert encoding != "utf-8" and "Caf\u00c3\u00a9 du monde" in text


def test_a_utf8_page_with_a_short_legacy_footer_stays_utf8():
    # Nine cp1252 bytes in a footer: the detector's single-byte guess would
    # turn every curly quote of the page into mojibake. Only the footer is lost.
    article = "".join(f"<p>Officials said \u201cyes\u201d to plan {n}, the council announced on Monday.</p>" for n in range(20))
    body = (f'<html><head><meta charset="utf-8"><title>News</title></head><body><article>{article}</article>'.encode()
            + "<footer>\u00a9 2024 Soci\u00e9t\u00e9 G\u00e9n\u00e9rale M\u00fcnchen Z\u00fcrich \u00a9 caf\u00e9</footer></body></html>".encode("cp1252"))
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert encoding == "utf-8" and "said \u201cyes\u201d to plan 7" in text
