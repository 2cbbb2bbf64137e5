"""The article body: the tree trafilatura reads, and its XML made text and HTML.

Shaping what trafilatura is given (a site rule's body element, a feed's
body, loose text put into paragraphs) and what comes back (images put back
where they stood, links made absolute, plain text, safe HTML). Plain lxml;
:mod:`crawler.extract.core` runs trafilatura between the two.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from trafilatura.htmlprocessing import convert_to_html
from trafilatura.utils import HTML_PARSER as TRAFILATURA_HTML_PARSER
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from crawler.extract.article import FeedHints, NoArticle
from crawler.extract.boilerplate import is_boilerplate_line
from crawler.extract.captions import CAPTION_TAG, FIGURE_TAG, gather_rule_captions, html_captions
from crawler.extract.decode import drop_control_references
from crawler.extract.images import ImageAnchor, resolve_lazy_images, squash
from crawler.extract.rules import XML_DECLARATION_RE, select_first, unwrap_links
from crawler.extract.sanitize import safe_html

# Elements that start a block of their own; everything else flows inline.
HTML_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figure footer form h1 h2 h3 h4 h5 h6 header hr li "
    "main nav ol p pre section table ul".split()
)

# lxml.html's parsers choose each element's Python class in a Python callback
# (FormElement for <form>, InputElement for <input>...), run whenever an
# element is first reached from Python: 1,600 times on a portal page, 4 % of
# its extraction. Neither trafilatura nor this project uses those classes: the
# parser pages are read with (trafilatura's, see parse_html) gets lxml's
# C-level default lookup instead, an HtmlElement for every element.
PLAIN_HTML_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)
TRAFILATURA_HTML_PARSER.set_element_class_lookup(PLAIN_HTML_CLASSES)


def parse_html(text: str) -> lxml.html.HtmlElement:
    text = drop_control_references(XML_DECLARATION_RE.sub("", text, count=1))  # lxml refuses the declaration in str input
    if not text.strip():
        raise NoArticle("empty page")
    # trafilatura's own parser settings (comments and PIs dropped): parsing
    # with lxml's defaults instead costs about 0.004 F1 on the benchmark.
    tree = load_html(text)
    if tree is None:
        raise NoArticle("not an HTML document")
    return tree


def feed_tree(feed: FeedHints, *, caption_selector: str | None = None, base_url: str = "") -> lxml.html.HtmlElement:
    """A feed's article body, as a document of its own (a rule's captions gathered: see _gather_captions)."""
    tree = parse_html(f"<html><body><article>{feed.body_html}</article></body></html>")
    unwrap_links(tree)  # ZAKER's feeds wrap their links as its pages do
    _gather_captions(tree, caption_selector, base_url)
    # ...and leave the paragraph after an image box bare as its pages do (RSSHub
    # relays the page's markup): an inline link split it in two (_wrap_loose_text).
    _wrap_loose_text(tree)
    return tree


def body_tree(tree: lxml.html.HtmlElement, selector: str, *, caption_selector: str | None = None,
              base_url: str = "") -> lxml.html.HtmlElement | None:
    """Only the element a site rule names as the body, as a document of its own
    (a rule's captions gathered: see _gather_captions). ``caption_selector`` only
    when ``tree``'s have not been (a feed's tree has: see crawler.extract.core)."""
    found = select_first(tree, selector)
    if not found:
        return None
    body = copy.deepcopy(found[0])
    _gather_captions(body, caption_selector, base_url)
    _wrap_loose_text(body)
    inner = etree.tostring(body, encoding="unicode", method="html", with_tail=False)
    return parse_html(f"<html><body><article>{inner}</article></body></html>")


def _gather_captions(body: etree._Element, caption_selector: str | None, base_url: str) -> None:
    """A rule's captions joined to their images before loose text is put into paragraphs.

    An image box's caption is an inline element beside the image's block
    (``<div class="img_box"><div><img></div><span class="pictext">…</span></div>``):
    _wrap_loose_text puts it into a paragraph of its own, where no image stands
    right before it. The images are resolved first, as for any caption (see
    crawler.extract.core._extract_body): a placeholder or a pixel captions nothing.
    """
    if caption_selector:
        resolve_lazy_images(body, base_url)
        gather_rule_captions(body, caption_selector)


def _is_block(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and element.tag in HTML_BLOCK_TAGS


def _wrap_loose_text(container: etree._Element) -> None:
    """Put text that sits bare between blocks into paragraphs of its own.

    ZAKER leaves the paragraph after each image box as a bare text node
    (``<div class="img_box">…</div>据<a>新华网</a>报道…<p></p>``); with an
    inline link in it trafilatura splits it into two paragraphs. Only
    containers that also hold blocks are touched: inline-only ones are
    paragraphs already.
    """
    for element in list(container.iter()):
        if not isinstance(element.tag, str) or element.tag in ("p", "pre"):
            continue
        children = list(element)
        if not any(_is_block(child) for child in children):
            continue
        lead: str | None = None  # loose text of the current run
        if element.text and element.text.strip():
            lead, element.text = element.text, None
        run: list[etree._Element] = []  # inline elements of the current run
        for child in children:
            if not _is_block(child):
                run.append(child)
                continue
            _wrap_run(element, lead, run, before=child)
            lead, run = None, []
            if child.tail and child.tail.strip():
                lead, child.tail = child.tail, None
        _wrap_run(element, lead, run, before=None)


def _wrap_run(parent: etree._Element, lead: str | None, run: list[etree._Element], *, before: etree._Element | None) -> None:
    if lead is None and not run:
        return
    paragraph = parent.makeelement("p", {})
    paragraph.text = lead
    paragraph.extend(run)  # moved, each with its tail
    if before is None:
        parent.append(paragraph)
    else:
        before.addprevious(paragraph)


def body_text(body: etree._Element) -> str:
    """Plain text, paragraphs separated by blank lines."""
    body = copy.deepcopy(body)
    # Images leave no text, nor do their captions (see crawler.extract.captions);
    # links and emphasis keep theirs.
    etree.strip_elements(body, "graphic", FIGURE_TAG, with_tail=False)
    etree.strip_tags(body, "ref", "hi")
    lines = (line.strip() for line in xmltotxt(body, False).splitlines())
    return "\n\n".join(line for line in lines if line and not is_boilerplate_line(line))


def place_images(body: etree._Element, anchors: list[ImageAnchor]) -> None:
    """Put the page's images back into the extracted article, where they stood.

    trafilatura runs without images: with them it also keeps captions,
    credits and image links as text (about 0.007 F1 lost on the benchmark).
    An image goes after the block holding the text that preceded it in the
    page, else before the block holding the text that followed it; an image
    whose neighbours are not in the article (a sidebar, a logo) stays out.
    Its caption comes with it, unless the article's text holds it already
    (trafilatura's fallback for pages it cannot read keeps figure captions).
    """
    blocks = list(body)
    texts = [squash("".join(block.itertext())) for block in blocks]
    placed: set[str] = set()
    after: dict[int, list[ImageAnchor]] = {}
    before: dict[int, list[ImageAnchor]] = {}
    for anchor in anchors:
        if anchor.url in placed:
            continue
        caption = squash(anchor.caption) if anchor.caption else ""
        if anchor.caption and any(caption in t for t in texts):
            anchor = replace(anchor, caption="")
        index = next((i for i, t in enumerate(texts) if anchor.before and anchor.before in t), None)
        target = after
        if index is None:
            index = next((i for i, t in enumerate(texts) if anchor.after and anchor.after in t), None)
            target = before
        if index is not None:
            target.setdefault(index, []).append(anchor)
            placed.add(anchor.url)
    for index in sorted(set(after) | set(before), reverse=True):
        block = blocks[index]
        for anchor in reversed(after.get(index, [])):
            block.addnext(_graphic(anchor))
        for anchor in before.get(index, []):
            block.addprevious(_graphic(anchor))


def _graphic(anchor: ImageAnchor) -> etree._Element:
    """The image in trafilatura's XML; with a caption, a figure holding both (kept as is in the HTML)."""
    graphic = etree.Element("graphic", src=anchor.url)
    if anchor.alt:
        graphic.set("alt", anchor.alt)
    if not anchor.caption:
        return graphic
    figure = etree.Element(FIGURE_TAG)
    figure.append(graphic)
    etree.SubElement(figure, CAPTION_TAG).text = anchor.caption
    return figure


def resolve_links(body: etree._Element, base_url: str) -> None:
    """Make the article's links absolute, against the page's base URL.

    trafilatura runs without the URL: given one, it resolves every link of
    the page (a portal's thousand menu links, a sixth of its time), and
    against the site's root, which breaks links relative to the page's folder.
    """
    for ref in body.iter("ref"):
        target = (ref.get("target") or "").strip()
        if target:
            try:
                ref.set("target", urljoin(base_url, target))
            except ValueError:  # a malformed URL (an unclosed IPv6 bracket) stays as written
                pass


def body_html(body: etree._Element) -> str:
    html_tree = convert_to_html(copy.deepcopy(body))
    inner = "".join(etree.tostring(child, encoding="unicode") for child in html_tree[0])
    return safe_html(inner).strip()


def html_images(html: str) -> tuple[list[str], dict[str, str]]:
    """The web addresses of the article HTML's images (in order, unique) and their captions by address."""
    if not html:
        return [], {}
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    urls = list(dict.fromkeys(src for src in fragment.xpath("//img/@src") if src.startswith(("http://", "https://"))))
    captions = html_captions(fragment)
    return urls, {url: captions[url] for url in urls if url in captions}
