"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents, rendered from the catalog."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from .catalog import FEEDS, ExpectedArticle
from .templates_common import body_plain, summary

# Fixed build/update times: nothing on the site depends on the clock.
RSS_LAST_BUILD = "Wed, 27 Oct 2021 08:00:00 +0800"
ZH_HOME = "/"
EN_HOME = "/en/"


def _x(text: str) -> str:
    return xml_escape(text, {'"': "&quot;"})


def _cdata(html: str) -> str:
    return "<![CDATA[" + html.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def rfc822(moment: datetime) -> str:
    """RSS pubDate in the article's own offset: Wed, 27 Oct 2021 06:06:31 +0800."""
    return format_datetime(moment)


def _rss_item(article: ExpectedArticle, base: str) -> str:
    link = _x(article.listed_url("rss", base))
    creators = "".join(f"\n  <dc:creator>{_x(name)}</dc:creator>" for name in article.authors)
    categories = "".join(f"\n  <category>{_x(c)}</category>" for c in article.feed_categories)
    # Only the feed-body-only article carries its full text: its page has none.
    content = (f"\n  <content:encoded>{_cdata(body_plain(article, base))}</content:encoded>"
               if article.feed_body_only else "")
    return f"""<item>
  <title>{_x(article.title)}</title>
  <link>{link}</link>
  <guid isPermaLink="false">bjnews-{article.key}</guid>
  <pubDate>{rfc822(article.published)}</pubDate>{creators}{categories}
  <description>{_x(summary(article))}</description>{content}
</item>"""


def rss_feed(base: str) -> str:
    spec = FEEDS["rss"]
    items = "\n".join(_rss_item(a, base) for a in spec.articles)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{_x(spec.title)}</title>
<link>{base}{ZH_HOME}</link>
<atom:link href="{spec.url(base)}" rel="self" type="application/rss+xml"/>
<description>北疆新闻网要闻频道</description>
<language>{spec.language}</language>
<lastBuildDate>{RSS_LAST_BUILD}</lastBuildDate>
<ttl>30</ttl>
{items}
</channel>
</rss>
"""


def _atom_entry(article: ExpectedArticle, base: str) -> str:
    authors = "".join(f"\n  <author><name>{_x(name)}</name></author>" for name in article.authors)
    categories = "".join(f'\n  <category term="{_x(c)}"/>' for c in article.feed_categories)
    updated = (article.modified or article.published).isoformat()
    return f"""<entry>
  <title>{_x(article.title)}</title>
  <link rel="alternate" type="text/html" href="{_x(article.listed_url("atom", base))}"/>
  <id>tag:northernfrontier.example,2021:{article.key}</id>
  <published>{article.published.isoformat()}</published>
  <updated>{updated}</updated>{authors}{categories}
  <summary type="text">{_x(summary(article, 200))}</summary>
</entry>"""


def atom_feed(base: str) -> str:
    spec = FEEDS["atom"]
    entries = spec.articles
    updated = max((a.modified or a.published) for a in entries).isoformat()
    body = "\n".join(_atom_entry(a, base) for a in entries)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{spec.language}">
<title>{_x(spec.title)}</title>
<link rel="self" type="application/atom+xml" href="{spec.url(base)}"/>
<link rel="alternate" type="text/html" href="{base}{EN_HOME}"/>
<id>tag:northernfrontier.example,2021:top-stories</id>
<updated>{updated}</updated>
<generator>fixture-site</generator>
{body}
</feed>
"""


def json_feed(base: str) -> str:
    spec = FEEDS["jsonfeed"]
    items = []
    for article in spec.articles:
        teaser = summary(article)
        item = {
            "id": f"bjnews-{article.key}",
            "url": article.listed_url("jsonfeed", base),
            "title": article.title,
            "summary": teaser,
            # A teaser, not the article: the page must still be fetched.
            "content_html": f"<p>{_x(teaser)}</p>",
            "date_published": article.published.isoformat(),
            "tags": list(article.feed_categories),
            "language": article.language,
        }
        if article.authors:  # JSON Feed omits the key rather than listing nobody
            item["authors"] = [{"name": name} for name in article.authors]
        items.append(item)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": base + ZH_HOME,
        "feed_url": spec.url(base),
        "language": spec.language,
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
