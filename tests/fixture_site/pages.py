"""The site's other pages: listing pages, the JS-only shell, the private page,
robots.txt and the static assets."""

from __future__ import annotations

from . import chrome
from .catalog import ARTICLES, FEEDS, PRIVATE_PATHS, ROBOTS_DISALLOW, SITEMAPS
from .model import ExpectedArticle
from .templates_common import attr, e, local_time

SITE_CSS = """body{margin:0;font:14px/1.8 "Microsoft YaHei",sans-serif;color:#222}
.w1000{width:1000px;margin:0 auto}.main-nav ul{list-style:none;display:flex;gap:12px}
.article h1{font-size:28px}.content p{text-indent:2em}.sidebar{width:300px;float:right}
.img_box img,.content img{max-width:100%}.footer{background:#333;color:#ccc;text-align:center}
"""
LAZYLOAD_JS = """function lazyload(images){images.forEach(function(img){
  var real = img.getAttribute("data-original") || img.getAttribute("data-src");
  if (real) { img.src = real; }
});}
"""
# The single-page app the shell page would boot; it never renders server-side.
APP_JS = """(function(){var root=document.getElementById("app");
fetch("/api/article?id="+encodeURIComponent(location.pathname)).then(function(r){return r.json();})
.then(function(a){root.innerHTML="<h1>"+a.title+"</h1>"+a.html;});})();
"""


def robots_txt(base: str) -> str:
    return f"User-agent: *\nDisallow: {ROBOTS_DISALLOW}\nAllow: /\n\nSitemap: {SITEMAPS['sitemap-index'].url(base)}\n"


def shell_page(article: ExpectedArticle, base: str) -> str:
    """What a JS-rendered app serves: no title, no text, no article markup."""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">
<title>{chrome.SHELL_TITLE}</title>
</head>
<body>
<div id="app"><div class="loading">{chrome.SHELL_LOADING}</div></div>
<noscript>{chrome.SHELL_NOSCRIPT}</noscript>
<script src="/static/app.js"></script>
</body>
</html>
"""


def _listing_items(articles: list[ExpectedArticle]) -> str:
    return "\n".join(
        f'<li><a href="{a.path}">{e(a.title)}</a> <span class="date">{local_time(a.published, "%Y-%m-%d")}</span></li>'
        for a in articles
    )


def home_page(base: str) -> str:
    """The Chinese front page: links to every live Chinese page and the feeds.
    Its footer also links the private page robots.txt forbids."""
    live = [a for a in ARTICLES if a.language == "zh" and not a.feed_body_only]
    nav = "".join(f'<a href="/{"?channel=" + slug if slug else ""}">{e(label)}</a>' for label, slug in chrome.ZH_NAV)
    footer = "".join(f"<p>{e(line)}</p>" for line in chrome.ZH_FOOTER_LINES)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{chrome.ZH_SITE_NAME} - 权威新闻门户</title>
<link rel="alternate" type="application/rss+xml" title="{attr(FEEDS['rss'].title)}" href="{FEEDS['rss'].url(base)}">
<link rel="alternate" type="application/feed+json" title="{attr(FEEDS['jsonfeed'].title)}" href="{FEEDS['jsonfeed'].url(base)}">
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header><a href="/"><img src="/static/logo.png" alt="{chrome.ZH_SITE_NAME}"></a><nav>{nav}</nav></header>
<main><h2>要闻</h2><ul class="news-list">
{_listing_items(live)}
</ul>
<p><a href="/en/">English edition</a></p></main>
<footer>{footer}<p><a href="{PRIVATE_PATHS[0]}">内部稿件预览</a></p></footer>
</body>
</html>
"""


def english_home_page(base: str) -> str:
    live = [a for a in ARTICLES if a.language == "en"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{chrome.EN_SITE_NAME} - Top Stories</title>
<link rel="alternate" type="application/atom+xml" title="{attr(FEEDS['atom'].title)}" href="{FEEDS['atom'].url(base)}">
</head>
<body>
<h1>{chrome.EN_SITE_NAME}</h1>
<ul class="story-list">
{_listing_items(live)}
</ul>
<p><a href="/">中文版</a></p>
</body>
</html>
"""


def private_page(base: str) -> str:
    return """<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="robots" content="noindex, nofollow"><title>内部稿件预览</title></head>
<body><h1>内部稿件预览</h1><p>本页面为编辑部内部预览稿件，尚未审核发布，请勿转载。</p></body>
</html>
"""
