"""An extracted article plus its mirrored images becomes a contract record."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape as html_escape, unescape
from typing import Any

from archive.fields import SCHEMA, article_id, content_sha256, one_line, utc_iso, without_controls
from crawler.extract.article import ExtractedArticle

IMAGE_FIELDS = ("url", "key", "sha256", "content_type", "bytes", "width", "height")
# Beyond the contract's image fields, present only when the image has one.
IMAGE_CAPTION_FIELD = "caption"
# A start tag of sanitised HTML: name="value" attributes, values double-quoted
# (a value may hold "<" and ">" with older nh3). Tags are matched left to
# right, so an "<img" inside an attribute value is never taken for a tag.
START_TAG_RE = re.compile(r'<(?P<name>[a-zA-Z][^\s/>]*)(?:\s+[^\s="\'>/]+(?:="[^"]*")?)*\s*/?>')
# The src attribute inside one start tag: values hold no '"', so no value can fake it.
SRC_ATTRIBUTE_RE = re.compile(r'(?<=\s)src="(?P<src>[^"]*)"')


def rewrite_image_sources(html: str, key_for_url: dict[str, str]) -> str:
    """Point each mirrored <img> at its archive key; unmirrored ones keep their origin.

    The HTML is ours, serialised by the sanitiser (attributes double-quoted,
    text escaped), so the src values are replaced in place and every other
    byte stays as it was: no second parse and serialisation per article.
    """
    if not html or not key_for_url:
        return html

    def replace_src(match: re.Match[str]) -> str:
        key = key_for_url.get(unescape(match["src"]))
        return f'src="{html_escape(key)}"' if key else match[0]

    def replace_tag(match: re.Match[str]) -> str:
        if match["name"].lower() != "img":
            return match[0]
        return SRC_ATTRIBUTE_RE.sub(replace_src, match[0], count=1)

    return START_TAG_RE.sub(replace_tag, html)


def article_record(
    article: ExtractedArticle,
    *,
    source: str,
    fetched: datetime,
    categories: list[str],
    images: list[dict[str, Any]] = (),
    capture: Any = None,
) -> dict[str, Any]:
    """The contract's record; ``images`` as the images pipeline stored them."""
    key_for_url: dict[str, str] = {}
    for image in images:
        key_for_url[image["url"]] = image["key"]
        key_for_url[image.get("source_url", image["url"])] = image["key"]
    text = without_controls(article.text)
    record = {
        "schema": SCHEMA,
        "id": article_id(article.canonical_url),
        "source": source,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": one_line(article.title),
        "authors": [name for name in map(one_line, article.authors) if name],
        "published": article.published,
        "fetched": utc_iso(fetched),
        "language": article.language,
        "categories": list(dict.fromkeys(name for name in map(one_line, [*categories, *article.categories]) if name)),
        "text": text,
        "html": without_controls(rewrite_image_sources(article.html, key_for_url)),
        "images": unique_image_entries(images, article.image_captions),
        "content_sha256": content_sha256(text),
    }
    if capture is not None:
        record["capture"] = {"warc": capture.warc, "offset": capture.offset, "length": capture.length}
    return record


def unique_image_entries(images: list[dict[str, Any]], captions: dict[str, str]) -> list[dict[str, Any]]:
    """The record's image entries: one per stored file (its key is its hash), or
    one per caption when the page shows that file under captions of their own.

    A bare copy of a captioned picture (a thumbnail, the same photo again lower
    down) is no entry of its own: the captioned one stands for the file. Each
    key's entries take the place of its first image, so the keys' order (what
    archive.writer.is_same_article compares) is the page's, as it was before
    captions were listed.
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    for image in images:
        entry = _image_entry(image, captions)
        by_key.setdefault(entry["key"], []).append(entry)
    unique: list[dict[str, Any]] = []
    for entries in by_key.values():
        by_caption: dict[str, dict[str, Any]] = {}
        for entry in entries:
            if caption := entry.get(IMAGE_CAPTION_FIELD):
                by_caption.setdefault(caption, entry)  # the first image shown under it
        unique += list(by_caption.values()) or entries[:1]  # bare copies: the first the page shows
    return unique


def _image_entry(image: dict[str, Any], captions: dict[str, str]) -> dict[str, Any]:
    """The record's entry of one stored image; its caption, found by the URL the page named it by."""
    entry = {f: image.get(f) for f in IMAGE_FIELDS}
    caption = captions.get(image.get("source_url", image["url"])) or captions.get(image["url"])
    if caption:
        entry[IMAGE_CAPTION_FIELD] = one_line(caption)
    return entry
