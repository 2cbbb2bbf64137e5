"""A local fixture news site for end-to-end crawl tests (no internet).

    from tests.fixture_site import FixtureSite, ARTICLES
    with FixtureSite() as site:
        ...crawl site.url("/feeds/rss.xml")...
        for article in ARTICLES:
            article.url(site.base_url), article.paragraphs, article.published_utc, ...

Modules: ``catalog`` (expected data, the single source of truth), ``model``
(its dataclasses), ``articles_zh``/``articles_en`` (the declarations),
``images`` (Pillow-drawn files), ``templates_*``/``pages``/``feeds``/
``sitemaps`` (rendering), ``routes`` (path -> handler; ``responses`` holds
its Request/Response), ``server`` (FixtureSite). ZAKER lives apart:
``zaker_catalog`` (its articles, images and expected data) and ``zaker_pages``
(channel/source/article pages, WAF challenges, the RSSHub feed); so does the
e-paper of the ``listing`` tests (``epaper``). ``python -m tests.fixture_site
[--port N]`` runs it standalone.
"""

from .catalog import (
    ALL_ARTICLES,
    ARTICLES,
    ARTICLES_BY_KEY,
    ARTICLES_BY_PATH,
    FEEDS,
    FURNITURE_IMAGE_PATHS,
    IMAGE_FILES,
    MISSING_IMAGE_PATHS,
    PRIVATE_PATHS,
    SITEMAPS,
    STALE_ARTICLES,
    FeedSpec,
    SitemapSpec,
    article_by_path,
    articles_in,
)
from .model import Comment, ExpectedArticle, ExpectedImage, Figure, Markup
from .routes import ROUTES, Handler, Request, Response
from .server import FixtureSite

__all__ = [
    "ALL_ARTICLES", "ARTICLES", "ARTICLES_BY_KEY", "ARTICLES_BY_PATH", "FEEDS", "FURNITURE_IMAGE_PATHS",
    "IMAGE_FILES", "MISSING_IMAGE_PATHS", "PRIVATE_PATHS", "SITEMAPS", "STALE_ARTICLES", "Comment",
    "ExpectedArticle", "ExpectedImage", "FeedSpec", "Figure", "FixtureSite", "Handler", "Markup", "ROUTES",
    "Request", "Response", "SitemapSpec", "article_by_path", "articles_in",
]
