"""Site rules: CSS selectors that override generic extraction for one site.

A ``listing`` source can carry its own; ZAKER's are built in. Selectors win
over everything generic: a site's own markup is the best witness.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from lxml.html import HtmlElement

# A WAF's JavaScript challenge stands where the article should be. Markers
# seen on such pages; the page is judged by them plus how little text it has.
CHALLENGE_MARKERS = re.compile(r"window\.captcha|_waf_|waf_challenge|acw_sc__v2|__jsl_clearance|slider-captcha|请完成安全验证|访问验证", re.I)
CHALLENGE_MAX_TEXT_CHARS = 600
# ZAKER wraps outbound links: .../zaker/link.php?...&b=<base64 of the target>.
WRAPPED_LINK_RE = re.compile(r"/link\.php$", re.I)


@dataclass(frozen=True)
class SiteRules:
    title: str | None = None
    published: str | None = None
    author: str | None = None
    tags: str | None = None
    body: str | None = None
    prune: tuple[str, ...] = ()  # blocks to drop before extraction


ZAKER_RULES = SiteRules(
    title=".article_header h1",
    published=".article_header span.time, span.time",
    author="a.article-auther, span.auther",
    tags=".lebel-list a",
    body="div.article_content",
    prune=("#recommend_bottom", "#article_bottom", ".recommend", ".article_recommend", ".share"),
)


def select_first_text(tree: HtmlElement, selector: str | None) -> str | None:
    if not selector:
        return None
    for element in tree.cssselect(selector):
        text = " ".join(element.text_content().split())
        if text:
            return text
    return None


def select_texts(tree: HtmlElement, selector: str | None) -> list[str]:
    if not selector:
        return []
    texts = (" ".join(e.text_content().split()) for e in tree.cssselect(selector))
    return list(dict.fromkeys(t for t in texts if t))


def is_challenge_page(tree: HtmlElement, html_text: str) -> bool:
    """A WAF challenge (script, little text), never to be archived as an article."""
    if not CHALLENGE_MARKERS.search(html_text):
        return False
    body = tree.find("body")
    visible = " ".join((body if body is not None else tree).text_content().split()) if len(tree) else ""
    return len(visible) <= CHALLENGE_MAX_TEXT_CHARS


def unwrap_link(url: str) -> str:
    """The target of a ZAKER-style ``link.php?...&b=<base64>`` wrapper, else the URL itself."""
    parts = urlsplit(url)
    if not WRAPPED_LINK_RE.search(parts.path):
        return url
    for name, value in parse_qsl(parts.query):
        if name == "b" and value:
            try:
                target = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return url
            return target if target.startswith(("http://", "https://")) else url
    return url


def unwrap_links(tree: HtmlElement) -> None:
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if href and "link.php" in href:
            anchor.set("href", unwrap_link(href))
