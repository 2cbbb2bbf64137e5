"""Dataclasses of the catalog: what an article is made of and what a crawler
should get out of it.

An :class:`ExpectedArticle` is declared once (in ``articles_zh`` /
``articles_en``) and everything else is derived from it: the page HTML, the
feed items, the sitemap entries, and the expected extraction fields tests
compare against. Fields filled by ``catalog.finalize`` (boilerplate, related
titles) depend on the other articles and are empty until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from .images import IMAGES, image_sha256

DATA_DIR = Path(__file__).resolve().parent / "data"
COMMENT_PREFIX = "%"  # provenance lines at the top of data files
HEADING_PREFIXES = {"## ": "h2", "### ": "h3"}


class Markup(str, Enum):
    """How a page points at an image (what the crawler must see through)."""

    PLACEHOLDER_LAZY = "placeholder-lazy"  # src=/static/placeholder.gif, data-original=absolute URL
    PROXY_LAZY = "proxy-lazy"  # ZAKER: data-original=absolute URL, src=CORS proxy of it
    DATA_SRC = "data-src"  # lazysizes: data-src=absolute URL, src=inline data: GIF
    SRCSET = "srcset"  # src=smallest, srcset lists every width; the widest is the real one
    SRC = "src"  # plain src, root-relative path
    ABS_SRC = "abs-src"  # plain src, absolute URL


@dataclass(frozen=True)
class Figure:
    image: str  # key in images.IMAGES of the image a reader sees
    markup: Markup
    alt: str = ""
    caption: str = ""  # rendered as <figcaption> on English pages; optional text
    srcset: tuple[str, ...] = ()  # image keys of every candidate, narrowest first


@dataclass(frozen=True)
class Block:
    kind: str  # "p", "h2", "h3" or "figure"
    text: str = ""
    figure: Figure | None = None


@dataclass(frozen=True)
class Comment:
    user: str
    text: str
    time: str  # as displayed, local time


@dataclass(frozen=True)
class ExpectedImage:
    """One body image as the archive should hold it (the origin, not a proxy)."""

    key: str
    path: str
    width: int | None
    height: int | None
    content_type: str | None
    sha256: str | None
    missing: bool

    def url(self, base: str) -> str:
        return base + self.path

    def as_dict(self, base: str) -> dict:
        return {
            "url": self.url(base), "path": self.path, "sha256": self.sha256, "width": self.width,
            "height": self.height, "content_type": self.content_type, "missing": self.missing,
        }


def expected_image(key: str) -> ExpectedImage:
    spec = IMAGES[key]
    if spec.missing:
        return ExpectedImage(key, spec.path, None, None, None, None, True)
    return ExpectedImage(key, spec.path, spec.width, spec.height, spec.content_type, image_sha256(key), False)


def load_blocks(name: str, figures: dict[int, Figure] | None = None) -> tuple[Block, ...]:
    """Paragraph/heading blocks of a data file, figures inserted before the
    block at the given index (index into the file's text lines)."""
    figures = figures or {}
    lines = [
        line.strip() for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(COMMENT_PREFIX)
    ]
    blocks: list[Block] = []
    for index, line in enumerate(lines):
        if index in figures:
            blocks.append(Block("figure", figure=figures[index]))
        kind = next((tag for prefix, tag in HEADING_PREFIXES.items() if line.startswith(prefix)), "p")
        text = line.split(" ", 1)[1] if kind != "p" else line
        blocks.append(Block(kind, text))
    if len(lines) in figures:  # a figure after the last paragraph
        blocks.append(Block("figure", figure=figures[len(lines)]))
    return tuple(blocks)


@dataclass
class ExpectedArticle:
    """An article of the site and the fields a crawler should extract from it."""

    key: str
    path: str
    title: str
    language: str  # "zh" or "en"
    blocks: tuple[Block, ...]
    published: datetime | None  # aware; the page may show it naive (local time)
    layout: str  # page template: "portal", "gbk", "en" or "shell" (JS-only page)
    section: str = ""
    authors: tuple[str, ...] = ()  # byline authors only, never editors
    editors: tuple[str, ...] = ()  # shown in a 责编 line; must NOT end up as authors
    modified: datetime | None = None
    charset: str = "utf-8"  # how the page bytes are encoded
    declared_charset: str = ""  # what its <meta> claims, when that differs (gb2312 for gbk bytes)
    body_style: str = "p"  # "p" (<p> per paragraph) or "zaker" (bare text after image boxes)
    byline_style: str = ""  # see templates_zh.BYLINES / templates_en
    source_name: str = ""  # 来源：...
    subtitle: str = ""
    body_byline: tuple[str, str] | None = None  # (prefix, separator): 本报记者 王静 as first body line
    credit: str = ""  # trailing credit line: (肖玥 王思洋) / (…供稿)
    editor_line: str = ""  # format string with {editors}: ( 责编：{editors} )
    meta_published: bool = False  # <meta property="article:published_time">
    json_ld: bool = False  # <script type="application/ld+json"> NewsArticle
    heading_style: str = "tag"  # "tag" (<h2>/<h3>) or "strong" (<p><strong>)
    feed_categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # names in FEEDS / SITEMAPS that list this article
    listing_query: dict[str, str] = field(default_factory=dict)  # source -> query its link carries
    related: tuple[str, ...] = ()  # keys of the articles in its 相关新闻 / related list
    feed_body_only: bool = False  # the page is a JS shell: only the feed has the text
    stale: bool = False  # only in the sitemap with an old lastmod; a lastmod filter skips it

    # --- derived -------------------------------------------------------
    paragraphs: list[str] = field(init=False)
    headings: list[str] = field(init=False)
    published_utc: str | None = field(init=False)
    images: list[ExpectedImage] = field(init=False)
    optional_text: list[str] = field(init=False)
    boilerplate: list[str] = field(init=False, default_factory=list)  # catalog.finalize
    boilerplate_images: list[str] = field(init=False, default_factory=list)  # catalog.finalize
    comments: list[Comment] = field(init=False, default_factory=list)  # catalog.finalize

    def __post_init__(self) -> None:
        self.paragraphs = [b.text for b in self.blocks if b.kind != "figure"]
        self.headings = [b.text for b in self.blocks if b.kind in ("h2", "h3")]
        self.published_utc = self.published.astimezone(timezone.utc).isoformat() if self.published else None
        seen: dict[str, ExpectedImage] = {}
        for figure in self.figures:
            seen.setdefault(figure.image, expected_image(figure.image))
        self.images = list(seen.values())
        # Text a good extractor may keep or drop: neither required nor forbidden.
        optional = [self.title, self.subtitle, self.credit, self.body_byline_text]
        optional += [self.editor_line.format(editors="、".join(self.editors))] if self.editor_line else []
        optional += [f.alt for f in self.figures] + [f.caption for f in self.figures]
        if self.layout == "en":  # the section kicker sits right above the headline
            optional.append(self.section)
        self.optional_text = [text for text in optional if text]

    @property
    def figures(self) -> list[Figure]:
        return [b.figure for b in self.blocks if b.figure is not None]

    @property
    def body_byline_text(self) -> str:
        if not self.body_byline:
            return ""
        prefix, separator = self.body_byline
        return prefix + separator + separator.join(self.authors)

    @property
    def text(self) -> str:
        """The body as plain text, one paragraph per line."""
        return "\n".join(self.paragraphs)

    def url(self, base: str) -> str:
        """The canonical URL (what the page's rel=canonical names)."""
        return base + self.path

    def listed_url(self, source: str, base: str) -> str:
        """The URL as the given feed/sitemap lists it (maybe with tracking params)."""
        query = self.listing_query.get(source)
        return f"{self.url(base)}?{query}" if query else self.url(base)

    def image_dicts(self, base: str) -> list[dict]:
        return [image.as_dict(base) for image in self.images]
