"""ZAKER's pages on the fixture site, in ZAKER's own markup, and their routes.

Rendered from :mod:`zaker_catalog`. Relative times are rendered against the
real clock when the page is requested (as myzaker.com does).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs

from .responses import Handler, Request, Response, html, text
from .templates_common import CORS_PROXY_PATH, attr, e
from .zaker_catalog import (
    BLOCKED_CHANNEL_PATH, CHANNEL_LISTING, CHANNEL_NAME, CHANNEL_PATH, FEED_ARTICLES, RSSHUB_FEED_PATH,
    SHARE_LINE, SOURCE_LISTING, SOURCE_NAME, SOURCE_PATH, ZAKER_ARTICLES, ZAKER_IMAGE_SPECS, PROXY_ONLY_IMAGES,
    ZakerArticle, channel_page_path, hot_list, image_spec, recommendations, source_page_path, wrapped_link,
)
from .images import spec_bytes

NAV_ITEMS = ("热点", "新闻", "本地", "财经", "科技", "汽车", "下载ZAKER客户端")
FOOTER_LINES = ("© 2021 ZAKER 版权所有", "粤ICP备10000001号-1", "违法和不良信息举报：jubao@myzaker.example")
RSS_CONTENT_TYPE = "application/xml; charset=utf-8"
CHALLENGE_BLOB_CHUNKS = 48  # the obfuscated SDK inlined in the challenge page: ~3 KB of script


def _no_scheme(base: str) -> str:
    """//host:port -- ZAKER writes its own links protocol-relative."""
    return base.split(":", 1)[1]


def _page_number(request: Request) -> int:
    try:
        return max(1, int(parse_qs(request.query).get("page", ["1"])[0]))
    except ValueError:
        return 1


# --- pieces -------------------------------------------------------------------

def _nav(base: str) -> str:
    links = "".join(f'<a class="nav_item" href="{_no_scheme(base)}{CHANNEL_PATH}">{e(n)}</a>' for n in NAV_ITEMS)
    return f'<div class="nav_wrap"><div class="nav"><a class="logo" href="/"><img src="/static/logo.png" alt="ZAKER"></a>{links}</div></div>'


def _footer() -> str:
    return '<div class="footer">' + "".join(f"<p>{e(line)}</p>" for line in FOOTER_LINES) + "</div>"


def _tips(article: ZakerArticle, base: str, now: datetime) -> str:
    """The byline row: the account (author) and the time; list items reuse the classes."""
    if article.author_markup == "a":
        author = f'<a class="article-auther" href="{_no_scheme(base)}{SOURCE_PATH}" target="_blank">{e(article.author)}</a>'
    else:
        author = f'<span class="auther">{e(article.author)}</span>'
    return f'{author}<span class="time">{article.shown.text(now)}</span>'


def _item(article: ZakerArticle, base: str, now: datetime) -> str:
    """A recommendation / hot-list entry: ZAKER reuses span.auther and span.time there."""
    return (f'<div class="recommend_item"><a href="{_no_scheme(base)}{article.path}"><h3>{e(article.title)}</h3></a>'
            f'<div class="item_tips"><span class="auther">{e(article.author)}</span>'
            f'<span class="time">{article.shown.text(now)}</span></div></div>')


def image_box(key: str, index: int, base: str) -> str:
    """Verbatim seed markup: data-original is the origin, src the CORS proxy of it."""
    spec = image_spec(key)
    origin = base + spec.path
    return (
        f'<div class="img_box" id="id_imagebox_{index}" onclick><div class="content_img_div perview_img_div">'
        f'<img class="lazy opacity_0 " id="img_{index}" data-original="{origin}" data-height="{spec.height}"'
        f' data-width="{spec.width}" src="{base}{CORS_PROXY_PATH}?{origin}" referrerpolicy="no-referrer"></div></div>'
    )


def _paragraph_html(article: ZakerArticle, index: int, base: str) -> str:
    body = e(article.paragraphs[index])
    if article.link and article.link[0] in article.paragraphs[index]:
        anchor, target = article.link
        href = attr(wrapped_link(base, target, article.zaker_id))
        body = body.replace(e(anchor), f'<a href="{href}" target="_blank">{e(anchor)}</a>', 1)
    return body


def article_body(article: ZakerArticle, base: str, now: datetime | None = None, *, furniture: bool = True) -> str:
    """The inner ``<div>`` of div.article_content, shaped like the seed: a paragraph
    right after an image box is a bare text node, empty <p></p> in between."""
    parts: list[str] = []
    after_image = False
    for index in range(len(article.paragraphs)):
        paragraph = _paragraph_html(article, index, base)
        parts.append(paragraph if after_image else f"<p>{paragraph}</p>")
        image = article.images.get(index)
        parts.append("<p></p>" * (2 if after_image and image else 1))
        if image:
            parts.append(image_box(image, len([i for i in article.images if i < index]), base))
        after_image = bool(image)
    if article.editor_line:
        parts.append(f"<p> {e(article.editor_line)} </p>")
    if furniture:
        items = "".join(_item(a, base, now or datetime.now(timezone.utc)) for a in recommendations(article))
        parts.append(f"<p>{SHARE_LINE} </p>")
        parts.append(f'<div id="recommend_bottom"><div class="recommend_title">相关推荐</div>{items}</div>'
                     '<div id="article_bottom"><a href="javascript:;">打开ZAKER 查看更多资讯</a></div>')
    return "<div>" + "".join(parts) + "</div>"


# --- pages --------------------------------------------------------------------

def article_page(article: ZakerArticle, base: str, now: datetime) -> str:
    tags = "".join(f'<a href="{_no_scheme(base)}/tag/{i}" target="_blank">{e(t)}</a>' for i, t in enumerate(article.tags))
    hot = "".join(_item(a, base, now) for a in hot_list(article))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(article.title)}_ZAKER新闻</title>
<meta name="keywords" content="{attr(",".join(article.tags))}">
<meta name="description" content="{attr(article.paragraphs[0][:60])}">
<link rel="canonical" href="{base}{article.path}">
</head>
<body>
{_nav(base)}
<div class="main_container clearfix">
<div class="article_right"><div class="hot_list"><div class="hot_title">24小时热榜</div>{hot}</div></div>
<div class="article_left">
<div class="article_header">
<h1>{e(article.title)}</h1>
<div class="article_tips">{_tips(article, base, now)}</div>
</div>
<div class="article_content">
{article_body(article, base, now)}
</div>
<div class="lebel-list">{tags}</div>
</div>
</div>
{_footer()}
<script src="/static/lazyload.js"></script>
<script>lazyload(document.querySelectorAll("img.lazy"));</script>
</body>
</html>
"""


def challenge_page(path: str) -> str:
    """A SafeLine-style JavaScript challenge: a script, a spinner, next to no text."""
    once_id = hashlib.sha256(path.encode()).hexdigest()[:32]
    chunks, digest = [], once_id.encode()
    for _ in range(CHALLENGE_BLOB_CHUNKS):
        digest = hashlib.sha256(digest).digest()
        chunks.append(f'"{base64.b64encode(digest).decode()}"')
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>ZAKER新闻</title>
<style>#sl-box{{margin:20% auto;text-align:center;font:14px sans-serif;color:#888}}</style>
</head>
<body>
<div id="sl-box"><div class="sl-spinner"></div><p>请稍候…</p></div>
<noscript>请开启 JavaScript 后刷新页面</noscript>
<script>
window.captcha = {{once_id: "{once_id}", v: "1.0.0", api: "/captcha/api/"}};
(function(w){{var _0x=[{",".join(chunks)}];var k=w.captcha.once_id;
for(var i=0;i<_0x.length;i++){{_0x[i]=atob(_0x[i]).split("").reverse().join("")+k;}}
w.__sl_seed=_0x.join("");}})(window);
</script>
<script src="/captcha/api/sdk.js"></script>
</body>
</html>
"""


def _win_page_data(articles: tuple[ZakerArticle, ...], base: str, page: int, now: datetime) -> dict:
    host = _no_scheme(base)
    entries = [{
        "pk": a.zaker_id,
        "title": a.title,
        "url": f"{host}{a.path}",
        "author_name": a.author,
        "date": a.shown.list_date(now),
        "tag": [{"tag": t} for t in a.tags],
        "thumbnail_mpic": f"{host}{image_spec(a.images[min(a.images)]).path}" if a.images else "",
    } for a in articles]
    data: dict = {"article": entries}
    if page < len(CHANNEL_LISTING):
        data["next_url"] = {"name": "加载更多", "value": f"{host}{channel_page_path(page + 1)}"}
    return {"stat": 1, "msg": "ok", "data": data}


def channel_page(base: str, page: int, now: datetime) -> str:
    """Today's channel page: an app shell whose list is the WinPageData JSON."""
    data = json.dumps(_win_page_data(CHANNEL_LISTING[page - 1], base, page, now), ensure_ascii=False)
    data = data.replace("</", "<\\/")  # a "</script>" in a title must not end the script
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{CHANNEL_NAME}_ZAKER新闻</title></head>
<body>
{_nav(base)}
<div id="app"><div class="main-list" id="section"></div><div class="loading">正在加载…</div></div>
{_footer()}
<script>window.WinPageData = {data};</script>
<script src="/static/zaker-app.js"></script>
</body>
</html>
"""


def _source_item(article: ZakerArticle, markup: str, base: str, now: datetime) -> str:
    host = _no_scheme(base)
    href = f"{host}{article.path}"
    tips = f'<div class="article-footer"><span class="auther">{e(article.author)}</span><span class="time">{article.shown.text(now)}</span></div>'
    if markup == "content-block":
        return (f'<div class="content-block"><a href="{href}" title="{attr(article.title)}" target="_blank">'
                f'<div class="img"></div></a><div class="article-wrap"><a href="{href}" target="_blank">'
                f'<h2 class="article-title">{e(article.title)}</h2></a>{tips}</div></div>')
    if markup == "figure-wrapped":  # a link.php-wrapped entry, as ZAKER lists partner pages
        wrapped = attr(wrapped_link(base, base + article.path, article.zaker_id))
        return (f'<div class="figure flex-block"><div class="figcaption"><h2><a href="{wrapped}" '
                f'title="{attr(article.title)}" target="_blank">{e(article.title)}</a></h2>{tips}</div></div>')
    return f'<div class="article-wrap"><a href="{href}" target="_blank">{e(article.title)}</a>{tips}</div>'


def source_page(base: str, page: int, now: datetime) -> str:
    """A source page in the OLDER server-rendered list markup, #nexturl for paging."""
    items = "\n".join(_source_item(a, m, base, now) for a, m in SOURCE_LISTING[page - 1])
    next_url = (f'<input type="hidden" id="nexturl" value="{_no_scheme(base)}{source_page_path(page + 1)}">'
                if page < len(SOURCE_LISTING) else "")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{SOURCE_NAME}_ZAKER新闻</title></head>
<body>
{_nav(base)}
<div class="main-list" id="section">
{items}
</div>
{next_url}
{_footer()}
</body>
</html>
"""


def rsshub_feed(base: str) -> str:
    """RSSHub's /zaker/channel/:id: full bodies, images shown through the CORS proxy."""
    items = []
    for article in FEED_ARTICLES:
        body = article_body(article, base, furniture=False)
        categories = "".join(f"<category>{e(c)}</category>" for c in article.feed_categories)
        items.append(f"""<item>
<title><![CDATA[{article.title}]]></title>
<description><![CDATA[{body}]]></description>
<pubDate>{format_datetime(article.feed_published.astimezone(timezone.utc), usegmt=True)}</pubDate>
<guid isPermaLink="false">{base}{article.path}</guid>
<link>{base}{article.path}</link>
<author><![CDATA[{article.feed_author}]]></author>
{categories}
</item>""")
    items = "\n".join(items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
<channel>
<title><![CDATA[{CHANNEL_NAME}-ZAKER新闻]]></title>
<link>{base}{CHANNEL_PATH}</link>
<atom:link href="{base}{RSSHUB_FEED_PATH}" rel="self" type="application/rss+xml"/>
<description><![CDATA[{CHANNEL_NAME}-ZAKER新闻 - Made with love by RSSHub(https://github.com/DIYgod/RSSHub)]]></description>
<generator>RSSHub</generator>
<language>zh-cn</language>
<ttl>5</ttl>
{items}
</channel>
</rss>
"""


# --- handlers -------------------------------------------------------------------

def _channel(request: Request) -> Response:
    page = _page_number(request)
    if page > len(CHANNEL_LISTING):
        return html("<p>没有更多了</p>", status=404)
    return html(channel_page(request.base, page, datetime.now(timezone.utc)))


def _source(request: Request) -> Response:
    page = _page_number(request)
    if page > len(SOURCE_LISTING):
        return html("<p>没有更多了</p>", status=404)
    return html(source_page(request.base, page, datetime.now(timezone.utc)))


def _challenge(request: Request) -> Response:
    return html(challenge_page(request.path))


def _article(article: ZakerArticle) -> Handler:
    def handler(request: Request) -> Response:
        if article.challenge:
            return html(challenge_page(request.path))
        return html(article_page(article, request.base, datetime.now(timezone.utc)))

    return handler


def _feed(request: Request) -> Response:
    return text(rsshub_feed(request.base), RSS_CONTENT_TYPE)


def _image(key: str) -> Handler:
    spec = image_spec(key)

    def handler(request: Request) -> Response:
        return Response(200, spec_bytes(spec), spec.content_type, {"Cache-Control": "max-age=86400"})

    return handler


ZAKER_ROUTES: dict[str, Handler] = {
    CHANNEL_PATH: _channel,
    BLOCKED_CHANNEL_PATH: _challenge,
    SOURCE_PATH: _source,
    RSSHUB_FEED_PATH: _feed,
    **{a.path: _article(a) for a in ZAKER_ARTICLES},
    # The origins of ZAKER's images, but for the one only the proxy still has.
    **{s.path: _image(s.key) for s in ZAKER_IMAGE_SPECS if s.key not in PROXY_ONLY_IMAGES},
}
