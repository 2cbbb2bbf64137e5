"""Rendering shared by every page template: image markup, article bodies,
JSON-LD. Everything takes ``base`` (the site's real origin) because absolute
URLs are only known once the server has its port.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape

from .images import IMAGES, PLACEHOLDER_DATA_URI, PLACEHOLDER_PATH
from .model import Block, ExpectedArticle, Figure, Markup

# The seed's ZAKER pages load images through a CORS proxy; ours is local.
CORS_PROXY_PATH = "/cors/"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


def e(text: str) -> str:
    """HTML-escape a text node (quotes stay literal, as editors typed them)."""
    return escape(text, quote=False)


def attr(value: str) -> str:
    """HTML-escape an attribute value."""
    return escape(value, quote=True)


def abs_url(base: str, key: str) -> str:
    return base + IMAGES[key].path


def img_tag(figure: Figure, base: str, index: int) -> str:
    """The <img> as the page writes it, per the figure's markup style."""
    spec = IMAGES[figure.image]
    real = abs_url(base, figure.image)
    alt = attr(figure.alt)
    if figure.markup is Markup.PLACEHOLDER_LAZY:
        return f'<img class="lazy" src="{PLACEHOLDER_PATH}" data-original="{real}" alt="{alt}">'
    if figure.markup is Markup.PROXY_LAZY:
        # Verbatim ZAKER markup (seed 000), the proxy pointing back at this site.
        return (
            f'<img class="lazy opacity_0 " id="img_{index}" data-original="{real}" data-height="{spec.height}"'
            f' data-width="{spec.width}" src="{base}{CORS_PROXY_PATH}?{real}" referrerpolicy="no-referrer">'
        )
    if figure.markup is Markup.DATA_SRC:
        return f'<img class="lazyload" src="{PLACEHOLDER_DATA_URI}" data-src="{real}" alt="{alt}">'
    if figure.markup is Markup.SRCSET:
        candidates = ", ".join(f"{abs_url(base, key)} {IMAGES[key].width}w" for key in figure.srcset)
        smallest = abs_url(base, figure.srcset[0])
        return (
            f'<img src="{smallest}" srcset="{candidates}" sizes="(max-width: 640px) 100vw, 640px"'
            f' alt="{alt}" loading="lazy">'
        )
    if figure.markup is Markup.SRC:
        return f'<img src="{spec.path}" alt="{alt}" width="{spec.width}" height="{spec.height}">'
    return f'<img src="{real}" alt="{alt}">'


def zaker_box(tag: str, index: int) -> str:
    return (
        f'<div class="img_box" id="id_imagebox_{index}" onclick>'
        f'<div class="content_img_div perview_img_div">{tag}</div></div>'
    )


def heading(block: Block, style: str) -> str:
    if style == "strong":
        return f'<p style="text-align: center;"><strong>{e(block.text)}</strong></p>'
    return f"<{block.kind}>{e(block.text)}</{block.kind}>"


def body_zh(article: ExpectedArticle, base: str, indent: str = "") -> str:
    """A Chinese article body; ``indent`` prefixes paragraphs (old sites: 　　)."""
    parts: list[str] = []
    if article.body_byline:
        parts.append(f"<p>{e(article.body_byline_text)}</p>")
    previous = ""
    figures = 0
    for block in article.blocks:
        if block.kind == "figure":
            tag = img_tag(block.figure, base, figures)
            if article.body_style == "zaker":
                parts.append("<p></p>" + zaker_box(tag, figures))
            else:
                parts.append(f'<p style="text-align: center;">{tag}</p>')
            figures += 1
        elif block.kind == "p" and article.body_style == "zaker" and previous == "figure":
            # ZAKER leaves the paragraph after an image box as a bare text node.
            parts.append(e(block.text) + "<p></p>")
        elif block.kind == "p":
            parts.append(f"<p>{indent}{e(block.text)}</p>")
        else:
            parts.append(heading(block, article.heading_style))
        previous = block.kind
    if article.credit:
        parts.append(f'<p style="text-align: right;">{e(article.credit)}</p>')
    return "\n".join(parts)


def body_plain(article: ExpectedArticle, base: str) -> str:
    """Body for feeds and English pages: <p>, <h2>, <figure> with absolute URLs."""
    parts: list[str] = []
    for index, block in enumerate(article.blocks):
        if block.kind == "figure":
            caption = f"<figcaption>{e(block.figure.caption)}</figcaption>" if block.figure.caption else ""
            parts.append(f"<figure>{img_tag(block.figure, base, index)}{caption}</figure>")
        elif block.kind == "p":
            parts.append(f"<p>{e(block.text)}</p>")
        else:
            parts.append(f"<{block.kind}>{e(block.text)}</{block.kind}>")
    if article.credit:
        parts.append(f"<p>{e(article.credit)}</p>")
    return "\n".join(parts)


def summary(article: ExpectedArticle, limit: int = 80) -> str:
    """The first paragraph (not a heading), cut to ``limit`` characters."""
    first = next(b.text for b in article.blocks if b.kind == "p")
    return first if len(first) <= limit else first[:limit].rstrip() + "…"


def json_ld(article: ExpectedArticle, base: str, publisher: str) -> str:
    """A schema.org NewsArticle block (only for articles that declare one)."""
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": article.url(base)},
        "headline": article.title,
        "datePublished": article.published.isoformat() if article.published else None,
        "author": [{"@type": "Person", "name": name} for name in article.authors],
        "publisher": {"@type": "Organization", "name": publisher,
                      "logo": {"@type": "ImageObject", "url": base + "/static/logo.png"}},
        "image": [image.url(base) for image in article.images if not image.missing],
        "inLanguage": article.language,
    }
    if article.modified:
        data["dateModified"] = article.modified.isoformat()
    text = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def meta_published(article: ExpectedArticle) -> str:
    if not (article.meta_published and article.published):
        return ""
    tags = f'<meta property="article:published_time" content="{article.published.isoformat()}">'
    if article.modified:
        tags += f'\n<meta property="article:modified_time" content="{article.modified.isoformat()}">'
    return tags


def og_tags(article: ExpectedArticle, base: str, site_name: str) -> str:
    images = [image for image in article.images if not image.missing]
    tags = [
        '<meta property="og:type" content="article">',
        f'<meta property="og:site_name" content="{attr(site_name)}">',
        f'<meta property="og:title" content="{attr(article.title)}">',
        f'<meta property="og:url" content="{article.url(base)}">',
    ]
    if images:
        tags.append(f'<meta property="og:image" content="{images[0].url(base)}">')
    return "\n".join(tags)


def local_time(moment: datetime | None, fmt: str = LOCAL_FORMAT) -> str:
    """The naive wall-clock form a page shows (in the moment's own zone)."""
    return moment.strftime(fmt) if moment else ""
