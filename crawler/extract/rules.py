"""Site rules: CSS selectors that override generic extraction for one site.

A ``listing`` source can carry its own; ZAKER's are built in. Selectors win
over everything generic: a site's own markup is the best witness.

A selector may list alternatives (``.article_header span.time, span.time``):
they are tried in the order written and the first that matches wins, so the
specific one comes first. (CSS itself would return every match of the group
in document order, and a sidebar above the article would win.)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import lxml.html
from cssselect import parse as parse_css
from lxml import etree
from lxml.cssselect import LxmlHTMLTranslator
from lxml.html import HtmlElement

# A WAF's JavaScript challenge stands where the article should be. Markers
# seen on such pages; the page is judged by them plus how little text it has.
# Lower-case strings searched in lower-cased text: over every 100 KB page, a
# case-insensitive regex costs four times as much, an alternation regex twice.
CHALLENGE_MARKERS = ("window.captcha", "_waf_", "waf_challenge", "acw_sc__v2", "__jsl_clearance", "slider-captcha",
                     "请完成安全验证", "访问验证")
CHALLENGE_MAX_TEXT_CHARS = 600
# The markers as bytes, to clear an undecoded body (the spider's case: most
# pages are articles, and decoding and lower-casing each 100 KB page only to
# find no marker cost a tenth of the crawl process). ASCII markers are looked
# for in the lower-cased bytes; the Chinese ones, as the encodings Chinese
# WAF pages come in write them, in the bytes as they are (lower-casing would
# alter GBK's ASCII-range trail bytes).
CHALLENGE_ASCII_MARKERS = tuple(m.encode("ascii") for m in CHALLENGE_MARKERS if m.isascii())
CHALLENGE_ENCODED_MARKERS = tuple(dict.fromkeys(m.encode(encoding) for m in CHALLENGE_MARKERS if not m.isascii()
                                                for encoding in ("utf-8", "gb18030")))
# Bodies whose bytes the markers above cannot be found in, left to the full
# check: UTF-16/32 (a byte order mark, or NULs among the first bytes) and the
# 7-bit CJK encodings (HZ's "~{", ISO-2022's escape).
WIDE_ENCODING_BOMS = (b"\xff\xfe", b"\xfe\xff")
WIDE_ENCODING_SNIFF_BYTES = 1024
SEVEN_BIT_CJK_SHIFTS = (b"~{", b"\x1b$")
# lxml refuses str input that still carries an XML encoding declaration.
XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
# Never visible: a challenge inlines kilobytes of obfuscated script in <body>.
INVISIBLE_TAGS = ("script", "style", "template")
# ZAKER wraps outbound links: .../zaker/link.php?...&b=<base64 of the target>.
WRAPPED_LINK_MARKER = "link.php"
WRAPPED_LINK_RE = re.compile("/" + re.escape(WRAPPED_LINK_MARKER) + "$", re.I)
# One query instead of a Python loop over a portal's thousand links.
WRAPPED_LINKS_XPATH = etree.XPath(f"//a[contains(@href, '{WRAPPED_LINK_MARKER}')]")


@dataclass(frozen=True)
class SiteRules:
    title: str | None = None
    published: str | None = None
    author: str | None = None
    tags: str | None = None
    body: str | None = None
    prune: tuple[str, ...] = ()  # blocks to drop before extraction
    caption: str | None = None  # an image's caption, right after it (see crawler.extract.captions)


# ZAKER reuses span.auther / span.time in its recommendation and hot lists
# (one of them above the article in the HTML): the header's come first.
ZAKER_RULES = SiteRules(
    title=".article_header h1",
    published=".article_header span.time, .article_tips span.time, span.time",
    author=".article_header a.article-auther, .article_header span.auther, a.article-auther, span.auther",
    tags=".lebel-list a",
    body="div.article_content",
    prune=("#recommend_bottom", "#article_bottom", ".recommend", ".article_recommend", ".share"),
)

# Built-in rules by site: a page of one of these hosts (or their subdomains)
# gets its rules whatever source reached it (a feed such as RSSHub's, a
# sitemap, `newsarchive extract`), not only a source of its kind.
RULES_BY_SITE = {"myzaker.com": ZAKER_RULES}


def rules_for_url(url: str) -> SiteRules | None:
    host = (urlsplit(url).hostname or "").lower()
    for site, rules in RULES_BY_SITE.items():
        if host == site or host.endswith("." + site):
            return rules
    return None


_TRANSLATOR = LxmlHTMLTranslator()


def _alternatives(selector: str) -> list[str]:
    """XPath of each comma-separated alternative of a CSS selector, in written order."""
    return [_TRANSLATOR.selector_to_xpath(alternative) for alternative in parse_css(selector)]


def select_each(tree: HtmlElement, selector: str | None) -> Iterator[list[HtmlElement]]:
    """The elements of each alternative of `selector` in turn, in written order
    (for a caller whose "first that matches" is more than "matches anything")."""
    if selector:
        for xpath in _alternatives(selector):
            yield tree.xpath(xpath)


def select_first(tree: HtmlElement, selector: str | None) -> list[HtmlElement]:
    """The elements of the first alternative of `selector` that matches anything."""
    return next((found for found in select_each(tree, selector) if found), [])


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def select_first_text(tree: HtmlElement, selector: str | None) -> str | None:
    if not selector:
        return None
    for xpath in _alternatives(selector):
        for element in tree.xpath(xpath):
            if text := _text(element):
                return text
    return None


def select_texts(tree: HtmlElement, selector: str | None) -> list[str]:
    """Texts of every match of the first alternative that has any text."""
    if not selector:
        return []
    for xpath in _alternatives(selector):
        texts = [t for t in (_text(e) for e in tree.xpath(xpath)) if t]
        if texts:
            return list(dict.fromkeys(texts))
    return []


def _visible_text(element: HtmlElement) -> str:
    """Text a reader could see: no script, style or template content, no comments."""
    if not isinstance(element.tag, str) or element.tag in INVISIBLE_TAGS:
        return ""
    parts = [element.text or ""]
    for child in element:
        parts += [_visible_text(child), child.tail or ""]
    return "".join(parts)


def has_challenge_marker(html_text: str) -> bool:
    text = html_text.lower()
    return any(marker in text for marker in CHALLENGE_MARKERS)


def may_be_challenge(body: bytes) -> bool:
    """False when an undecoded page holds no challenge marker (it is then no challenge)."""
    if body.startswith(WIDE_ENCODING_BOMS) or b"\x00" in body[:WIDE_ENCODING_SNIFF_BYTES]:
        return True  # UTF-16 or UTF-32: only its decoded text can tell
    # The shift's first byte alone first: a one-byte search is a memchr, a
    # two-byte one costs as much as lower-casing the whole page.
    if any(shift[:1] in body and shift in body for shift in SEVEN_BIT_CJK_SHIFTS):
        return True
    if any(marker in body for marker in CHALLENGE_ENCODED_MARKERS):
        return True
    lowered = body.lower()
    return any(marker in lowered for marker in CHALLENGE_ASCII_MARKERS)


def is_challenge_text(html_text: str) -> bool:
    """is_challenge_page for a page not parsed yet (the spider's question); never raises."""
    if not html_text or not has_challenge_marker(html_text):
        return False  # the marker search first: most pages need no parse
    try:
        tree = lxml.html.document_fromstring(XML_DECLARATION_RE.sub("", html_text, count=1))
    except (ValueError, etree.ParserError):
        return False  # nothing to show a visitor: no challenge either
    return _shows_little_text(tree)


def is_challenge_page(tree: HtmlElement, html_text: str) -> bool:
    """A WAF challenge (script, little text), never to be archived as an article."""
    return has_challenge_marker(html_text) and _shows_little_text(tree)


def _shows_little_text(tree: HtmlElement) -> bool:
    """A visitor sees no more than a challenge's few words."""
    body = tree.find("body")
    visible = _visible_text(body if body is not None else tree)
    return len(" ".join(visible.split())) <= CHALLENGE_MAX_TEXT_CHARS


def unwrap_link(url: str) -> str:
    """The target of a ZAKER-style ``link.php?...&b=<base64>`` wrapper, else the URL itself."""
    parts = urlsplit(url)
    if not WRAPPED_LINK_RE.search(parts.path):
        return url
    for name, value in parse_qsl(parts.query):
        if name == "b" and value:
            # An unescaped "+" of the base64 arrives as a space: base64 has no spaces.
            value = value.replace(" ", "+")
            try:
                target = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return url
            return target if target.startswith(("http://", "https://")) else url
    return url


def unwrap_links(tree: HtmlElement) -> None:
    for anchor in WRAPPED_LINKS_XPATH(tree):
        anchor.set("href", unwrap_link(anchor.get("href")))
