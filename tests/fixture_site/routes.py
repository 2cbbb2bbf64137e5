"""The route table: exact path -> handler.

A handler takes a :class:`Request` and returns a :class:`Response`. Adding a
route is one function plus one line in :data:`ROUTES` (or, for one test only,
``FixtureSite.add_route``). Fault routes need no server changes: a Response
can wait before answering (``delay``), reset the connection instead of
answering (``reset``), or carry any status and headers::

    def slow_page(request: Request) -> Response:
        return html("<p>late</p>", delay=5)

    ROUTES["/faults/slow.html"] = slow_page

The query string never takes part in the lookup (``/a.html?utm_source=x``
is ``/a.html``); handlers that need it read ``request.query``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from . import feeds, pages, sitemaps
from .catalog import ALL_ARTICLES, FEEDS, PRIVATE_PATHS, SITEMAPS, ExpectedArticle
from .epaper import EPAPER_ROUTES
from .images import IMAGE_SPECS, PLACEHOLDER_GIF, PLACEHOLDER_PATH, image_bytes, spec_bytes
from .responses import (  # noqa: F401  (re-exported: the table's types live in responses)
    HTML_NO_CHARSET, HTML_UTF8, TEXT_UTF8, Handler, Request, Response, html, not_found, text,
)
from .templates_common import CORS_PROXY_PATH
from .templates_en import english_page
from .templates_zh import gbk_page, portal_page
from .zaker_catalog import PROXIED_IMAGES_BY_PATH
from .zaker_pages import ZAKER_ROUTES

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


# --- handlers --------------------------------------------------------------

def home(request: Request) -> Response:
    return html(pages.home_page(request.base))


def english_home(request: Request) -> Response:
    return html(pages.english_home_page(request.base))


def robots(request: Request) -> Response:
    return text(pages.robots_txt(request.base))


def rss(request: Request) -> Response:
    return text(feeds.rss_feed(request.base), FEEDS["rss"].content_type)


def atom(request: Request) -> Response:
    return text(feeds.atom_feed(request.base), FEEDS["atom"].content_type)


def json_feed(request: Request) -> Response:
    return text(feeds.json_feed(request.base), FEEDS["jsonfeed"].content_type)


def sitemap_index(request: Request) -> Response:
    return text(sitemaps.sitemap_index(request.base), SITEMAPS["sitemap-index"].content_type)


def news_sitemap(request: Request) -> Response:
    return text(sitemaps.news_sitemap(request.base), SITEMAPS["sitemap-news"].content_type)


def pages_sitemap_gz(request: Request) -> Response:
    return Response(200, sitemaps.pages_sitemap_gz(request.base), SITEMAPS["sitemap-pages"].content_type)


def private_page(request: Request) -> Response:
    return html(pages.private_page(request.base))


def placeholder_gif(request: Request) -> Response:
    return Response(200, PLACEHOLDER_GIF, "image/gif")


def site_css(request: Request) -> Response:
    return text(pages.SITE_CSS, "text/css; charset=utf-8")


def lazyload_js(request: Request) -> Response:
    return text(pages.LAZYLOAD_JS, "application/javascript; charset=utf-8")


def app_js(request: Request) -> Response:
    return text(pages.APP_JS, "application/javascript; charset=utf-8")


def cors_proxy(request: Request) -> Response:
    """``/cors/?http://127.0.0.1:PORT/images/x.jpg``: the image, as a CORS
    proxy would relay it. Only this site's own images (no internet), ZAKER's
    included -- also the one whose origin is gone (the proxy still has it)."""
    target = urlsplit(request.query)
    spec = PROXIED_IMAGES_BY_PATH.get(target.path)
    if target.hostname not in LOOPBACK_HOSTS or spec is None:
        return Response(502, b"proxy: upstream unavailable\n", TEXT_UTF8)
    return Response(200, spec_bytes(spec), spec.content_type, {"Access-Control-Allow-Origin": "*"})


def article_handler(article: ExpectedArticle) -> Handler:
    def handler(request: Request) -> Response:
        if article.layout == "gbk":
            body = gbk_page(article, request.base).encode(article.charset)  # strict: must fit GBK
            return Response(200, body, HTML_NO_CHARSET)
        if article.layout == "en":
            return html(english_page(article, request.base))
        if article.layout == "shell":
            return html(pages.shell_page(article, request.base))
        return html(portal_page(article, request.base))

    return handler


def image_handler(key: str, content_type: str) -> Handler:
    def handler(request: Request) -> Response:
        return Response(200, image_bytes(key), content_type, {"Cache-Control": "max-age=86400"})

    return handler


ROUTES: dict[str, Handler] = {
    "/": home,
    "/index.html": home,
    "/en/": english_home,
    "/robots.txt": robots,
    FEEDS["rss"].path: rss,
    FEEDS["atom"].path: atom,
    FEEDS["jsonfeed"].path: json_feed,
    SITEMAPS["sitemap-index"].path: sitemap_index,
    SITEMAPS["sitemap-news"].path: news_sitemap,
    SITEMAPS["sitemap-pages"].path: pages_sitemap_gz,
    PRIVATE_PATHS[0]: private_page,
    PLACEHOLDER_PATH: placeholder_gif,
    "/static/site.css": site_css,
    "/static/lazyload.js": lazyload_js,
    "/static/app.js": app_js,
    CORS_PROXY_PATH: cors_proxy,
}
ROUTES.update({article.path: article_handler(article) for article in ALL_ARTICLES})
# Missing images get no route: the site answers 404 for them.
ROUTES.update({spec.path: image_handler(spec.key, spec.content_type) for spec in IMAGE_SPECS if not spec.missing})
# ZAKER (channel, source, articles, WAF challenges, RSSHub feed) and the e-paper listing site.
ROUTES.update(ZAKER_ROUTES)
ROUTES.update(EPAPER_ROUTES)
