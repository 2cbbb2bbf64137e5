"""Exports: JSON Lines, and Hexo posts shaped like the seed ZAKER post."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Iterable

import lxml.html
from lxml import etree

from archive.catalog import CatalogEntry
from archive.store import ArchiveStore

EXPORT_IMAGES_DIR = "images"


def iter_records(store: ArchiveStore, entries: Iterable[CatalogEntry]) -> Iterable[dict]:
    for entry in entries:
        yield json.loads(store.get(entry.key))


def export_jsonl(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> int:
    output.mkdir(parents=True, exist_ok=True)
    count = 0
    with (output / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for record in iter_records(store, entries):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _yaml_string(value: str) -> str:
    """A single-quoted YAML scalar, as the seed post writes its title."""
    return "'" + value.replace("'", "''").replace("\n", " ") + "'"


def _copy_image(store: ArchiveStore, key: str, output: Path) -> str:
    """Copy one mirrored image into the export; return its path relative to the posts."""
    target = output / key  # keys start with images/, hash-named: safe as paths
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
    return key


def hexo_post(record: dict, image_paths: dict[str, str]) -> str:
    """Front matter (title, categories, headimg, author, comments, date, thumbnail) then the body HTML."""
    first_image = image_paths.get(record["images"][0]["key"]) if record.get("images") else None
    published = record.get("published") or record["fetched"]
    date = format_datetime(datetime.fromisoformat(published), usegmt=True)
    categories = list(dict.fromkeys([*record.get("categories", []), record["source"]]))
    author = ", ".join(record.get("authors") or []) or record["source"]
    lines = ["---", f"title: {_yaml_string(record['title'])}", "categories: "]
    lines += [f" - {_yaml_string(c) if ':' in c or c.startswith(('-', '[', '{', '&', '*', '!', '|', '>', '%', '@')) else c}" for c in categories]
    if first_image:
        lines.append(f"headimg: {_yaml_string(first_image)}")
    lines += [f"author: {author}", "comments: false", f"date: {date}"]
    if first_image:
        lines.append(f"thumbnail: {_yaml_string(first_image)}")
    lines += ["---", "", "<div>", _rewrite_sources(record["html"], image_paths), "</div>", ""]
    return "\n".join(lines)


def _rewrite_sources(html: str, image_paths: dict[str, str]) -> str:
    if not html:
        return ""
    fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    for img in fragment.iter("img"):
        if img.get("src") in image_paths:
            img.set("src", image_paths[img.get("src")])
    inner = etree.tostring(fragment, encoding="unicode", method="html")
    return inner[len("<div>"): -len("</div>")]


def export_hexo(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> int:
    """One Markdown post per article; images copied beside them and linked relatively."""
    posts = output / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    count = 0
    for record in iter_records(store, entries):
        image_paths = {image["key"]: "../" + _copy_image(store, image["key"], output) for image in record.get("images") or []}
        (posts / f"{record['id']}.md").write_text(hexo_post(record, image_paths), encoding="utf-8")
        count += 1
    return count


def export_warc(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> int:
    """The WARC files (and their CDXJ indexes) holding the captures of the selected articles."""
    from archive.warc import cdxj_key

    output.mkdir(parents=True, exist_ok=True)
    files: set[str] = set()
    for record in iter_records(store, entries):
        if record.get("capture"):
            files.add(record["capture"]["warc"])
    for key in sorted(files):
        for name in (key, cdxj_key(key)):
            target = output / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.get(name))
    return len(files)
