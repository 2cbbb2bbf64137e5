"""Chinese article pages: a modern UTF-8 portal layout and an old GBK table
layout, both with the furniture real portals carry (nav, breadcrumbs, share
bar, related links, comments, footer)."""

from __future__ import annotations

from collections.abc import Callable

from . import chrome
from .catalog import hot_list, related_articles
from .model import ExpectedArticle
from .templates_common import attr, body_zh, e, json_ld, local_time, meta_published, og_tags

NBSP2 = "&nbsp;&nbsp;"
FULLWIDTH_INDENT = "\u3000\u3000"  # old sites indent paragraphs with two ideographic spaces


def _authors(article: ExpectedArticle, separator: str = "、") -> str:
    return separator.join(article.authors)


def _with_author(parts: list[str], article: ExpectedArticle, separator: str = "、") -> list[str]:
    return parts + [f"作者：{_authors(article, separator)}"] if article.authors and not article.body_byline else parts


# Byline styles seen on Chinese portals. Only the "renmin", "dash" and
# "gbk_table" forms carry the 作者 label; body-byline articles name their
# authors in the first body line instead.
BYLINES: dict[str, Callable[[ExpectedArticle], str]] = {
    "renmin": lambda a: NBSP2.join(_with_author([f"来源：{e(a.source_name)}"], a)
                                   + [f"发布时间：{local_time(a.published)}"]),
    "dash": lambda a: " | ".join([local_time(a.published), *_with_author([f"来源：{e(a.source_name)}"], a)]),
    "date_label": lambda a: NBSP2.join([f"发布时间：{local_time(a.published, '%Y-%m-%d')}",
                                        f"来源：{e(a.source_name)}"]),
    "zh_date_first": lambda a: NBSP2.join([local_time(a.published, "%Y年%m月%d日 %H:%M"),
                                           f"来源：{e(a.source_name)}"]),
    "gbk_table": lambda a: NBSP2.join([f"发布时间：{local_time(a.published, '%Y-%m-%d %H:%M')}",
                                       *_with_author([f"来源：{e(a.source_name)}"], a, " "),
                                       chrome.ZH_FONT_SIZE]),
}


def _nav() -> str:
    items = "".join(
        f'<li><a href="/{"?channel=" + slug if slug else ""}">{e(label)}</a></li>' for label, slug in chrome.ZH_NAV
    )
    return f'<nav class="main-nav"><ul>{items}</ul></nav>'


def _related(article: ExpectedArticle) -> str:
    items = "\n".join(
        f'<li><a href="{a.path}" target="_blank">{e(a.title)}</a><span class="date">'
        f'{local_time(a.published, "%Y-%m-%d")}</span></li>'
        for a in related_articles(article)
    )
    return f'<div class="related-news"><h3>{chrome.ZH_RELATED_HEADING}</h3><ul>\n{items}\n</ul></div>'


def _comments(article: ExpectedArticle) -> str:
    items = "\n".join(
        f'<li class="comment-item"><div class="comment-head"><span class="user">{e(c.user)}</span>'
        f'<span class="time">{c.time}</span></div><p class="comment-text">{e(c.text)}</p>'
        f'<div class="comment-actions"><a href="javascript:;">顶</a> <a href="javascript:;">回复</a></div></li>'
        for c in article.comments
    )
    return (
        f'<div class="comments" id="comments"><h3>{chrome.ZH_COMMENTS_HEADING}</h3>'
        f'<p class="note">{chrome.ZH_COMMENTS_NOTE}</p><ul class="comment-list">\n{items}\n</ul></div>'
    )


def _share() -> str:
    targets = "".join(f'<a href="javascript:;" class="share-{n}">{t}</a>' for n, t in enumerate(chrome.ZH_SHARE_TARGETS))
    return f'<div class="share-box"><span>{chrome.ZH_SHARE_TEXT}</span>{targets}</div>'


def _sidebar(article: ExpectedArticle) -> str:
    items = "\n".join(f'<li><em>{n}</em><a href="{a.path}">{e(a.title)}</a></li>'
                      for n, a in enumerate(hot_list(article), 1))
    return (
        f'<aside class="sidebar"><div class="hot"><h3>{chrome.ZH_HOT_HEADING}</h3><ol>\n{items}\n</ol></div>'
        f'<div class="ad"><span>{chrome.ZH_AD_TEXT}</span><a href="/?channel=ad">'
        f'<img src="/static/ad-banner.jpg" width="300" height="250" alt=""></a></div></aside>'
    )


def _footer() -> str:
    links = " | ".join(f'<a href="/?page={n}">{t}</a>' for n, t in enumerate(chrome.ZH_FOOTER_LINKS))
    lines = "".join(f"<p>{e(line)}</p>" for line in chrome.ZH_FOOTER_LINES)
    return f'<footer class="footer"><div class="links">{links}</div>{lines}</footer>'


def _editor_line(article: ExpectedArticle) -> str:
    return article.editor_line.format(editors="、".join(article.editors)) if article.editor_line else ""


def portal_page(article: ExpectedArticle, base: str) -> str:
    """A UTF-8 article page of the portal (the ZAKER-style body included)."""
    top_bar = "".join(f'<a href="javascript:;">{t}</a>' for t in chrome.ZH_TOP_BAR)
    subtitle = f'<h2 class="subtitle">{e(article.subtitle)}</h2>' if article.subtitle else ""
    editor = _editor_line(article)
    if article.body_style == "zaker":
        # ZAKER keeps editor line, share line and recommendation slots inside the body.
        tail = f"<p> {e(editor)} </p>" if editor else ""
        tail += f"<p>{chrome.ZH_SHARE_TEXT} </p>"
        tail += '<div id="recommend_bottom"></div><div id="article_bottom"></div>'
        after_body = ""
    else:
        tail = ""
        after_body = f'<div class="edit">{e(editor)}</div>' if editor else ""
    extra_meta = "\n".join(filter(None, [meta_published(article),
                                         json_ld(article, base, chrome.ZH_SITE_NAME) if article.json_ld else ""]))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(article.title)}{chrome.ZH_TITLE_SEPARATOR}{chrome.ZH_SITE_NAME}</title>
<meta name="keywords" content="{attr(",".join(article.feed_categories))}">
<meta name="description" content="{attr(article.paragraphs[0][:60])}">
<link rel="canonical" href="{article.url(base)}">
{og_tags(article, base, chrome.ZH_SITE_NAME)}
{extra_meta}
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<div class="top-bar"><div class="w1000">{top_bar}</div></div>
<header class="header w1000">
<a class="logo" href="/"><img src="/static/logo.png" alt="{chrome.ZH_SITE_NAME}" width="200" height="60"></a>
{_nav()}
</header>
<div class="breadcrumb w1000"><a href="/">{chrome.ZH_BREADCRUMB_HOME}</a> &gt; <a href="/?channel=news">{chrome.ZH_BREADCRUMB_CHANNEL}</a> &gt; <a href="/?channel=section">{e(article.section)}</a> &gt; {chrome.ZH_BREADCRUMB_LEAF}</div>
<div class="main w1000 clearfix">
<div class="col-left">
<div class="article">
<h1>{e(article.title)}</h1>
{subtitle}
<div class="info">{BYLINES[article.byline_style](article)}</div>
<div class="content" id="article-content">
{body_zh(article, base)}
{tail}
</div>
{after_body}
{_share() if article.body_style != "zaker" else ""}
</div>
{_related(article)}
{_comments(article)}
</div>
{_sidebar(article)}
</div>
{_footer()}
<script src="/static/lazyload.js"></script>
<script>lazyload(document.querySelectorAll("img.lazy"));</script>
</body>
</html>
"""


def gbk_page(article: ExpectedArticle, base: str) -> str:
    """An old table-layout page; the caller encodes it as GBK. Its <meta>
    declares gb2312, which cannot decode every character it holds."""
    nav = " | ".join(f'<a href="/{"?channel=" + slug if slug else ""}">{e(label)}</a>' for label, slug in chrome.ZH_NAV)
    related = "".join(f'<tr><td>·<a href="{a.path}">{e(a.title)}</a></td></tr>' for a in related_articles(article))
    footer = "<br>".join(e(line) for line in chrome.GBK_FOOTER_LINES)
    print_close = "&nbsp;".join(f'<a href="javascript:;">{t}</a>' for t in chrome.ZH_PRINT_CLOSE)
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={article.declared_charset or article.charset}" />
<title>{e(article.title)}-呼伦贝尔新闻-{chrome.ZH_SITE_NAME}</title>
<meta name="keywords" content="{attr(",".join(article.feed_categories))}" />
<link href="/static/site.css" rel="stylesheet" type="text/css" />
</head>
<body>
<table width="980" border="0" align="center" cellpadding="0" cellspacing="0" class="top">
<tr><td width="220"><a href="/"><img src="/static/logo.png" width="200" height="60" border="0" alt="" /></a></td>
<td class="nav">{nav}</td></tr>
</table>
<table width="980" border="0" align="center" cellpadding="0" cellspacing="0">
<tr><td class="position">当前位置：<a href="/">首页</a> &gt;&gt; <a href="/?channel=section">{e(article.section)}</a> &gt;&gt; 正文</td></tr>
<tr><td align="center" class="title"><h1>{e(article.title)}</h1></td></tr>
<tr><td align="center" class="info">{BYLINES[article.byline_style](article)}</td></tr>
<tr><td class="content" id="zoom">
{body_zh(article, base, indent=FULLWIDTH_INDENT)}
</td></tr>
<tr><td align="right">{print_close}</td></tr>
</table>
<table width="980" border="0" align="center" cellpadding="0" cellspacing="0" class="related">
<tr><td class="bt">{chrome.ZH_RELATED_HEADING}</td></tr>
{related}
</table>
<table width="980" border="0" align="center" cellpadding="0" cellspacing="0" class="bottom">
<tr><td align="center">{footer}</td></tr>
</table>
</body>
</html>
"""
