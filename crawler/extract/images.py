"""Finding the real image behind lazy-loading markup and proxies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.captions import ICON_MAX_PIXELS, declared_at_most, declared_sizes, image_caption, url_file_name

# Attributes lazy-loading scripts read the real address from, best first.
LAZY_SRC_ATTRIBUTES = (
    "data-original",
    "data-src",
    "data-lazy-src",
    "data-actualsrc",
    "data-echo",
    "data-hi-res-src",
    "data-url",
    "data-lazyload",  # Discuz!, many Chinese portals
    "data-ks-lazyload",  # Taobao's KISSY
    "data-lazy",
    "lazy-src",
    "original",  # jQuery lazyload's old attribute
    "file",
)
SRCSET_ATTRIBUTES = ("data-srcset", "srcset")
# A lazy attribute names an image only if it looks like an address: some
# scripts keep a flag there ("data-lazy=true", "original=1").
LAZY_VALUE_RE = re.compile(r"[/.]")
# Declared this small (width or height attribute), an image is a counter or
# tracking pixel (a stats beacon in <noscript>), never part of the article.
PIXEL_MAX = 2
# A src that only holds the space until the script swaps the real image in.
PLACEHOLDER_RE = re.compile(r"(^data:)|(blank|placeholder|loading|spacer|lazy|grey|pixel|transparent)[^/]*\.(gif|png|svg)$"
                            # whole names only: "dotted-map.png" is a picture
                            r"|(^|/)(dot|spaceball|clear|empty|1x1|s)\.(gif|png)$", re.I)
# A zoom button beside a photo (a magnifier linking to its large version) is
# page furniture, never one of the article's images. It says what it does, by
# its file, class, alt or title or those of the link around it (点击放大) ...
ZOOM_HINT_RE = re.compile(r"zoom|enlarge|magnif|fangda|放大|大图", re.IGNORECASE)
# ... and is either declared small (ICON_MAX_PIXELS) or named a button outright:
# a drawing's file whose name is button words alone (zoom.png, btn_magnifier.gif,
# icon-zoom-in.svg), a class that names an icon (icon-enlarge). Words, not
# substrings: a lightbox thumbnail in a zoom link (thumb_123.jpg), a
# class="zoom" or "zoomable" photo, or one whose alt is about a magnifier
# (放大镜下的细胞) is hinted at too, and is an article's picture.
ZOOM_WORDS = frozenset("zoom zoomin enlarge magnifier magnify magnifying fangda".split())
ICON_WORDS = frozenset("icon ico btn button".split())
BUTTON_WORDS = ZOOM_WORDS | ICON_WORDS | {"in", "glass"}
# A button is drawn, so its file is of a drawing's type; a photo's name alone
# says nothing (zoom.jpg of a story on Zoom, zoom-in.jpg of a zoomed-in view).
BUTTON_FILE_TYPES = frozenset("png gif svg ico".split())
NAME_WORD_SPLIT_RE = re.compile(r"[^a-z]+")  # digits split too: icon_16, zoom2
SRCSET_DESCRIPTOR_RE = re.compile(r"^(\d+(?:\.\d+)?)[wx]$")
ABSOLUTE_URL_RE = re.compile(r"^https?://", re.I)
# Query parameters a proxy commonly carries its target in.
PROXY_PARAMS = ("url", "u", "src", "image", "img")


def best_srcset_candidate(srcset: str) -> str | None:
    """The widest (or densest) candidate of a srcset."""
    best, best_size = None, -1.0
    for url, descriptor in _srcset_candidates(srcset):
        match = SRCSET_DESCRIPTOR_RE.match(descriptor)
        size = float(match.group(1)) if match else 1.0
        if url and size > best_size:
            best, best_size = url, size
    return best


def _srcset_candidates(srcset: str):
    """(url, descriptor) pairs as the HTML spec splits them: a URL may hold
    commas (``/resize,w_640``); only a comma after whitespace or at a URL's
    end separates candidates."""
    pos, end = 0, len(srcset)
    while pos < end:
        while pos < end and (srcset[pos].isspace() or srcset[pos] == ","):
            pos += 1
        start = pos
        while pos < end and not srcset[pos].isspace():
            pos += 1
        url = srcset[start:pos]
        if not url:
            return
        if url.endswith(","):
            yield url.rstrip(","), ""
            continue
        comma = srcset.find(",", pos)
        comma = end if comma == -1 else comma
        yield url, srcset[pos:comma].strip()
        pos = comma + 1


def real_image_url(img: HtmlElement) -> str | None:
    """The address the reader's browser would end up showing, unresolved."""
    for attribute in LAZY_SRC_ATTRIBUTES:
        value = (img.get(attribute) or "").strip()
        if value and not value.startswith("data:") and LAZY_VALUE_RE.search(value):
            return value
    for attribute in SRCSET_ATTRIBUTES:
        value = (img.get(attribute) or "").strip()
        if value and (candidate := best_srcset_candidate(value)):
            return candidate
    src = (img.get("src") or "").strip()
    if src and not PLACEHOLDER_RE.search(src):
        return src
    return None


def is_pixel(img: HtmlElement) -> bool:
    """An image its own markup declares at most PIXEL_MAX pixels wide or high."""
    return declared_at_most(img, PIXEL_MAX)


def is_zoom_button(img: HtmlElement, url: str) -> bool:
    """A zoom or magnifier button (see ZOOM_HINT_RE), ``url`` its real address."""
    link = next(img.iterancestors("a"), None)
    around = "" if link is None else f"{link.get('title', '')} {link.get('class', '')} {link.text_content()}"
    file_name = url_file_name(url)
    hints = f"{file_name} {img.get('class', '')} {img.get('alt', '')} {img.get('title', '')} {around}"
    if not ZOOM_HINT_RE.search(hints):
        return False
    if declared_at_most(img, ICON_MAX_PIXELS):
        return True
    if declared_sizes(img):
        return False  # declared larger: a picture, whatever it is called
    stem, _, file_type = file_name.rpartition(".")
    # A class of zoom words alone (zoom) is a lightbox's photo: a class must name an icon.
    return ((file_type.lower() in BUTTON_FILE_TYPES and _button_words(stem, ZOOM_WORDS | ICON_WORDS))
            or any(_button_words(token, ICON_WORDS) for token in img.get("class", "").split()))


def _button_words(name: str, required: frozenset[str]) -> bool:
    """Whether ``name`` is made of BUTTON_WORDS alone, one of them in ``required``."""
    words = set(filter(None, NAME_WORD_SPLIT_RE.split(name.lower())))
    return words <= BUTTON_WORDS and bool(words & required)


def use_noscript_images(tree: HtmlElement) -> None:
    """The images of ``<noscript>`` fallbacks, where the scripted image beside them names none.

    ``<img class=lazy src=grey.gif><noscript><img src=real.jpg></noscript>``:
    the script that would swap the real image in never runs here, and
    ``<noscript>`` is pruned as boilerplate, so the image was lost.
    """
    for noscript in list(tree.iter("noscript")):
        fallbacks = list(noscript.iter("img"))
        if not fallbacks:
            continue
        previous = noscript.getprevious()
        scripted = None
        if previous is not None:
            scripted = previous if previous.tag == "img" else next(iter(reversed(list(previous.iter("img")))), None)
        if scripted is not None and real_image_url(scripted) is not None:
            noscript.drop_tree()  # the scripted image resolves by itself: the fallback would show it twice
            continue
        if scripted is not None:
            scripted.drop_tree()
        for fallback in fallbacks:
            fallback.tail = None
            noscript.addprevious(fallback)
        noscript.drop_tree()


def resolve_lazy_images(tree: HtmlElement, base_url: str) -> None:
    """Point every <img src> at its real, absolute image; drop placeholders,
    tracking pixels and zoom buttons.

    Done before trafilatura sees the tree, which only reads ``src``.
    """
    use_noscript_images(tree)
    for img in tree.iter("img"):
        url = None if is_pixel(img) else real_image_url(img)
        if url is None or is_zoom_button(img, url):
            img.drop_tree()
            continue
        real, src = urljoin(base_url, url), urljoin(base_url, (img.get("src") or "").strip())
        # A src relaying the real image through a proxy (ZAKER pages, the seed's
        # CORS proxy) stays: the origin is what is recorded and fetched first,
        # the proxy is the fallback when the origin fails (ProxyFallbackMiddleware).
        img.set("src", src if unwrap_proxy(src) == real else real)
        for attribute in (*LAZY_SRC_ATTRIBUTES, *SRCSET_ATTRIBUTES):
            img.attrib.pop(attribute, None)


def unwrap_proxy(url: str) -> str | None:
    """The origin behind an image proxy, or None when the URL is direct.

    ``https://cors.example/?http://origin/x.jpg`` and
    ``https://proxy.example/fetch?url=http%3A//origin/x.jpg`` both name
    ``http://origin/x.jpg``.
    """
    query = urlsplit(url).query
    if not query:
        return None
    whole = unquote(query)
    if ABSOLUTE_URL_RE.match(whole):
        return whole
    for name, value in parse_qsl(query):
        if name.lower() in PROXY_PARAMS and ABSOLUTE_URL_RE.match(value):
            return value
    return None


def origin_image_url(url: str) -> str:
    return unwrap_proxy(url) or url


# How much text on each side locates an image in the extracted article.
ANCHOR_CHARS = 24
MIN_ANCHOR_CHARS = 4
WHITESPACE_RE = re.compile(r"\s+")
SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})


@dataclass(frozen=True)
class ImageAnchor:
    """An image and the text around it in the page, to place it in the article."""

    url: str
    alt: str
    before: str  # whitespace-free text just before the image
    after: str  # whitespace-free text just after
    caption: str = ""  # its caption (see crawler.extract.captions)


def squash(text: str) -> str:
    return WHITESPACE_RE.sub("", text or "")


def _document_order(element: HtmlElement):
    """Text fragments and images in reading order (what _document_pieces computes faster)."""
    if not isinstance(element.tag, str) or element.tag in SKIPPED_TAGS:
        return
    if element.tag == "img":
        yield element
        return
    if element.tag == "figure":
        # A caption is not article text: the image is placed by what surrounds the figure.
        yield from element.iter("img")
        return
    if element.text:
        yield element.text
    for child in element:
        yield from _document_order(child)
        if child.tail:
            yield child.tail


# _document_order as one XPath, evaluated in C: the same text nodes and images
# in the same (document) order. A generator per element cost O(nodes x depth)
# in Python, about 2.5 ms of a portal page's extraction. Text is skipped inside
# script/style/noscript/template, figures and images; images inside the first
# four and inside images are skipped, and all the images of a figure count (its
# caption does not). Only the tags a page holds are tested: ancestor:: tests
# cost as much as all the rest.
_HAS_IMG_CONTENT = etree.XPath("boolean(.//img[node()])")


@lru_cache(maxsize=None)
def _order_xpath(tags: frozenset[str]) -> etree.XPath:
    skipped = [f"ancestor::{tag}" for tag in sorted(tags & SKIPPED_TAGS)]
    in_figure = ["ancestor::figure"] if "figure" in tags else []
    in_img = ["ancestor::img"] if "img" in tags else []

    def unless(tests: list[str]) -> str:
        return f"[not({' or '.join(tests)})]" if tests else ""

    outside = skipped + in_figure + in_img
    parts = [f".//text(){unless(outside)}", f".//img{unless(outside)}"]
    if in_figure:
        parts.append(f".//figure{unless(outside)}//img")
    return etree.XPath(" | ".join(parts), smart_strings=False)


def _document_pieces(tree: HtmlElement) -> list:
    """list(_document_order(tree)), for a tree that is neither skipped, an image nor a figure."""
    tags = {el.tag for el in tree.iter(*SKIPPED_TAGS, "figure") if el is not tree}
    if _HAS_IMG_CONTENT(tree):
        tags.add("img")
    return _order_xpath(frozenset(tags))(tree)


def image_anchors(tree: HtmlElement) -> list[ImageAnchor]:
    """Every <img> with the text that surrounds it (after resolve_lazy_images).

    An image's ``before`` is the end of the last text fragment before it with
    at least MIN_ANCHOR_CHARS non-space characters, its ``after`` the start of
    the first such fragment after it.
    """
    if not isinstance(tree.tag, str) or tree.tag in SKIPPED_TAGS or tree.tag in ("img", "figure"):
        return _image_anchors_reference(tree)
    if next(tree.iter("img"), None) is None:
        return []
    pieces = _document_pieces(tree)

    def anchor_text(index: int) -> str | None:
        """The fragment at index, squashed, when it is long enough to anchor an image."""
        piece = pieces[index]
        if not isinstance(piece, str):
            return None
        text = squash(piece)
        return text if len(text) >= MIN_ANCHOR_CHARS else None

    # Only the fragments next to images are squashed; each is looked at once at
    # most (back to the previous image, ahead to the first anchoring fragment).
    anchors: list[ImageAnchor] = []
    before, after, last_image, after_found_at = "", "", -1, -1
    for index, piece in enumerate(pieces):
        if isinstance(piece, str) or not piece.get("src"):
            continue
        for back in range(index - 1, last_image, -1):
            if (text := anchor_text(back)) is not None:
                before = text[-ANCHOR_CHARS:]
                break
        if index > after_found_at:  # else the fragment found for the previous image is the next one too
            after, after_found_at = "", len(pieces)
            for ahead in range(index + 1, len(pieces)):
                if (text := anchor_text(ahead)) is not None:
                    after, after_found_at = text[:ANCHOR_CHARS], ahead
                    break
        anchors.append(ImageAnchor(piece.get("src"), piece.get("alt", ""), before, after, image_caption(piece)))
        last_image = index
    return anchors


def _image_anchors_reference(tree: HtmlElement) -> list[ImageAnchor]:
    """image_anchors by walking _document_order (for trees the XPath does not cover)."""
    anchors: list[ImageAnchor] = []
    waiting: list[tuple[HtmlElement, str]] = []  # images still looking for the text after them
    previous = ""
    for piece in _document_order(tree):
        if not isinstance(piece, str):
            if piece.get("src"):
                waiting.append((piece, previous))
            continue
        text = squash(piece)
        if len(text) < MIN_ANCHOR_CHARS:
            continue
        anchors.extend(ImageAnchor(img.get("src"), img.get("alt", ""), before, text[:ANCHOR_CHARS], image_caption(img))
                       for img, before in waiting)
        waiting, previous = [], text[-ANCHOR_CHARS:]
    anchors.extend(ImageAnchor(img.get("src"), img.get("alt", ""), before, "", image_caption(img)) for img, before in waiting)
    return anchors
