"""The page's language as a BCP 47 tag."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

LANGUAGE_TAG_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
# py3langid is reliable on this much text; more only costs time.
DETECT_SAMPLE_CHARS = 3000
UNDETERMINED = "und"


def _clean_tag(value: str | None) -> str | None:
    value = (value or "").strip().split(",")[0].strip()
    if not LANGUAGE_TAG_RE.match(value):
        return None
    return value.replace("_", "-")


def page_language(tree: HtmlElement, fallback: str | None = None) -> str | None:
    """The declared tag, region kept (zh-CN): <html lang>, then meta, then the feed's."""
    candidates = [
        tree.get("lang"),
        tree.get("xml:lang"),
        *tree.xpath("//meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')='content-language']/@content"),
        *tree.xpath("//meta[@property='og:locale']/@content"),
        fallback,
    ]
    for candidate in candidates:
        if tag := _clean_tag(candidate):
            return tag
    return None


def text_language(text: str) -> str:
    """Detected from the text itself when nothing is declared."""
    sample = text[:DETECT_SAMPLE_CHARS].strip()
    if not sample:
        return UNDETERMINED
    import py3langid  # loads its model on first use, not at import of this module

    language, _score = py3langid.classify(sample)
    return language or UNDETERMINED
