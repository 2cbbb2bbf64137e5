"""The stored article HTML, its images pointed somewhere else (the web page, an export).

A record's ``html`` names mirrored images by their archive key
(``images/ab/cd/<sha256>.jpg``); an image the crawl could not mirror keeps
its origin URL. Readers of the archive must not fetch from the origin (nor
from any proxy), so such an image becomes a plain link to where it was.
"""

from __future__ import annotations

from typing import Callable, Mapping

import lxml.html
from lxml import etree

UNARCHIVED_CLASS = "unarchived-image"
DROPPED_IMG_ATTRIBUTES = ("srcset", "sizes", "data-src", "data-original", "data-srcset", "loading")


def rewrite_images(html: str, archived: Callable[[str], str | None], origins: Mapping[str, str] | None = None) -> str:
    """Each ``<img>``: ``archived(src)`` gives its new ``src``; None means it was not archived.

    Not archived: replaced by a link to its origin (an http(s) URL) labelled
    with its alt text, or dropped when it has no usable URL. ``origins``
    (archive key -> origin URL, a record's ``images``) gives the origin of
    an image the record names by key but the reader has no copy of.
    """
    if not html:
        return ""
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    for img in list(fragment.iter("img")):
        for name in DROPPED_IMG_ATTRIBUTES:
            img.attrib.pop(name, None)
        src = (img.get("src") or "").strip()
        target = archived(src) if src else None
        if target is not None:
            img.set("src", target)
            continue
        parent = img.getparent()
        origin = (origins or {}).get(src, src).strip()
        if origin.lower().startswith(("http://", "https://")):
            link = etree.Element("a", {"class": UNARCHIVED_CLASS, "href": origin, "rel": "noopener noreferrer nofollow"})
            link.text = f"[image not archived{': ' + img.get('alt') if img.get('alt') else ''}]"
            link.tail = img.tail
            parent.replace(img, link)
        else:
            _drop_keeping_tail(img)
    inner = etree.tostring(fragment, encoding="unicode", method="html")
    return inner[len("<div>"): -len("</div>")]


def _drop_keeping_tail(element) -> None:
    parent = element.getparent()
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)
