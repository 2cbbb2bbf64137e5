"""The expected data of the fixture site: what exists and where it is listed.

Tests compare the crawler's output with these objects field by field. The
pages, feeds and sitemaps are rendered from the same objects, so the catalog
cannot drift from what the site serves.

* :data:`ARTICLES` -- every article a full crawl should archive (includes the
  feed-body-only one); :data:`STALE_ARTICLES` -- the 2015 pages only the
  gzipped sitemap lists, which a ``lastmod`` cutoff skips;
  :data:`ALL_ARTICLES` both.
* :data:`FEEDS` / :data:`SITEMAPS` -- name -> spec, with the articles each lists.
* :data:`IMAGE_FILES` -- every expected image by path (incl. srcset variants,
  page furniture and the missing one).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import chrome
from .articles_en import EN_ARTICLES
from .articles_zh import ZH_ARTICLES, ZH_STALE_ARTICLES
from .images import IMAGE_SPECS, PLACEHOLDER_PATH
from .model import ExpectedArticle, ExpectedImage, expected_image

ARTICLES: list[ExpectedArticle] = [*ZH_ARTICLES, *EN_ARTICLES]
STALE_ARTICLES: list[ExpectedArticle] = list(ZH_STALE_ARTICLES)
ALL_ARTICLES: list[ExpectedArticle] = [*ARTICLES, *STALE_ARTICLES]
ARTICLES_BY_KEY: dict[str, ExpectedArticle] = {a.key: a for a in ALL_ARTICLES}
ARTICLES_BY_PATH: dict[str, ExpectedArticle] = {a.path: a for a in ALL_ARTICLES}

IMAGE_FILES: dict[str, ExpectedImage] = {spec.path: expected_image(spec.key) for spec in IMAGE_SPECS}
MISSING_IMAGE_PATHS: list[str] = [path for path, image in IMAGE_FILES.items() if image.missing]
# Images on every page that are furniture, not article content.
FURNITURE_IMAGE_PATHS = ("/static/logo.png", "/static/ad-banner.jpg", PLACEHOLDER_PATH)

# Disallowed by robots.txt; linked only from the home page footer.
PRIVATE_PATHS: list[str] = ["/private/drafts/preview.html"]
ROBOTS_DISALLOW = "/private/"

ZH_PUBLICATION = chrome.ZH_SITE_NAME
EN_PUBLICATION = chrome.EN_SITE_NAME


@dataclass(frozen=True)
class FeedSpec:
    name: str
    path: str
    kind: str  # "rss", "atom" or "jsonfeed"
    content_type: str
    title: str
    language: str

    def url(self, base: str) -> str:
        return base + self.path

    @property
    def articles(self) -> list[ExpectedArticle]:
        return articles_in(self.name)


@dataclass(frozen=True)
class SitemapSpec:
    name: str
    path: str
    kind: str  # "index", "news" or "urlset"
    content_type: str
    gzip: bool = False
    children: tuple[str, ...] = ()  # names of the sitemaps an index points to

    def url(self, base: str) -> str:
        return base + self.path

    @property
    def articles(self) -> list[ExpectedArticle]:
        return articles_in(self.name)


FEEDS: dict[str, FeedSpec] = {
    "rss": FeedSpec("rss", "/feeds/rss.xml", "rss", "application/rss+xml; charset=utf-8",
                    f"{chrome.ZH_SITE_NAME} - 要闻", "zh-cn"),
    "atom": FeedSpec("atom", "/feeds/atom.xml", "atom", "application/atom+xml; charset=utf-8",
                     f"{chrome.EN_SITE_NAME} - Top Stories", "en"),
    "jsonfeed": FeedSpec("jsonfeed", "/feeds/feed.json", "jsonfeed", "application/feed+json; charset=utf-8",
                         f"{chrome.ZH_SITE_NAME} - 精选", "zh-CN"),
}
SITEMAPS: dict[str, SitemapSpec] = {
    "sitemap-index": SitemapSpec("sitemap-index", "/sitemap_index.xml", "index", "application/xml; charset=utf-8",
                                 children=("sitemap-news", "sitemap-pages")),
    "sitemap-news": SitemapSpec("sitemap-news", "/sitemaps/news.xml", "news", "application/xml; charset=utf-8"),
    # Served as a file download: the crawler must gunzip it itself.
    "sitemap-pages": SitemapSpec("sitemap-pages", "/sitemaps/pages.xml.gz", "urlset", "application/x-gzip",
                                 gzip=True),
}
SOURCE_NAMES = (*FEEDS, *SITEMAPS)


def articles_in(source: str) -> list[ExpectedArticle]:
    """The articles a feed or sitemap lists, in catalog order."""
    return [a for a in ALL_ARTICLES if source in a.sources]


def article_by_path(path: str) -> ExpectedArticle | None:
    return ARTICLES_BY_PATH.get(path.split("?", 1)[0])


def related_articles(article: ExpectedArticle) -> list[ExpectedArticle]:
    return [ARTICLES_BY_KEY[key] for key in article.related]


def hot_list(article: ExpectedArticle) -> list[ExpectedArticle]:
    """The sidebar's 热点排行 / Most read: the other live articles of its language."""
    return [
        a for a in ARTICLES
        if a.language == article.language and a.key != article.key and not a.feed_body_only
    ]


def _body_text(article: ExpectedArticle) -> str:
    return "\n".join([*article.paragraphs, *article.optional_text])


def _finalize(article: ExpectedArticle, index: int) -> None:
    """Fill the fields that depend on the chrome and on the other articles."""
    if article.layout == "portal":
        article.comments = list(chrome.comments_for(index, article.published))
        furniture = chrome.zh_boilerplate(share_bar=article.body_style != "zaker")
    elif article.layout == "gbk":
        furniture = chrome.gbk_boilerplate()
    elif article.layout == "en":
        furniture = chrome.en_boilerplate()
    else:
        furniture = chrome.shell_boilerplate()
    candidates = [
        *furniture,
        *(c.text for c in article.comments), *(c.user for c in article.comments),
        *(a.title for a in related_articles(article)),
        *(a.title for a in hot_list(article) if article.layout in ("portal", "en")),
    ]
    body = _body_text(article)
    # A string that also occurs in the article itself cannot be asserted absent.
    article.boilerplate = list(dict.fromkeys(s for s in candidates if s and s not in body))
    if article.layout in ("portal", "gbk", "en"):
        article.boilerplate_images = ["/static/logo.png"]
    if article.layout == "portal":
        article.boilerplate_images.append("/static/ad-banner.jpg")


for _index, _article in enumerate(ALL_ARTICLES):
    _finalize(_article, _index)


def check_catalog() -> None:
    """Internal consistency; raises AssertionError (run by the tests)."""
    assert len(ARTICLES_BY_KEY) == len(ALL_ARTICLES), "duplicate article keys"
    assert len(ARTICLES_BY_PATH) == len(ALL_ARTICLES), "duplicate article paths"
    for article in ALL_ARTICLES:
        unknown = set(article.sources) - set(SOURCE_NAMES)
        assert not unknown, (article.key, unknown)
        assert set(article.listing_query) <= set(article.sources), article.key
        assert set(article.related) <= set(ARTICLES_BY_KEY), article.key
        assert not set(article.editors) & set(article.authors), article.key
        assert article.paragraphs and article.boilerplate, article.key
