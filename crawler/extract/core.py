"""One page in, one clean article out: plain functions, no Scrapy.

The crawler's pipelines, ``newsarchive extract`` and the benchmarks all call
:func:`extract_article`.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from trafilatura import bare_extraction

from crawler.extract.article import ExtractedArticle, ExtractOptions, FeedHints, NoArticle, canonical_url
from crawler.extract.body import (
    body_html, body_text, body_tree, feed_tree, html_images, parse_html, place_images, resolve_links,
)
from crawler.extract.boilerplate import drop_furniture, drop_leading_headline, prune_boilerplate
from crawler.extract.captions import gather_rule_captions
from crawler.extract.dates import infer_timezone, parse_datetime, to_utc
from crawler.extract.decode import decode_html
from crawler.extract.images import image_anchors, resolve_lazy_images
from crawler.extract.language import page_language, text_language
from crawler.extract.metadata import page_metadata
from crawler.extract.rules import (
    WRAPPED_LINK_MARKER, SiteRules, is_challenge_page, may_be_challenge, rules_for_url, select_first_text,
    select_texts, unwrap_links,
)
from crawler.extract.zh_bylines import person_names
from crawler.extract.zh_dates import parse_zh_datetime, url_date
from archive.fields import utc_iso

# Page text shorter than this may be a shell or a teaser: a feed body is tried.
SHORT_PAGE_CHARS = 300
BASE_HREF_XPATH = etree.XPath("(//base[@href])[1]/@href")
# A fast extraction shorter than this is retried with trafilatura's fallbacks.
FAST_MIN_CHARS = 500


def document_base_url(tree: lxml.html.HtmlElement, page_url: str) -> str:
    """What the page's relative links resolve against: its first <base href>, else its own URL.

    As browsers do: the first <base> with an href wherever it stands, and a
    base that is no web address (javascript:, data:) ignored.
    """
    for href in BASE_HREF_XPATH(tree):
        try:
            base = urljoin(page_url, href.strip())
        except ValueError:  # a malformed <base>
            break
        if href.strip() and urlsplit(base).scheme in ("http", "https"):
            return base
    return page_url


def _run_trafilatura(tree_or_html, options: ExtractOptions, *, recall: bool = False, fast: bool = False):
    return bare_extraction(
        tree_or_html,
        url=None,  # links are resolved afterwards: see resolve_links
        include_comments=False,
        include_images=False,  # placed afterwards: see place_images
        include_links=True,
        include_formatting=True,
        include_tables=True,
        # Our own metadata comes first; trafilatura's (a third of its time) is
        # computed only for pages that leave a gap (see _fallback_metadata).
        with_metadata=False,
        favor_recall=recall,
        fast=fast,
        deduplicate=False,
    )


def _extract_body(tree: lxml.html.HtmlElement, base_url: str, options: ExtractOptions, *, recall: bool = False,
                  caption_selector: str | None = None):
    """trafilatura's reading of ``tree`` and its images' anchors. ``caption_selector``
    only for the page's own tree: a rule's body and a feed's have their captions
    gathered already (see crawler.extract.body._gather_captions, and
    extract_article on gathering once)."""
    resolve_lazy_images(tree, base_url)
    prune_boilerplate(tree)
    gather_rule_captions(tree, caption_selector)  # after the images it may caption are resolved
    anchors = image_anchors(tree) if options.include_images else []
    # Fast first: trafilatura's readability/jusText second opinion costs a
    # third of its time and, on the extraction benchmark, helps only where the
    # main extractor finds next to nothing; there it still runs.
    document = _run_trafilatura(tree, options, recall=recall, fast=True)
    if document is None or len(document.text or "") < FAST_MIN_CHARS:
        document = _run_trafilatura(tree, options, recall=recall)
    return document, anchors


def _page_tree(body: bytes, text: str, url: str, feed: FeedHints, challenge: bool | None,
               caption_selector: str | None) -> tuple[lxml.html.HtmlElement, bool]:
    """The tree to read the article from, and whether it is the page's own.

    A WAF challenge is never read as an article: the feed's body stands in
    for it, or there is no article.
    """
    tree = parse_html(text)
    if challenge is None:
        challenge = may_be_challenge(body) and is_challenge_page(tree, text)
    if not challenge:
        return tree, True
    if feed.body_html:
        return feed_tree(feed, caption_selector=caption_selector, base_url=url), False
    raise NoArticle("a WAF challenge page, not an article")


def parse_any_date(value: str | None, now: datetime | None = None, reference: date | None = None) -> datetime | None:
    """A date as pages, feeds and list pages write it, Chinese and relative ones included;
    a year-less one is read near the ``reference`` day (the article URL's date), when given."""
    if not value:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zone names dateutil does not know (CST): read as naive
        machine = parse_datetime(value)
    if machine is not None and machine.utcoffset() is not None:
        # An explicit offset (RSS's "... 02:30:00 GMT", ISO's +08:00) is the
        # truth: the Chinese parser would keep the wall time and drop the zone.
        return machine
    return parse_zh_datetime(value, now=now, reference=reference) or machine


def extract_article(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    feed: FeedHints | None = None,
    options: ExtractOptions | None = None,
    challenge: bool | None = None,
) -> ExtractedArticle:
    """Decode, clean and describe one article page; raise NoArticle when there is none.

    ``challenge`` is whether the page is a WAF challenge, when the caller has
    looked already (the spider has: the check is not repeated); None, looked
    at here.
    """
    options = options or ExtractOptions()
    feed = feed or FeedHints()
    rules = options.rules or rules_for_url(url) or SiteRules()
    # A rule's captions are gathered once per article, on the first tree built
    # from the page or the feed: a feed's body (feed_tree) and a rule's body
    # (body_tree) before their loose text is put into paragraphs, the page itself
    # in _extract_body. Never again on a tree built from one gathered already (a
    # rule's body inside a feed's): with the selector's alternatives tried in
    # turn, a later one captioned the images the first pass rightly left bare.
    caption_selector = rules.caption if options.include_images else None
    text, _encoding = decode_html(body, content_type)
    tree, own_page = _page_tree(body, text, url, feed, challenge, caption_selector)
    base_url = document_base_url(tree, url) if own_page else url
    ungathered = caption_selector if own_page else None  # a feed's tree has had its captions gathered

    language_tag = page_language(tree, fallback=feed.language)
    canonical = canonical_url(tree if own_page else None, url, base_url=base_url)
    if own_page and WRAPPED_LINK_MARKER in text:  # a string search spares a walk over every link of the page
        unwrap_links(tree)
    # Pruned first: a recommendation block repeats the byline classes of other articles.
    for selector in rules.prune:
        for element in tree.cssselect(selector):
            element.drop_tree()
    # A site's selectors read the page whole (a byline may sit in a <footer>).
    rule_title = select_first_text(tree, rules.title)
    # A year-less date (10月25日 14:30) takes its year from the URL's date (/2021/1025/), when there is one.
    url_day = url_date(url, options.now)
    rule_published = parse_any_date(select_first_text(tree, rules.published), options.now, url_day)
    rule_authors = _rule_authors(select_texts(tree, rules.author))
    rule_tags = select_texts(tree, rules.tags)
    source_tree = body_tree(tree, rules.body, caption_selector=ungathered, base_url=base_url) if rules.body else None

    drop_furniture(tree)
    meta = page_metadata(tree, now=options.now, reference=url_day)
    if source_tree is None:
        source_tree = tree
    document, anchors = _extract_body(source_tree, base_url, options, recall=source_tree is not tree,
                                      caption_selector=ungathered if source_tree is tree else None)
    article_text = body_text(document.body) if document is not None else ""
    if len(article_text) < SHORT_PAGE_CHARS and feed.body_html and own_page:
        # The page yields next to nothing (a script shell's "loading…", a
        # paywall teaser): the feed's body wins when it holds more.
        feed_source = feed_tree(feed, caption_selector=caption_selector, base_url=url)
        feed_document, feed_anchors = _extract_body(feed_source, url, options, recall=True)
        feed_text = body_text(feed_document.body) if feed_document is not None else ""
        if len(feed_text) > len(article_text):
            document, anchors, article_text, own_page = feed_document, feed_anchors, feed_text, False
    if not article_text:
        raise NoArticle("no article text found on the page")

    if options.include_images:
        place_images(document.body, anchors)
    resolve_links(document.body, base_url if own_page else url)
    language = text_language(article_text)
    if language_tag and language_tag.split("-")[0].lower() == language:
        # The declaration agrees with the text: keep its region (zh-CN, zh-TW) for the timezone.
        timezone_hint = language_tag
    else:
        # Templates often declare lang="en" over Chinese text: the text wins.
        timezone_hint = language

    feed_date = parse_any_date(feed.published, options.now, url_day)
    if own_page:
        published = rule_published or meta.published or feed_date
        authors = rule_authors or meta.authors
        title = rule_title or meta.title
        if not (published and title):
            fallback = _fallback_metadata(text, url)
            authors = authors or _split_authors(fallback.author)
            title = title or fallback.title
            published = published or (parse_datetime(fallback.date) if fallback.date else None)
        authors = authors or list(feed.authors)
        title = title or feed.title or ""
    else:
        # The article is the feed's: the page around it (an app shell, a challenge) says nothing true of it.
        published = feed_date or rule_published or meta.published
        authors = list(feed.authors) or rule_authors or meta.authors
        title = feed.title or rule_title or meta.title or ""
    timezone_name = options.timezone or infer_timezone(timezone_hint)
    if drop_leading_headline(document.body, title):
        article_text = body_text(document.body)
    html = body_html(document.body)
    images, captions = html_images(html)

    categories = (c.strip() for c in [*feed.categories, *rule_tags] if c and c.strip())
    return ExtractedArticle(
        url=url,
        canonical_url=canonical,
        title=" ".join(title.split()),
        authors=authors,
        published=utc_iso(to_utc(published, timezone_name)) if published else None,
        language=language,
        categories=list(dict.fromkeys(categories)),
        text=article_text,
        html=html,
        image_urls=images,
        image_captions=captions,
    )


def _rule_authors(texts: list[str]) -> list[str]:
    """Names in what a site's author selector holds: a byline (本报记者 张三 通讯员 李四,
    editors dropped) or a bare name / account (人民网)."""
    return list(dict.fromkeys(name for text in texts for name in person_names(text)))


def _fallback_metadata(text: str, url: str):
    """trafilatura's metadata (htmldate for the date), on a fresh parse of the page."""
    from trafilatura.metadata import extract_metadata

    return extract_metadata(parse_html(text), default_url=url)


def _split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    return list(dict.fromkeys(part.strip() for part in re.split(r"[;；]", value) if part.strip()))

