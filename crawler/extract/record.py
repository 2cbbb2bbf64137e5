"""An extracted article plus its mirrored images becomes a contract record."""

from __future__ import annotations

from datetime import datetime
from html import escape as html_escape
from typing import Any

import lxml.html
from lxml import etree

from archive.records import SCHEMA, article_id, content_sha256, utc_iso
from crawler.extract.core import ExtractedArticle

IMAGE_FIELDS = ("url", "key", "sha256", "content_type", "bytes", "width", "height")


def rewrite_image_sources(html: str, key_for_url: dict[str, str]) -> str:
    """Point each mirrored <img> at its archive key; unmirrored ones keep their origin."""
    if not html or not key_for_url:
        return html
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    for img in fragment.iter("img"):
        key = key_for_url.get(img.get("src", ""))
        if key:
            img.set("src", key)
    return "".join(
        # The leading text comes back unescaped from lxml: escape it again, or
        # an escaped "&lt;script&gt;" in safe HTML would turn into a real tag.
        ([html_escape(fragment.text, quote=False)] if fragment.text else [])
        + [etree.tostring(child, encoding="unicode", method="html") for child in fragment]
    )


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
    unique_images = list({image["key"]: {f: image.get(f) for f in IMAGE_FIELDS} for image in images}.values())
    record = {
        "schema": SCHEMA,
        "id": article_id(article.canonical_url),
        "source": source,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "authors": list(article.authors),
        "published": article.published,
        "fetched": utc_iso(fetched),
        "language": article.language,
        "categories": list(dict.fromkeys([*categories, *article.categories])),
        "text": article.text,
        "html": rewrite_image_sources(article.html, key_for_url),
        "images": unique_images,
        "content_sha256": content_sha256(article.text),
    }
    if capture is not None:
        record["capture"] = {"warc": capture.warc, "offset": capture.offset, "length": capture.length}
    return record
