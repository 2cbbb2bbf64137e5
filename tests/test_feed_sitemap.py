"""Feeds (RSS, Atom, JSON Feed) and sitemaps, and the XML safety in front of them."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import pytest

from crawler.sources.feed import FEED_BODY_MIN_CHARS, FeedError, parse_feed
from crawler.sources.sitemap import SitemapError, parse_sitemap
from crawler.sources.xmlsafety import (
    MAX_DECOMPRESSED_BYTES,
    UnsafeXML,
    check_xml,
    gunzip_capped,
    maybe_gunzip,
    parse_xml,
)

FEED_URL = "https://news.example.com/rss/world.xml"
UTC = timezone.utc


def _passwd_markers() -> list[str]:
    """Strings that only /etc/passwd would put into an answer."""
    try:
        first = open("/etc/passwd", encoding="utf-8", errors="replace").readline().strip()
    except OSError:
        first = ""
    return [m for m in ("root:x:0:0", first, "/bin/bash", "/usr/sbin/nologin") if m]


# --------------------------------------------------------------------------
# hostile XML
# --------------------------------------------------------------------------

def billion_laughs(root: str) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol%d;" % (n - 1)) * 10}">' for n in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + "\n".join(entities) + "\n]>\n" + root.replace("BOMB", "&lol9;")
    ).encode("utf-8")


def external_entity(root: str, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + root.replace("BOMB", "&xxe;")
    ).encode(encoding)


RSS_WITH_BOMB = '<rss version="2.0"><channel><title>BOMB</title><item><title>BOMB</title><link>https://news.example.com/a/1</link></item></channel></rss>'
URLSET_WITH_BOMB = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://news.example.com/BOMB</loc></url></urlset>'


def test_billion_laughs_feed_is_refused():
    body = billion_laughs(RSS_WITH_BOMB)
    with pytest.raises(UnsafeXML):
        check_xml(body)
    with pytest.raises(UnsafeXML):
        parse_feed(body, FEED_URL, "application/rss+xml")


@pytest.mark.parametrize("spoil", [
    lambda xml: b" " + xml,  # a space before <?xml: no longer well-formed
    lambda xml: xml.replace(b"<!DOCTYPE", b"<!-- a -- b -->\n<!DOCTYPE", 1),
    lambda xml: (b" " + xml).decode("utf-8").encode("utf-16"),
    lambda xml: (b" " + xml).decode("utf-8").encode("utf-32"),
    lambda xml: (b" " + xml).decode("utf-8").replace('version="1.0"', 'version="1.0" encoding="cp037"').encode("cp037"),
], ids=["space", "bad-comment", "utf-16", "utf-32", "ebcdic"])
def test_entity_expansion_in_a_malformed_feed_is_refused(spoil):
    # expat stops at the flaw before the DOCTYPE, so defusedxml never sees the
    # entities; feedparser's lenient parser would still expand them.
    body = spoil(('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 1000 + '">\n]>\n'
                  + RSS_WITH_BOMB.replace("BOMB", "&a;" * 100)).encode("utf-8"))
    with pytest.raises(UnsafeXML):
        parse_feed(body, FEED_URL, "application/rss+xml")


def test_entities_hidden_by_utf7_in_a_malformed_feed_are_not_expanded():
    # The byte check above cannot see "+ADw-!ENTITY" (UTF-7 for "<!ENTITY"):
    # safe only because feedparser does not decode UTF-7 (it reads the bytes as
    # UTF-8, where the declaration is no declaration). Should it start to, this fails.
    xml = ('<?xml version="1.0" encoding="utf-7"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 1000 + '">\n]>\n'
           + RSS_WITH_BOMB.replace("BOMB", "&a;" * 100))
    body = b" " + xml.encode("utf-7").replace(b"<!ENTITY", b"+ADw-!ENTITY")
    assert "<!ENTITY" in body.decode("utf-7") and b"<!ENTITY" not in body
    try:
        feed = parse_feed(body, FEED_URL, "application/rss+xml")
    except UnsafeXML:
        return
    assert all(len(entry.hints.title or "") <= len("&a;") * 100 for entry in feed.entries)


def test_a_malformed_feed_without_entities_is_still_read():
    body = b" " + ('<?xml version="1.0"?>\n' + RSS_WITH_BOMB.replace("BOMB", "Title")).encode("utf-8")
    assert [entry.hints.title for entry in parse_feed(body, FEED_URL, "application/rss+xml").entries] == ["Title"]


def test_billion_laughs_sitemap_is_refused():
    with pytest.raises(UnsafeXML):
        parse_sitemap(billion_laughs(URLSET_WITH_BOMB))
    with pytest.raises(UnsafeXML):
        parse_xml(billion_laughs(URLSET_WITH_BOMB))


@pytest.mark.parametrize("encoding", ["utf-8", "gb2312", "gbk", "big5"])
def test_external_entity_feed_is_refused_and_leaks_nothing(encoding):
    body = external_entity(RSS_WITH_BOMB, encoding)
    with pytest.raises(UnsafeXML) as info:
        parse_feed(body, FEED_URL, "application/rss+xml")
    message = str(info.value) + repr(info.value.__cause__)
    for marker in _passwd_markers():
        assert marker not in message


def test_external_entity_sitemap_is_refused():
    with pytest.raises(UnsafeXML) as info:
        parse_sitemap(external_entity(URLSET_WITH_BOMB))
    for marker in _passwd_markers():
        assert marker not in str(info.value)


def test_gzipped_hostile_sitemap_is_refused():
    with pytest.raises(UnsafeXML):
        parse_sitemap(gzip.compress(external_entity(URLSET_WITH_BOMB)))


def test_plain_doctype_is_allowed():
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        b'<rss version="0.91"><channel><title>Old</title><link>https://news.example.com/</link>'
        b"<item><title>One</title><link>https://news.example.com/a/1</link></item></channel></rss>"
    )
    check_xml(body)
    feed = parse_feed(body, FEED_URL)
    assert [e.url for e in feed.entries] == ["https://news.example.com/a/1"]


def test_malformed_xml_is_left_to_the_lenient_parsers():
    check_xml(b"<rss><channel><title>unclosed</channel>")  # no exception: not hostile


# --------------------------------------------------------------------------
# RSS
# --------------------------------------------------------------------------

LONG_TEXT = "国务院总理朱镕基今天在北京会见了来访的客人。" * 40
assert len(LONG_TEXT) >= FEED_BODY_MIN_CHARS

RSS = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>示例新闻</title>
  <link>https://news.example.com/</link>
  <language>zh-CN</language>
  <item>
    <title>第一条：朱镕基</title>
    <link>https://news.example.com/a/1.html</link>
    <description>短摘要</description>
    <content:encoded><![CDATA[<p>全文第一段。</p><p>全文第二段。</p>]]></content:encoded>
    <category>时政</category>
    <category>国际</category>
    <dc:creator>记者 张三</dc:creator>
    <pubDate>Tue, 26 Oct 2021 22:06:31 GMT</pubDate>
  </item>
  <item>
    <title>第二条：短摘要</title>
    <link>/a/2.html</link>
    <description>只有一句话。</description>
    <pubDate>Wed, 27 Oct 2021 08:00:00 +0800</pubDate>
  </item>
  <item>
    <title>第三条：长摘要</title>
    <link>https://news.example.com/a/3.html</link>
    <description>{LONG_TEXT}</description>
    <author>editor@example.com (Li Si)</author>
  </item>
  <item>
    <title>no link, a permalink guid</title>
    <guid isPermaLink="true">https://news.example.com/a/4.html</guid>
  </item>
  <item>
    <title>no link at all</title>
    <description>skipped</description>
  </item>
</channel>
</rss>
""".encode("utf-8")


def test_rss_entries_and_hints():
    feed = parse_feed(RSS, FEED_URL, "application/rss+xml; charset=utf-8")
    assert feed.title == "示例新闻"
    assert feed.language == "zh-CN"
    assert [e.url for e in feed.entries] == [
        "https://news.example.com/a/1.html",
        "https://news.example.com/a/2.html",  # relative link resolved against the feed
        "https://news.example.com/a/3.html",
        "https://news.example.com/a/4.html",
    ]
    first = feed.entries[0].hints
    assert first.title == "第一条：朱镕基"
    assert first.body_html == "<p>全文第一段。</p><p>全文第二段。</p>"
    assert first.categories == ["时政", "国际"]
    assert first.authors == ["记者 张三"]
    assert first.published == "Tue, 26 Oct 2021 22:06:31 GMT"  # the raw string, parsed later
    assert first.language == "zh-CN"


def test_rss_short_description_is_no_body():
    second = parse_feed(RSS, FEED_URL).entries[1].hints
    assert second.body_html is None
    assert second.published == "Wed, 27 Oct 2021 08:00:00 +0800"
    assert second.authors == [] and second.categories == []


def test_rss_long_description_is_the_body():
    third = parse_feed(RSS, FEED_URL).entries[2].hints
    assert third.body_html == LONG_TEXT
    assert third.published is None
    assert len(third.authors) == 1 and "Li Si" in third.authors[0]


def test_rss_description_just_under_the_threshold_is_no_body():
    text = "字" * (FEED_BODY_MIN_CHARS - 1)
    body = (
        f'<rss version="2.0"><channel><title>t</title><item><title>x</title><link>https://e.example/1</link>'
        f"<description>{text}</description></item></channel></rss>"
    ).encode()
    assert parse_feed(body, FEED_URL).entries[0].hints.body_html is None
    body = body.replace(text.encode(), (text + "字").encode())
    assert parse_feed(body, FEED_URL).entries[0].hints.body_html == text + "字"


def test_gbk_feed_decodes():
    # People's Daily and many Chinese feeds are served in GB2312/GBK.
    body = (
        '<?xml version="1.0" encoding="gb2312"?>\n<rss version="2.0"><channel><title>人民网－时政</title>'
        "<item><title>朱镕基与李昇</title><link>http://politics.people.com.cn/n1/2021/1027/c1001.html</link>"
        "<description>中文摘要</description><pubDate>Wed, 27 Oct 2021 08:00:00 +0800</pubDate></item>"
        "</channel></rss>"
    ).encode("gbk")
    feed = parse_feed(body, "http://www.people.com.cn/rss/politics.xml", "text/xml")
    assert feed.title == "人民网－时政"
    assert [e.hints.title for e in feed.entries] == ["朱镕基与李昇"]
    assert feed.entries[0].url == "http://politics.people.com.cn/n1/2021/1027/c1001.html"


# --------------------------------------------------------------------------
# Atom and JSON Feed
# --------------------------------------------------------------------------

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Example Atom</title>
  <id>urn:example:feed</id>
  <updated>2021-10-27T00:00:00Z</updated>
  <entry>
    <title>First atom entry</title>
    <link rel="alternate" type="text/html" href="https://news.example.com/atom/1"/>
    <id>urn:example:1</id>
    <published>2021-10-26T22:06:31Z</published>
    <updated>2021-10-27T01:00:00Z</updated>
    <author><name>Ann Writer</name></author>
    <author><name>Bob Writer</name></author>
    <category term="World"/>
    <content type="html">&lt;p&gt;Full atom body.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Second, only updated</title>
    <link href="/atom/2"/>
    <id>https://news.example.com/atom/2-id</id>
    <updated>2021-10-27T02:00:00+08:00</updated>
    <summary>short</summary>
  </entry>
</feed>
"""


def test_atom_entries():
    feed = parse_feed(ATOM, "https://news.example.com/atom.xml", "application/atom+xml")
    assert feed.title == "Example Atom"
    assert [e.url for e in feed.entries] == ["https://news.example.com/atom/1", "https://news.example.com/atom/2"]
    first, second = (e.hints for e in feed.entries)
    assert first.title == "First atom entry"
    assert first.authors == ["Ann Writer", "Bob Writer"]
    assert first.categories == ["World"]
    assert first.published == "2021-10-26T22:06:31Z"
    assert first.body_html == "<p>Full atom body.</p>"
    assert second.published == "2021-10-27T02:00:00+08:00"  # updated when nothing is published
    assert second.body_html is None


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON 新闻",
    "home_page_url": "https://news.example.com/",
    "feed_url": "https://news.example.com/feed.json",
    "language": "zh-CN",
    "authors": [{"name": "编辑部"}],
    "items": [
        {
            "id": "1",
            "url": "https://news.example.com/j/1",
            "title": "第一条",
            "content_html": "<p>正文：朱镕基。</p>",
            "date_published": "2021-10-26T22:06:31Z",
            "authors": [{"name": "王五"}, {"name": "赵六"}],
            "tags": ["时政", "要闻"],
        },
        {
            "id": "https://news.example.com/j/2",
            "title": "只有 id",
            "content_text": "第一段 <b>不是标签</b>\n\n第二段",
            "date_modified": "2021-10-27T08:00:00+08:00",
        },
        {"id": "3", "url": "/j/3", "title": "相对地址", "summary": "短", "content_html": ""},
        {"id": "4", "title": "no address at all", "content_text": "skipped"},
    ],
}


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json", None])
def test_json_feed_entries(content_type):
    body = json.dumps(JSON_FEED, ensure_ascii=False).encode("utf-8")
    feed = parse_feed(body, "https://news.example.com/feed.json", content_type)
    assert feed.title == "JSON 新闻"
    assert feed.language == "zh-CN"
    assert [e.url for e in feed.entries] == [
        "https://news.example.com/j/1",
        "https://news.example.com/j/2",
        "https://news.example.com/j/3",
    ]
    first, second, third = (e.hints for e in feed.entries)
    assert first.title == "第一条"
    assert first.body_html == "<p>正文：朱镕基。</p>"
    assert first.published == "2021-10-26T22:06:31Z"
    assert first.authors == ["王五", "赵六"]
    assert first.categories == ["时政", "要闻"]
    assert first.language == "zh-CN"
    # Plain text content becomes escaped paragraphs; the feed's authors are inherited.
    assert second.body_html == "<p>第一段 &lt;b&gt;不是标签&lt;/b&gt;</p><p>第二段</p>"
    assert second.published == "2021-10-27T08:00:00+08:00"
    assert second.authors == ["编辑部"]
    assert third.body_html is None


def test_json_feed_1_0_author():
    data = {
        "version": "https://jsonfeed.org/version/1",
        "title": "old",
        "items": [{"id": "1", "url": "https://e.example/1", "author": {"name": "Solo"}, "content_text": "x"}],
    }
    feed = parse_feed(json.dumps(data).encode(), "https://e.example/feed.json")
    assert feed.entries[0].hints.authors == ["Solo"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"not": "a feed"}',
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "no items"}',
        b"[1, 2, 3]",
        b"{broken json",
    ],
)
def test_json_that_is_no_feed(body):
    with pytest.raises(FeedError):
        parse_feed(body, FEED_URL, "application/json")


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Home</title></head><body><p>Hi<br></p></body></html>", "text/html"),
        (b"<html><head><title>Home</title></head><body><p>Hi</p></body></html>", None),
        (
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
            b"<body><p>well-formed XHTML</p></body></html>",
            "application/xhtml+xml",
        ),
        (b"", None),
        (b"just some text", "text/plain"),
    ],
)
def test_non_feed_raises_feed_error(body, content_type):
    with pytest.raises(FeedError):
        parse_feed(body, FEED_URL, content_type)


def test_empty_but_valid_feed_has_no_entries():
    feed = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet day</title></channel></rss>', FEED_URL, "application/rss+xml")
    assert feed.title == "Quiet day"
    assert feed.entries == []


# --------------------------------------------------------------------------
# sitemaps
# --------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://news.example.com/a/1.html</loc><lastmod>2021-10-27T06:06:31+08:00</lastmod></url>
  <url><loc>
      https://news.example.com/a/2.html
  </loc><lastmod>2021-10-26</lastmod><changefreq>daily</changefreq></url>
  <url><loc>https://news.example.com/a/3.html</loc></url>
  <url><loc>https://news.example.com/a/4.html</loc><lastmod>not a date</lastmod></url>
  <!-- a comment between entries -->
  <url><lastmod>2021-10-26</lastmod></url>
</urlset>
"""


def test_urlset():
    sitemap = parse_sitemap(URLSET)
    assert sitemap.is_index is False
    assert [e.loc for e in sitemap.entries] == [
        "https://news.example.com/a/1.html",
        "https://news.example.com/a/2.html",
        "https://news.example.com/a/3.html",
        "https://news.example.com/a/4.html",
    ]
    lastmods = [e.lastmod for e in sitemap.entries]
    assert lastmods == [
        datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC),
        datetime(2021, 10, 26, 0, 0, tzinfo=UTC),
        None,
        None,
    ]
    assert lastmods[0].utcoffset().total_seconds() == 0
    assert all(e.news_title is None for e in sitemap.entries)


def test_sitemap_index():
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://news.example.com/sitemap-2021-10.xml.gz</loc><lastmod>2021-10-27T01:00:00Z</lastmod></sitemap>
  <sitemap><loc>https://news.example.com/sitemap-2021-09.xml</loc></sitemap>
</sitemapindex>"""
    sitemap = parse_sitemap(body)
    assert sitemap.is_index is True
    assert [e.loc for e in sitemap.entries] == [
        "https://news.example.com/sitemap-2021-10.xml.gz",
        "https://news.example.com/sitemap-2021-09.xml",
    ]
    assert sitemap.entries[0].lastmod == datetime(2021, 10, 27, 1, 0, tzinfo=UTC)
    assert sitemap.entries[1].lastmod is None


def test_gzipped_urlset_parses_like_the_plain_one():
    packed = gzip.compress(URLSET)
    assert packed[:2] == b"\x1f\x8b"
    assert parse_sitemap(packed) == parse_sitemap(URLSET)


def test_truncated_gzip_is_an_error_not_a_shorter_sitemap():
    packed = gzip.compress(URLSET)
    with pytest.raises(ValueError):
        parse_sitemap(packed[: len(packed) // 2])


def test_google_news_sitemap():
    body = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://www.npr.org/2021/10/26/1049281024/story</loc>
    <news:news>
      <news:publication>
        <news:name>NPR</news:name>
        <news:language>en</news:language>
      </news:publication>
      <news:publication_date>2021-10-26T18:06:31-04:00</news:publication_date>
      <news:title>A Headline &amp; More</news:title>
    </news:news>
  </url>
  <url>
    <loc>https://news.example.cn/a/1.html</loc>
    <lastmod>2021-10-27T06:06:31+08:00</lastmod>
    <news:news>
      <news:publication><news:name>示例</news:name><news:language>zh-cn</news:language></news:publication>
      <news:publication_date>2021-10-27</news:publication_date>
      <news:title>朱镕基会见客人</news:title>
    </news:news>
  </url>
</urlset>""".encode("utf-8")
    first, second = parse_sitemap(body).entries
    assert first.loc == "https://www.npr.org/2021/10/26/1049281024/story"
    assert first.news_title == "A Headline & More"
    assert first.news_published == "2021-10-26T18:06:31-04:00"
    assert first.news_language == "en"
    assert first.lastmod is None
    assert second.news_title == "朱镕基会见客人"
    assert second.news_language == "zh-cn"
    assert second.news_published == "2021-10-27"
    assert second.lastmod == datetime(2021, 10, 26, 22, 6, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html><body>Not here</body></html>",
        b'<rss version="2.0"><channel><title>x</title></channel></rss>',
        b"plain text",
    ],
)
def test_non_sitemap_raises_sitemap_error(body):
    with pytest.raises(SitemapError):
        parse_sitemap(body)


# --------------------------------------------------------------------------
# gunzip_capped
# --------------------------------------------------------------------------

def test_gunzip_capped_round_trip_and_cap():
    data = b"<urlset>" + b"x" * 10_000 + b"</urlset>"
    packed = gzip.compress(data)
    assert gunzip_capped(packed) == data
    assert gunzip_capped(packed, max_bytes=len(data)) == data  # exactly at the cap is fine
    with pytest.raises(UnsafeXML):
        gunzip_capped(packed, max_bytes=len(data) - 1)


def test_gunzip_capped_refuses_a_bomb():
    # 60 MB of zeros packs into ~60 KB: past the 50 MB sitemap limit.
    bomb = gzip.compress(b"\0" * (MAX_DECOMPRESSED_BYTES + 10 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(UnsafeXML):
        gunzip_capped(bomb)
    with pytest.raises(UnsafeXML):
        parse_sitemap(bomb)


def test_gunzip_capped_corrupt_data():
    with pytest.raises(ValueError):
        gunzip_capped(b"\x1f\x8b" + b"garbage that is not deflate")


def test_maybe_gunzip_passes_plain_bodies():
    assert maybe_gunzip(URLSET) is URLSET
    assert maybe_gunzip(gzip.compress(URLSET)) == URLSET
