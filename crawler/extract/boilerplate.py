"""What is never part of an article, removed before trafilatura runs.

trafilatura already drops navigation, footers and comments; these are the
leftovers it keeps on Chinese portals: share bars, recommendation blocks,
and the aggregator furniture of sites such as ZAKER.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.captions import FIGURE_TAG
from crawler.extract.page import classed_elements

# Elements removed outright, wherever they are: ZAKER's recommendations under
# the article and its app download bar (by id or class), code and templates.
PRUNE_IDS = frozenset(("recommend_bottom", "article_bottom", "recommend", "download_app"))
PRUNE_CLASSES = frozenset(("article-recommend",))
PRUNE_TAGS = ("script", "style", "noscript", "template")
# A class or id naming a share bar; only short elements are dropped so a
# wrapper that happens to carry such a class never takes the article with it.
SHARE_BLOCK_RE = re.compile(r"(^|[-_\s])(share|sharing|bdshare|jiathis|fenxiang|social-share)([-_\s]|$)", re.I)
SHARE_BLOCK_MAX_CHARS = 200
# Whole text lines that are calls to action, not article text.
BOILERPLATE_LINE_RE = re.compile(
    r"^\s*(分享让更多人看到|分享到[:：]?.*|点击(查看|阅读)(更多|全文|原文).*|扫一扫.*|"
    r"(本文)?来自ZAKER.*|打开ZAKER.*|下载ZAKER.*)\s*$"
)
# Blocks that may hold nothing but such a line.
LINE_BLOCK_TAGS = ("p", "div", "span")
# Page furniture: trafilatura's cleaning deletes these whatever they hold, and
# metadata reads them as noise. On a portal page they are most of the tree
# (a mega menu, sidebars, a link-farm footer: 1,200 of 1,800 elements), which
# every later pass would walk again: trafilatura alone walks the raw tree four
# times (its raw-tree prunes, its page-share measure, its copies).
FURNITURE_TAGS = ("nav", "aside", "footer", "menu", "iframe", "object", "embed", "svg", "canvas", "map", "audio", "video")
# The site's own furniture, never part of an article, whatever images (a
# logo, a footer's licence icons) it shows.
SITE_FURNITURE_TAGS = frozenset(("nav", "footer", "menu"))
UNLINKED_IMAGE_XPATH = etree.XPath(".//img[not(ancestor::a)]")


def prune_boilerplate(tree: HtmlElement) -> None:
    """Drop code, ZAKER's furniture, calls to action and share bars from the page.

    One XPath query and plain loops: this runs on every page, and an XPath
    query per rule (attribute tests over every element) cost three times as
    much. The order is the rules' own: a share bar is measured once what it
    held of the other kinds is gone.
    """
    unwrap_layout_tables(tree)
    etree.strip_elements(tree, *PRUNE_TAGS, with_tail=False)
    # The document's root: lxml hands a page that does not start with <html>
    # (a PHP notice first, a bare <body>) over as a <div> inside it.
    root = tree.getroottree().getroot()
    marked = [element for element in classed_elements(root) if element.tag not in ("html", "body")]
    for element in marked:
        if element.get("id", "") in PRUNE_IDS or not PRUNE_CLASSES.isdisjoint(element.get("class", "").split()):
            _drop(element, root)
    # A block holding nothing but a call to action (ZAKER's <p>分享让更多人看到</p>):
    # body_text drops such lines, and the stored HTML must not keep them either.
    for element in list(root.iter(*LINE_BLOCK_TAGS)):
        if len(element) == 0 and is_boilerplate_line(element.text or ""):
            _drop(element, root)
    for element in marked:
        marker = f"{element.get('class', '')} {element.get('id', '')}"
        if SHARE_BLOCK_RE.search(marker) and _attached(element, root) and len(element.text_content()) <= SHARE_BLOCK_MAX_CHARS:
            element.drop_tree()


def drop_furniture(tree: HtmlElement) -> None:
    """Remove navigation, sidebars, footers and embeds, keeping what the article may need.

    Kept whole: an <aside>, video or other embed holding an image that is no
    link (an <aside class="photo"> in the article: images are placed back by
    their neighbouring text, where a sidebar's linked thumbnails would go
    unplaced anyway), and all furniture when it holds every paragraph (a
    template that puts its article in an <aside>: trafilatura's fallbacks
    read the raw page). Page-level metadata inside what goes (JSON-LD,
    <meta name>) is moved to just before it; microdata (<meta itemprop>)
    there describes the sidebar's items and goes with them.
    """
    if not any(next(p.iterancestors(*FURNITURE_TAGS), None) is None for p in tree.iter("p")):
        return
    root = tree.getroottree().getroot()
    for element in list(root.iter(*FURNITURE_TAGS)):
        if not _attached(element, root):
            continue  # gone with an outer piece of furniture
        if element.tag not in SITE_FURNITURE_TAGS and UNLINKED_IMAGE_XPATH(element):
            continue
        for kept in [el for el in element.iter("meta", "script") if _is_page_metadata(el)]:
            kept.tail = None  # furniture text, going with the rest
            element.addprevious(kept)
        element.drop_tree()


def _is_page_metadata(element: HtmlElement) -> bool:
    if element.tag == "meta":
        return element.get("itemprop") is None
    return (element.get("type") or "").strip().lower() == "application/ld+json"


def _attached(element: HtmlElement, root: HtmlElement) -> bool:
    """Still in the document: not the root, and not gone with a dropped ancestor."""
    top = element
    for top in element.iterancestors():
        pass
    return element is not root and top is root


def _drop(element: HtmlElement, root: HtmlElement) -> None:
    """Remove an element (its tail stays), unless it went already with an ancestor."""
    if _attached(element, root):
        element.drop_tree()


def is_boilerplate_line(line: str) -> bool:
    return bool(BOILERPLATE_LINE_RE.match(line))


# A table holding these is page layout (the 2000s way), not data.
LAYOUT_TABLE_MARKERS = ".//table | .//p | .//h1 | .//h2 | .//div | .//ul | .//form | .//iframe"
LAYOUT_CELL_CHARS = 300  # a data cell this long is prose, i.e. layout
TABLE_PARTS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption")


def is_layout_table(table: HtmlElement) -> bool:
    if table.xpath(LAYOUT_TABLE_MARKERS):
        return True
    return any(len(cell.text_content()) > LAYOUT_CELL_CHARS for cell in table.iter("td", "th"))


def unwrap_layout_tables(tree: HtmlElement) -> None:
    """Turn layout tables into plain blocks, so extraction sees articles, not grids.

    trafilatura keeps tables whole, which on table-layout sites (old GBK
    portals) brings the navigation bar and the footer into the article.
    """
    for table in reversed(tree.xpath("//table")):  # innermost first
        if not is_layout_table(table):
            continue
        for element in [table, *table.iter(*TABLE_PARTS)]:
            element.tag = "div"
            for attribute in ("width", "height", "border", "cellpadding", "cellspacing", "align", "valign", "colspan", "rowspan"):
                element.attrib.pop(attribute, None)


# Before the headline in an extracted body, at most this: a kicker (the
# section's name as a link, "Business"), never a lead paragraph.
KICKER_MAX_CHARS = 40


def drop_leading_headline(body: etree._Element, title: str) -> bool:
    """Remove the headline that opens an extracted body (trafilatura XML), and a kicker before it.

    The record carries the title apart; in ``text`` it was a first paragraph
    repeating it, with the section link above it. Only a heading whose text is
    the title goes, only from the top, and never the body's last text.
    """
    wanted = " ".join(title.split())
    if not wanted:
        return False
    before: list[etree._Element] = []
    for index, child in enumerate(body):
        text = " ".join("".join(child.itertext()).split())
        if child.tag == "head" and text == wanted:
            if not any(_has_text(element) for element in body[index + 1:]):
                return False  # the headline is the only text there is
            for element in [*before, child]:
                body.remove(element)  # no tail in trafilatura's block elements to keep
            return True
        if not _is_kicker(child, text) or len(before) >= 2:
            return False
        before.append(child)
    return False


def _has_text(block: etree._Element) -> bool:
    """Holds a line the body's text keeps (see is_boilerplate_line); an image's caption is none."""
    if block.tag == FIGURE_TAG:
        return False
    return any(line.strip() and not is_boilerplate_line(line) for line in "".join(block.itertext()).splitlines())


def _is_kicker(block: etree._Element, text: str) -> bool:
    """A short block that is one link and nothing else."""
    links = list(block.iter("ref"))
    return (block.tag == "p" and len(links) == 1 and 0 < len(text) <= KICKER_MAX_CHARS
            and " ".join("".join(links[0].itertext()).split()) == text)
