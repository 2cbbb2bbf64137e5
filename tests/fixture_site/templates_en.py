"""English article pages: a typical US/UK news layout with a newsletter box,
share buttons, related stories, a most-read rail and a footer."""

from __future__ import annotations

from . import chrome
from .catalog import hot_list, related_articles
from .model import ExpectedArticle
from .templates_common import attr, body_plain, e, json_ld, meta_published, og_tags


def _names(article: ExpectedArticle) -> str:
    names = [f'<a rel="author" href="/en/?author={n}">{e(name)}</a>' for n, name in enumerate(article.authors)]
    return " and ".join(names)


def _us_date(article: ExpectedArticle) -> str:
    """March 15, 2021, 7:30 a.m. ET -- zone as a label only; the offset is in datetime=."""
    moment = article.published
    hour = moment.hour % 12 or 12
    meridiem = "a.m." if moment.hour < 12 else "p.m."
    return f"{moment:%B} {moment.day}, {moment.year}, {hour}:{moment:%M} {meridiem} ET"


def _byline(article: ExpectedArticle) -> str:
    iso = article.published.isoformat()
    if article.byline_style == "us":
        return (f'<div class="byline">By {_names(article)} <span class="sep">|</span> '
                f'<time datetime="{iso}">{_us_date(article)}</time></div>')
    updated = ""
    if article.modified:
        modified = article.modified
        updated = (f' · Updated <time datetime="{modified.isoformat()}">'
                   f"{modified.day} {modified:%B %Y}</time>")
    published = article.published
    return (f'<div class="byline">By {_names(article)} · Published <time datetime="{iso}">'
            f"{published.day} {published:%B %Y}</time>{updated}</div>")


def _newsletter() -> str:
    return f"""<aside class="newsletter-signup">
<h3>{chrome.EN_NEWSLETTER_HEADING}</h3>
<p>{chrome.EN_NEWSLETTER_TEXT}</p>
<form action="/en/?newsletter=1" method="post"><input type="email" name="email" placeholder="{chrome.EN_NEWSLETTER_PLACEHOLDER}">
<button type="submit">{chrome.EN_NEWSLETTER_BUTTON}</button></form>
</aside>"""


def english_page(article: ExpectedArticle, base: str) -> str:
    nav = "".join(f'<li><a href="/en/?section={n}">{label}</a></li>' for n, label in enumerate(chrome.EN_NAV))
    account = "".join(f'<a class="account" href="/en/?account={n}">{t}</a>' for n, t in enumerate(chrome.EN_ACCOUNT_LINKS))
    share = "".join(f'<li><a href="javascript:;">{t}</a></li>' for t in chrome.EN_SHARE)
    related = "\n".join(f'<li><a href="{a.path}"><h4>{e(a.title)}</h4></a></li>' for a in related_articles(article))
    most_read = "\n".join(f'<li><a href="{a.path}">{e(a.title)}</a></li>' for a in hot_list(article))
    footer = "".join(f"<li>{e(line)}</li>" for line in chrome.EN_FOOTER_LINES)
    extra_meta = "\n".join(filter(None, [meta_published(article), json_ld(article, base, chrome.EN_SITE_NAME)]))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(article.title)}{chrome.EN_TITLE_SEPARATOR}{chrome.EN_SITE_NAME}</title>
<meta name="description" content="{attr(article.paragraphs[0][:150])}">
<link rel="canonical" href="{article.url(base)}">
{og_tags(article, base, chrome.EN_SITE_NAME)}
<meta name="twitter:card" content="summary_large_image">
{extra_meta}
<link rel="stylesheet" href="/static/site.css">
</head>
<body class="article-page">
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
<a class="logo" href="/en/"><img src="/static/logo.png" alt="{chrome.EN_SITE_NAME}" width="200" height="60"></a>
<nav aria-label="Sections"><ul>{nav}</ul></nav>
<div class="account-links">{account}</div>
</header>
<main id="main">
<article class="story">
<header class="story-header">
<a class="kicker" href="/en/?section={attr(article.section)}">{e(article.section)}</a>
<h1>{e(article.title)}</h1>
{_byline(article)}
<ul class="share-tools">{share}</ul>
</header>
<div class="story-body">
{body_plain(article, base)}
</div>
</article>
{_newsletter()}
<section class="related"><h3>{chrome.EN_RELATED_HEADING}</h3><ul>
{related}
</ul></section>
</main>
<aside class="rail"><h3>{chrome.EN_MOST_READ_HEADING}</h3><ol>
{most_read}
</ol></aside>
<footer class="site-footer"><ul>{footer}</ul></footer>
<script src="/static/lazyload.js"></script>
</body>
</html>
"""
