"""Sitemap index, Google News sitemap and a gzipped urlset, from the catalog."""

from __future__ import annotations

import gzip

from .catalog import EN_PUBLICATION, SITEMAPS, ZH_PUBLICATION, ExpectedArticle

# Fixed lastmod of the child sitemaps in the index.
INDEX_LASTMOD = {"sitemap-news": "2021-10-27T08:00:00+08:00", "sitemap-pages": "2021-10-01"}
NEWS_LANGUAGE = {"zh": "zh-cn", "en": "en"}
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def lastmod(article: ExpectedArticle) -> str:
    """W3C datetime; the stale 2015 pages use the date-only form."""
    moment = article.modified or article.published
    return moment.date().isoformat() if article.stale else moment.isoformat()


def sitemap_index(base: str) -> str:
    entries = "\n".join(
        f"<sitemap><loc>{SITEMAPS[name].url(base)}</loc><lastmod>{INDEX_LASTMOD[name]}</lastmod></sitemap>"
        for name in SITEMAPS["sitemap-index"].children
    )
    return f'{XML_HEAD}\n<sitemapindex xmlns="{SITEMAP_NS}">\n{entries}\n</sitemapindex>\n'


def news_sitemap(base: str) -> str:
    entries = []
    for article in SITEMAPS["sitemap-news"].articles:
        publication = ZH_PUBLICATION if article.language == "zh" else EN_PUBLICATION
        entries.append(f"""<url>
  <loc>{_x(article.listed_url("sitemap-news", base))}</loc>
  <news:news>
    <news:publication>
      <news:name>{_x(publication)}</news:name>
      <news:language>{NEWS_LANGUAGE[article.language]}</news:language>
    </news:publication>
    <news:publication_date>{article.published.isoformat()}</news:publication_date>
    <news:title>{_x(article.title)}</news:title>
    <news:keywords>{_x(", ".join(article.feed_categories))}</news:keywords>
  </news:news>
</url>""")
    body = "\n".join(entries)
    return f'{XML_HEAD}\n<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">\n{body}\n</urlset>\n'


def pages_sitemap(base: str) -> str:
    entries = "\n".join(
        f"<url><loc>{_x(a.listed_url('sitemap-pages', base))}</loc><lastmod>{lastmod(a)}</lastmod>"
        f"<changefreq>{'yearly' if a.stale else 'monthly'}</changefreq></url>"
        for a in SITEMAPS["sitemap-pages"].articles
    )
    return f'{XML_HEAD}\n<urlset xmlns="{SITEMAP_NS}">\n{entries}\n</urlset>\n'


def pages_sitemap_gz(base: str) -> bytes:
    # mtime=0: the same bytes every time (gzip otherwise stamps the clock in).
    return gzip.compress(pages_sitemap(base).encode("utf-8"), mtime=0)
