"""Exports: JSON Lines, and Hexo posts shaped like the seed ZAKER post."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterable, NamedTuple

import yaml

from archive.catalog import CatalogEntry
from archive.html import rewrite_images
from archive.keys import IMAGES_PREFIX, BadKey, article_key, check_key
from archive.fields import one_line
from archive.records import load_record, why_invalid
from archive.store import ArchiveStore, KeyNotFound

logger = logging.getLogger(__name__)

EXPORT_IMAGES_DIR = "images"
# YAML 1.2's numbers (its core schema, with the underscores js-yaml also
# takes). PyYAML reads YAML 1.1, where "1e3" and "0o17" are strings; Hexo
# reads front matter with js-yaml, where they are 1000 and 15.
YAML12_INT_RE = re.compile(r"^[-+]?(?:[0-9][0-9_]*|0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+)$")
YAML12_FLOAT_RE = re.compile(r"^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
                             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


class FrontMatterDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, which quotes a string that would read back as another type, taught YAML 1.2's numbers.

    YAML 1.2's booleans, nulls and timestamps are among YAML 1.1's already.
    """


FrontMatterDumper.add_implicit_resolver("tag:yaml.org,2002:int", YAML12_INT_RE, list("-+0123456789"))
FrontMatterDumper.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_FLOAT_RE, list("-+0123456789."))


class Exported(NamedTuple):
    written: int  # articles, or WARC files
    skipped: int  # records missing or damaged, WARC files missing: the export is partial


def _why_unreadable(exc: Exception) -> str:
    return "missing" if isinstance(exc, KeyNotFound) else f"damaged: {why_invalid(exc)}"


def iter_records(store: ArchiveStore, entries: Iterable[CatalogEntry], skipped: list[str]) -> Iterable[dict]:
    """The records the entries name; a missing or damaged one is skipped with a warning and its key added to ``skipped``."""
    for entry in entries:
        try:
            data = store.get(entry.key)
            record = load_record(data)  # schema-valid (ids and keys safe to use as file names)
            article_key(record.id)
        except (KeyNotFound, ValueError) as exc:  # pydantic's ValidationError and BadKey are ValueErrors
            logger.warning("skipping %s: %s", entry.key, _why_unreadable(exc))
            skipped.append(entry.key)
            continue
        yield json.loads(data)


def export_jsonl(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> Exported:
    output.mkdir(parents=True, exist_ok=True)
    count, skipped = 0, []
    with (output / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for record in iter_records(store, entries, skipped):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return Exported(count, len(skipped))


def _yaml_string(value: str) -> str:
    """A single-quoted YAML scalar, as the seed post writes its title."""
    return "'" + " ".join(value.split("\n")).replace("'", "''") + "'"


def _yaml_scalar(value: str) -> str:
    """Plain as in the seed (``- 新媒体``, ``author: ZAKER``) when YAML 1.1 and 1.2 readers alike take it
    for that string, else quoted (``'1e3'``, ``'true'``, ``'2024-01-01'``): the dumper's own choice."""
    item = yaml.dump([one_line(value)], Dumper=FrontMatterDumper, allow_unicode=True, width=sys.maxsize)
    return item.removeprefix("- ").removesuffix("\n")


def _copy_image(store: ArchiveStore, key: str, sha256: str, output: Path) -> str:
    """Copy one mirrored image into the export; return its path relative to the export root.

    A copy already there is kept when it has the image's hash (images are
    shared between posts, and exports repeated); a damaged one (an export
    killed mid-write) is written again, through a temp file.
    """
    check_key(key)
    if not key.startswith(IMAGES_PREFIX):
        raise BadKey(f"image key {key!r} is not under {IMAGES_PREFIX}")
    target = output.joinpath(*key.split("/"))  # keys are hash-named under images/: safe as paths
    try:
        if hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
            return key
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_bytes(store.get(key))
    os.replace(temp, target)
    return key


def rfc2822_gmt(instant: str) -> str:
    """``Tue, 26 Oct 2021 22:06:31 GMT``, as the seed's ``date``."""
    moment = datetime.fromisoformat(instant)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


def hexo_post(record: dict, image_paths: dict[str, str]) -> str:
    """Front matter (title, categories, headimg, author, comments, date, thumbnail; disableNunjucks) then the body HTML.

    ``image_paths``: archive key -> where the post finds the copy (relative).
    """
    first_image = next((image_paths[i["key"]] for i in record.get("images") or [] if i.get("key") in image_paths), None)
    date = rfc2822_gmt(record.get("published") or record["fetched"])
    categories = list(dict.fromkeys([*record.get("categories", []), record["source"]]))
    author = ", ".join(record.get("authors") or []) or record["source"]
    lines = ["---", f"title: {_yaml_string(record['title'])}", "categories: "]
    lines += [f" - {_yaml_scalar(c)}" for c in categories]
    if first_image:
        lines.append(f"headimg: {_yaml_string(first_image)}")
    lines += [f"author: {_yaml_scalar(author)}", "comments: false", f"date: {date}"]
    if first_image:
        lines.append(f"thumbnail: {_yaml_string(first_image)}")
    # Hexo runs a post's body through Nunjucks, which is no sandbox: a crawled
    # page's "{{ ... }}" would run code on the machine that builds the site.
    lines.append("disableNunjucks: true")
    # An image missing from the archive (verify reports it) is a link to where it came from, not lost.
    origins = {image["key"]: image["url"] for image in record.get("images") or []}
    body = rewrite_images(record.get("html") or "", image_paths.get, origins)
    # One line: Markdown ends an HTML block at a blank line and reads what
    # follows as Markdown ("[x](javascript:...)" in a <pre> would become a link).
    # &#10; is the same newline to HTML.
    body = body.replace("\r", "&#13;").replace("\n", "&#10;")
    lines += ["---", "", "<div>", body, "</div>", ""]
    return "\n".join(lines)


def export_hexo(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> Exported:
    """One Markdown post per article; images copied beside them.

    ``output`` is meant as a Hexo site's ``source/``: Hexo publishes
    ``source/images/`` at ``/images/`` and a post at its permalink
    (``/2021/10/26/<id>/``), so images are linked from the site's root. A
    path relative to ``_posts/`` resolved only from the Markdown file.
    """
    posts = output / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    count, skipped = 0, []
    for record in iter_records(store, entries, skipped):
        image_paths = {}
        for image in record.get("images") or []:
            try:
                image_paths[image["key"]] = "/" + _copy_image(store, image["key"], image.get("sha256") or "", output)
            except (KeyNotFound, BadKey) as exc:
                logger.warning("%s: image %s not exported, linked to its origin %s: %s", record["id"], image["key"], image["url"], exc)
        (posts / f"{record['id']}.md").write_text(hexo_post(record, image_paths), encoding="utf-8")
        count += 1
    return Exported(count, len(skipped))


def export_warc(store: ArchiveStore, entries: Iterable[CatalogEntry], output: Path) -> Exported:
    """The WARC files (and their CDXJ indexes) holding the captures of the selected articles.

    Whole files: a file also holds the other captures of the run that fetched
    an article (other sources' pages too, when that run crawled several).
    """
    from archive.warc import WARC_PREFIX, cdxj_key

    output.mkdir(parents=True, exist_ok=True)
    files: set[str] = set()
    skipped: list[str] = []
    for record in iter_records(store, entries, skipped):
        if record.get("capture"):
            files.add(record["capture"]["warc"])
    copied = 0
    for key in sorted(files):
        try:
            if not check_key(key).startswith(WARC_PREFIX):
                raise BadKey(f"{key!r} is not under {WARC_PREFIX}")
            names = [key, cdxj_key(key)]
            for name in names:
                target = output.joinpath(*name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_bytes(store.get(name))
                except KeyNotFound:
                    if name == key:
                        raise
                    logger.warning("%s has no CDXJ index at %s", key, name)
        except (KeyNotFound, BadKey) as exc:
            logger.warning("WARC file %s not exported: %s", key, exc)
            skipped.append(key)
            continue
        copied += 1
    return Exported(copied, len(skipped))
