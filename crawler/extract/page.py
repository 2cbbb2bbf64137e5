"""A parsed news page and the regions metadata is read from, each worked out once.

Finding a dateline or a byline asks the same questions of a page many times
(which block is the headline, which holds the body, is this element inside a
sidebar, what are its class tokens); on a 100 KB portal page with two thousand
elements, answering them afresh each time was half of metadata's cost. A
:class:`Page` answers each once. Plain lxml, no Scrapy.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from itertools import islice
from typing import Any, Iterator

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract import zh_patterns as zp
from crawler.extract.zh_patterns import normalize_text

BODY_TEXT_MIN = 120  # a block this long with sentence punctuation starts the body
MAX_HEADER_ELEMENTS = 150  # how far after the headline the dateline may sit

# Elements a headline or a byline may be written in (block or not: a <span> byline).
TEXT_BLOCK_TAGS = ("p", "div", "section", "blockquote", "center", "h2", "h3", "h4", "span", "strong", "td")
INLINE_TAGS = frozenset("b strong i em font u sub sup small big".split())  # glued without a space
SKIPPED_TAGS = frozenset(("script", "style", "noscript"))
JSON_WRAPPER_RE = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
PROSE_END_RE = re.compile(r"[。!?]|\.(?:\s|$)")  # a sentence: body text, not a dateline


class Page:
    """One page's tree and what is derived from it; the tree must not change meanwhile.

    ``tree`` is the document's root element: the regions are looked for in
    the whole document (XPath from the root), not below some element.
    """

    def __init__(self, tree: HtmlElement) -> None:
        self.tree = tree
        self._class_ids: dict[HtmlElement, str] = {}
        self._tokens: dict[HtmlElement, list[str]] = {}
        self._texts: dict[HtmlElement, str] = {}
        self._noise: dict[HtmlElement, bool] = {}

    # -- per element -------------------------------------------------------------

    def class_id(self, el: HtmlElement) -> str:
        """The lower-cased class and id, space-separated: the region and editor scans
        test most classed elements of the article twice."""
        found = self._class_ids.get(el)
        if found is None:
            found = self._class_ids[el] = _class_id(el)
        return found

    def tokens(self, el: HtmlElement) -> list[str]:
        """Lower-cased class and id tokens (article-info -> article, info)."""
        found = self._tokens.get(el)
        if found is None:
            found = self._tokens[el] = [t for t in zp.CLASS_TOKEN_SPLIT_RE.split(self.class_id(el)) if t]
        return found

    def has_hint(self, el: HtmlElement, hint: re.Pattern[str], prefilter: re.Pattern[str] | None = None) -> bool:
        """A class/id token matches ``hint``. ``prefilter`` (zh_patterns' *_PREFILTER_RE) is
        tried first on the lower-cased class and id: it rejects most elements before they are split."""
        if prefilter is not None:
            class_id = self.class_id(el)
            # Only an ASCII string: in IGNORECASE hints a few other letters (the long s
            # of "ſource") match too, which the case-sensitive prefilter would miss.
            if class_id.isascii() and not prefilter.search(class_id):
                return False
        return any(hint.search(token) for token in self.tokens(el))

    def text(self, el: HtmlElement) -> str:
        """Text with a space between elements (<span>来源</span><span>作者</span>), none inside <b>."""
        found = self._texts.get(el)
        if found is None:
            found = self._texts[el] = block_text(el)
        return found

    def is_noise(self, el: HtmlElement) -> bool:
        """Inside page furniture: nav, footer, related lists, rankings, comments."""
        unknown: list[HtmlElement] = []  # el and its ancestors up to the first known one
        node: HtmlElement | None = el
        while node is not None and node not in self._noise:
            unknown.append(node)
            node = node.getparent()
        noise = node is not None and self._noise[node]
        for node in reversed(unknown):  # outermost first: furniture contains its children
            noise = noise or self._own_noise(node)
            self._noise[node] = noise
        return self._noise[el]

    def _own_noise(self, el: HtmlElement) -> bool:
        if not isinstance(el.tag, str):
            return False
        if el.tag in zp.NOISE_TAGS or (el.tag == "li" and _is_news_list_item(el)):
            return True
        return any(t in zp.NOISE_TOKENS or t.startswith(zp.NOISE_PREFIXES) for t in self.tokens(el))

    # -- whole page ----------------------------------------------------------------

    @cached_property
    def classed(self) -> list[HtmlElement]:
        """Elements with a class or id, in the whole document, in document order: the
        elements a class/id hint can match; the rest of the page is never tested."""
        return classed_elements(self.tree.getroottree().getroot())

    @cached_property
    def metas(self) -> dict[str, list[str]]:
        """Lower-cased meta name/property/itemprop -> contents, in page order."""
        metas: dict[str, list[str]] = {}
        for meta in self.tree.iter("meta"):
            content = normalize_text(meta.get("content"))
            if not content or (meta.get("itemprop") and self.is_noise(meta)):
                continue
            for attr in ("name", "property", "itemprop", "http-equiv"):
                key = (meta.get(attr) or "").strip().lower()
                if key:
                    metas.setdefault(key, []).append(content)
        return metas

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        """Parsed JSON-LD article objects of the page; broken blocks are skipped."""
        articles: list[dict[str, Any]] = []
        for script in self.tree.iter("script"):
            if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
                continue
            raw = JSON_WRAPPER_RE.sub("", script.text.strip())
            for candidate in (raw, TRAILING_COMMA_RE.sub(r"\1", raw)):  # trailing commas: a CMS template slip
                try:
                    data = json.loads(candidate, strict=False)  # strict=False: raw newlines inside strings
                except ValueError:
                    continue
                articles.extend(_walk_articles(data))
                break
        return articles

    @cached_property
    def titles(self) -> list[str]:
        """og:title and kin, then <title>: what confirms a headline."""
        titles = [normalize_text(t) for key in zp.META_TITLE_KEYS for t in self.metas.get(key, [])]
        return titles + [normalize_text(t.text_content()) for t in self.tree.iter("title")]

    @cached_property
    def heading(self) -> HtmlElement | None:
        """The headline: an <h1> that is not a logo, preferring one the <title> confirms."""

        def confirmed(el: HtmlElement) -> bool:
            text = self.text(el)
            return len(text) >= 4 and any(text in t for t in self.titles)

        h1s = [h for h in self.tree.iter("h1") if len(self.text(h)) >= 4 and not self.is_noise(h)
               and not any(self.has_hint(el, zp.LOGO_HINT_RE) for el in h.iter(etree.Element))]
        for h1 in h1s:
            if confirmed(h1):
                return h1
        if h1s:
            return h1s[0]
        for el in self.tree.iter(*TEXT_BLOCK_TAGS):  # <div class="title">, <h2 class="headline">
            if self.has_hint(el, zp.TITLE_HINT_RE) and len(self.text(el)) <= 200 and confirmed(el) and not self.is_noise(el):
                return el
        return None

    @cached_property
    def body(self) -> HtmlElement | None:
        """The element whose direct <p> children hold the most text."""
        scores: dict[HtmlElement, int] = {}
        for p in self.tree.iter("p"):
            parent = p.getparent()
            if parent is not None and not self.is_noise(p):
                scores[parent] = scores.get(parent, 0) + len(normalize_text(p.text_content()))
        return max(scores, key=lambda el: scores[el]) if scores else None

    @cached_property
    def header_blocks(self) -> list[HtmlElement]:
        """Short blocks around the headline, nearest first: after it up to the body, then before it."""
        anchor, body = self.heading, self.body
        if anchor is None:
            anchor = body
            if anchor is None:
                return []
            after: list[HtmlElement] = []
        else:
            # The window counts the headline's own descendants too.
            window = MAX_HEADER_ELEMENTS - sum(1 for _ in anchor.iterdescendants(etree.Element))
            after = []
            for el in islice(_following(anchor), max(window, 0)):
                if self._starts_body(el, body):
                    break
                after.append(el)
        # Before the anchor, within its container (<div class="hd"><p class="time"/><h1/>).
        container = anchor.getparent()
        while container is not None and len(container) == 1 and container.getparent() is not None:
            container = container.getparent()
        before: list[HtmlElement] = []
        if container is not None and container.tag not in ("body", "html"):
            for el in container.iterdescendants(etree.Element):
                if el is anchor:
                    break
                before.append(el)
        ancestors = set(anchor.iterancestors())
        blocks = after + [el for el in reversed(before) if el not in ancestors][:20]
        # Last, info/time/source-marked blocks anywhere in the article (some CMSs
        # put 发布日期 below the body), never the page around it.
        scope = body
        for _level in range(2):
            if scope is not None and scope.getparent() is not None and scope.getparent().tag not in ("body", "html"):
                scope = scope.getparent()
        seen = set(blocks)
        if scope is not None:
            # Furniture is dropped below anyway; testing it before the link scan spares
            # that scan for the many hinted blocks of related lists and rankings.
            blocks += [el for el in classed_elements(scope)
                       if el not in seen and self.has_hint(el, zp.HEADER_HINT_RE, zp.HEADER_HINT_PREFILTER_RE)
                       and not self.is_noise(el)
                       and not _has_headline_link(el.getparent())]
        return [el for el in blocks if 2 <= len(self.text(el)) <= zp.DATELINE_MAX_CHARS and not self.is_noise(el)]

    def _starts_body(self, el: HtmlElement, body: HtmlElement | None) -> bool:
        """A long punctuated block, or a sentence among the body container's paragraphs."""
        if el.tag == "p" and el.getparent() is body and PROSE_END_RE.search(self.text(el)):
            return True
        text = self.text(el) if el.tag == "p" else normalize_text((el.text or "") + "".join(c.tail or "" for c in el))
        return len(text) >= BODY_TEXT_MIN and bool(zp.SENTENCE_PUNCT_RE.search(text) or "。" in text)


def as_page(tree_or_page: HtmlElement | Page) -> Page:
    return tree_or_page if isinstance(tree_or_page, Page) else Page(tree_or_page)


def block_text(el: HtmlElement) -> str:
    """Text with a space between elements (<span>来源</span><span>作者</span>), none inside <b>."""
    out: list[str] = []

    def walk(node: HtmlElement) -> None:
        glue = "" if node.tag in INLINE_TAGS else " "
        out.append(glue + (node.text or ""))
        for child in node:
            if isinstance(child.tag, str) and child.tag not in SKIPPED_TAGS:
                walk(child)
            out.append(child.tail or "")
        out.append(glue)

    walk(el)
    return normalize_text("".join(out))


def _following(el: HtmlElement) -> Iterator[HtmlElement]:
    """The elements after ``el`` in document order, not its own (XPath's following::*).
    Lazily: XPath found all of them, where the header region needs the first few."""
    node: HtmlElement | None = el
    while node is not None:
        for sibling in node.itersiblings():
            yield from sibling.iter(etree.Element)
        node = node.getparent()


def classed_elements(el: HtmlElement) -> list[HtmlElement]:
    """``el`` and the elements below it that have a class or id, in document order."""
    # A loop, not "descendant-or-self::*[@class or @id]": libxml2 tests that predicate more slowly.
    return [e for e in el.iter(etree.Element) if e.get("class") is not None or e.get("id") is not None]


def _class_id(el: HtmlElement) -> str:
    """The lower-cased class and id, space-separated: what the class/id tokens are split from."""
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


def _has_headline_link(el: HtmlElement | None) -> bool:
    """Holds a link with a headline-length text: an item of a news list."""
    return el is not None and any(len(normalize_text(a.text_content())) >= 8 for a in el.iter("a"))


def _is_news_list_item(li: HtmlElement) -> bool:
    """An <li> of a headline list (three or more items, each a long link)."""
    parent = li.getparent()
    return parent is not None and sum(1 for c in parent if c.tag == "li") >= 3 and _has_headline_link(li)


def jsonld_types(obj: dict[str, Any]) -> set[str]:
    types = obj.get("@type") or []
    types = [types] if isinstance(types, str) else types
    return {re.split(r"[/:#]", t)[-1] for t in types if isinstance(t, str)}


def _walk_articles(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Article objects anywhere: top level, lists, @graph, mainEntity; outermost first."""
    if depth > 8:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_articles(item, depth + 1)
    elif isinstance(data, dict):
        if jsonld_types(data) & zp.ARTICLE_TYPES:
            yield data
        for key, value in data.items():
            if key not in ("author", "creator", "publisher", "editor") and isinstance(value, (dict, list)):
                yield from _walk_articles(value, depth + 1)
