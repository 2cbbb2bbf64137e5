"""Image captions: kept with their image, never in the article's text.

trafilatura deletes ``<figure>`` whole, its ``<figcaption>`` with it, and we
run it without images (see :func:`crawler.extract.body.place_images`): a
caption survives only by travelling with its image. It goes into the stored
HTML as ``<figure><img><figcaption>`` and into the record's image entry;
not into ``text`` (trafilatura's own ``include_images`` keeps captions as
text, and that cost 0.007 F1 on the extraction benchmark).

A caption is a ``<figure>``'s ``<figcaption>`` or, on a site whose rules
name one (a listing source's ``caption_selector``), the element right after
an image that the rule's selector matches. Plain lxml, no Scrapy.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.rules import select_each

# The tag a caption has in the stored HTML (and in trafilatura's XML, which
# leaves tags it does not know as they are).
CAPTION_TAG = "figcaption"
FIGURE_TAG = "figure"
# Where a rule's caption waits on its image, out of the page's text, until the
# image is placed in the article (see gather_rule_captions). Our own name: a
# site's data-caption is no rule's.
CAPTION_ATTRIBUTE = "data-newsarchive-caption"
# A figure's image declared this small (width or height attribute), or named
# an icon or a zoom button by its class or file name, is furniture beside the
# photo (a magnifier linking to the large version), never what is captioned.
ICON_MAX_PIXELS = 32
ICON_NAME_RE = re.compile(r"icon|zoom|magnif|enlarge|fangda", re.IGNORECASE)


def caption_text(element: etree._Element) -> str:
    """The caption's words, whitespace collapsed (no markup: a caption is plain text)."""
    return " ".join("".join(element.itertext()).split())


def image_caption(img: HtmlElement) -> str:
    """The caption a site rule gave ``img``, else that of the figure holding it,
    when ``img`` is that figure's main image (see main_image).

    A figure of several images has one caption for them all: it is shown,
    and recorded, once, under its main image.
    """
    if ruled := img.get(CAPTION_ATTRIBUTE):
        return ruled
    figure = next(img.iterancestors(FIGURE_TAG), None)
    if figure is None:
        return ""
    images = list(figure.iter("img"))
    if not images or main_image(images) is not img:
        return ""
    caption = next(figure.iter(CAPTION_TAG), None)
    return caption_text(caption) if caption is not None else ""


def main_image(images: list[HtmlElement]) -> HtmlElement:
    """The image a figure's caption is for: the last that is no icon and no link
    (a zoom button is both), else the last that is no icon, else the last."""
    photos = [img for img in images if not _is_icon(img)]
    unlinked = [img for img in photos if next(img.iterancestors("a"), None) is None]
    return (unlinked or photos or images)[-1]


def declared_sizes(img: HtmlElement) -> list[int]:
    """The width and height the image's own markup declares (in pixels), those it declares."""
    values = ((img.get(attribute) or "").strip().removesuffix("px") for attribute in ("width", "height"))
    return [int(value) for value in values if value.isdigit()]


def declared_at_most(img: HtmlElement, pixels: int) -> bool:
    """Whether the image's own markup declares it at most ``pixels`` wide or high."""
    return any(size <= pixels for size in declared_sizes(img))


def url_file_name(url: str) -> str:
    """The last segment of a URL's path (its query left out)."""
    return url.split("?")[0].rsplit("/", 1)[-1]


def _is_icon(img: HtmlElement) -> bool:
    if declared_at_most(img, ICON_MAX_PIXELS):
        return True
    file_name = url_file_name(img.get("src") or "")
    return bool(ICON_NAME_RE.search(f"{img.get('class', '')} {file_name}"))


def gather_rule_captions(tree: HtmlElement, selector: str | None) -> None:
    """Move each caption a site rule names out of the page, onto its image (CAPTION_ATTRIBUTE).

    A rule's caption is the element its selector matches right after the
    image (``<p><img></p><p class="pic-desc">图为…</p>``, or ``<div
    class="img_box"><div><img></div><span class="desc">…</span></div>``):
    its previous sibling, blank ones skipped, is the image or holds it, and
    no text stands between them. A match with no such image is left alone,
    as article text; a match that holds an image is never a caption.

    The caption leaves the tree trafilatura reads, not just its text: as a
    <figcaption> it stayed in the page that trafilatura's baseline rescue of a
    short article reads whole, and that rescue, longer by the caption, won
    over the extraction: the article became one paragraph, its image last.
    """
    # The selector's alternatives are tried in turn and the first that captions
    # an image wins (as select_texts takes the first that has text): the first
    # that merely matches may match no caption (p[align=center]: the images' own
    # paragraphs), and the alternative that names the captions must still be read.
    for matches in select_each(tree, selector):
        if _caption_images(matches):
            return


def _caption_images(matches: list[HtmlElement]) -> int:
    """Move each match that captions the image right before it onto that image; how many did."""
    captioned = 0
    for caption in matches:
        if next(caption.iter("img"), None) is not None or not caption_text(caption):
            # A loose selector (p[style*="center"]) also matches the image's own
            # paragraph: taking that for a caption dropped its image. A blank
            # match captions nothing.
            continue
        img = _captioned_image(caption)
        if img is None or img.getparent() is None or caption.getparent() is None:
            continue
        img.set(CAPTION_ATTRIBUTE, caption_text(caption))
        caption.drop_tree()  # its tail stays
        captioned += 1
    return captioned


def _captioned_image(caption: HtmlElement) -> HtmlElement | None:
    """The image right before ``caption``, with nothing but blanks between them (<br>, <p></p>)."""
    previous = caption.getprevious()
    while previous is not None:
        if (previous.tail or "").strip():
            return None  # text between the image and its would-be caption
        if isinstance(previous.tag, str):
            if previous.tag == "img":
                return previous
            images = list(previous.iter("img"))
            if images:
                last = images[-1]
                return last if not _text_after(last, previous) else None
            if caption_text(previous):
                return None  # a paragraph between: the caption is not right after an image
        previous = previous.getprevious()
    return None


def _text_after(img: HtmlElement, container: HtmlElement) -> bool:
    """Whether text follows ``img`` inside ``container`` (then the caption is not right after it)."""
    node: HtmlElement | None = img
    while node is not None and node is not container:
        if (node.tail or "").strip():
            return True
        for sibling in node.itersiblings():
            if caption_text(sibling) or (sibling.tail or "").strip():
                return True
        node = node.getparent()
    return False


def html_captions(fragment: HtmlElement) -> dict[str, str]:
    """Caption by image ``src`` in sanitised article HTML: each figure's caption for its last image."""
    captions: dict[str, str] = {}
    for figure in fragment.iter(FIGURE_TAG):
        images = [img for img in figure.iter("img") if img.get("src")]
        caption = next(figure.iter(CAPTION_TAG), None)
        if images and caption is not None and (text := caption_text(caption)):
            captions.setdefault(images[-1].get("src"), text)
    return captions
