"""Meta refresh redirects found from the start of the page only: the same
decisions as Scrapy's own middleware, which decodes the whole page."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares import META_REFRESH_HEAD_BYTES, HeadMetaRefreshMiddleware

URL = "http://127.0.0.1/news/moved.html"
FILLER = "<p>" + "正文段落，用来把页面撑大。" * 40 + "</p>"


def _page(head_text: str, refresh: str, encoding: str, *, declared: bool = True) -> bytes:
    """A page well over META_REFRESH_HEAD_BYTES: a long head, the refresh tag, then a long body."""
    charset = f'<meta charset="{encoding}">' if declared else ""
    html = (f"<html><head>{charset}<title>{head_text}</title>{refresh}</head>"
            f"<body>{FILLER * 40}</body></html>")
    body = html.encode(encoding)
    assert len(body) > META_REFRESH_HEAD_BYTES
    return body


def _response(body: bytes, content_type: str = "text/html") -> HtmlResponse:
    return HtmlResponse(URL, body=body, headers={"Content-Type": content_type}, request=Request(URL))


def _utf32_page_ending_the_url_at_char_4096() -> bytes:
    tag, start = "<meta http-equiv=refresh content=0;url=/abcdef>", "<html><head><title>"
    html = start + "题" * (4096 - len(start) - len(tag) + 1) + tag + "</head><body>" + "x" * 20000
    assert html[:4096].endswith("/abcdef")  # Scrapy reads the whole URL, the last letter its 4096th character
    return html.encode("utf-32-le")


def _iso2022_page(pairs: int) -> bytes:
    """Each 漢a pair switches mode twice: 8 bytes for 2 characters."""
    html = (f'<html><head><meta charset="iso-2022-jp"><title>{"漢a" * pairs}</title>{REFRESH}</head>'
            f"<body>{'本文' * 5000}</body></html>")
    body = html.encode("iso2022_jp")
    assert html.index(REFRESH) < 4096 and body.index(b"http-equiv") > META_REFRESH_HEAD_BYTES
    return body


@pytest.fixture
def middlewares():
    crawler = get_crawler(settings_dict={"METAREFRESH_MAXDELAY": 100})
    return HeadMetaRefreshMiddleware.from_crawler(crawler), MetaRefreshMiddleware.from_crawler(crawler)


def _outcome(middleware, response: HtmlResponse):
    request = response.request
    result = middleware.process_response(request, response)
    return result.url if isinstance(result, Request) else ("response", result.url)


REFRESH = '<meta http-equiv="refresh" content="0; url=/news/new-home.html">'
CASES = {
    # 2,200 characters of Chinese before the tag: within Scrapy's 4096
    # characters, but past the first 4096 bytes in GBK and in UTF-8.
    "gbk, tag past 4096 bytes": (_page("标题" * 1100, REFRESH, "gbk"), "text/html"),
    "utf-8, tag past 4096 bytes": (_page("标题" * 1100, REFRESH, "utf-8"), "text/html"),
    "charset in the header only": (_page("标题" * 1100, REFRESH, "gb18030", declared=False), "text/html; charset=gb18030"),
    "utf-16 with its byte order mark": (b"\xff\xfe" + _page("标题" * 1100, REFRESH, "utf-16-le", declared=False), "text/html"),
    "no declaration (told from the body)": (_page("标题" * 1100, REFRESH, "gbk", declared=False), "text/html"),
    # Fewer than 4096 characters in the first 16 KB: a byte order mark before
    # 4-byte characters, an encoding whose escapes take room.
    "utf-32 with its byte order mark": (b"\xff\xfe\x00\x00" + _utf32_page_ending_the_url_at_char_4096(), "text/html"),
    "iso-2022-jp, tag past 16 KB but within 4096 characters": (_iso2022_page(1850), "text/html"),
    # Past Scrapy's 4096 characters: neither looks that far.
    "tag past 4096 characters": (_page("标题" * 2100, REFRESH, "utf-8"), "text/html"),
    "a refresh longer than the maximum delay": (
        _page("标题", '<meta http-equiv="refresh" content="500; url=/news/later.html">', "utf-8"), "text/html"),
    "no tag": (_page("标题" * 1100, "", "gbk"), "text/html"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_redirects_as_scrapys_middleware(middlewares, case):
    ours, scrapys = middlewares
    body, content_type = CASES[case]
    assert _outcome(ours, _response(body, content_type)) == _outcome(scrapys, _response(body, content_type))


def test_a_tag_past_the_first_4096_bytes_is_followed(middlewares):
    ours, _scrapys = middlewares
    result = ours.process_response(Request(URL), _response(CASES["gbk, tag past 4096 bytes"][0]))
    assert isinstance(result, Request) and result.url == "http://127.0.0.1/news/new-home.html"


def test_a_page_without_a_refresh_passes_on_whole_and_undecoded(middlewares):
    ours, _scrapys = middlewares
    body = CASES["no tag"][0]
    response = _response(body)
    result = ours.process_response(Request(URL), response)
    assert result is response and result.body == body  # the page itself, not the cut copy
    assert response._cached_ubody is None, "the whole page was decoded"


def test_short_pages_go_to_scrapys_own_check(middlewares):
    ours, _scrapys = middlewares
    body = f"<html><head>{REFRESH}</head><body>moved</body></html>".encode()
    result = ours.process_response(Request(URL), _response(body))
    assert isinstance(result, Request) and result.url.endswith("/news/new-home.html")
