"""A portal-weight news site for the crawl benchmark, served on 127.0.0.1.

``build_site(n)`` makes N distinct article pages deterministically (the same
bytes on every run): Chinese and English pages alternate, each about 100 KB
like a real portal's (inline CSS and JavaScript, a mega menu, breadcrumbs,
share bar, sidebars, related and ranking lists, comments, a big footer)
around a real article of several paragraphs with one image of its own
(a distinct JPEG drawn with Pillow). An RSS feed lists every article and a
robots.txt allows them. ``PortalServer`` serves it all from memory with a
small asyncio HTTP/1.1 server, so the site costs the crawl as little as possible.

Self-contained on purpose: the benchmark imports nothing from tests/.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape

from PIL import Image, ImageDraw

PAGE_TARGET_BYTES = 100 * 1024
BASE_TIME = datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)
SHANGHAI = timezone(timedelta(hours=8))

# --- vocabulary ------------------------------------------------------------------

ZH_PHRASES = (
    "国家统计局今天发布数据", "今年前两个月", "规模以上工业增加值同比增长", "社会消费品零售总额",
    "专家表示", "从全年来看", "经济运行总体平稳", "稳中有进的态势没有改变", "各地各部门认真贯彻落实",
    "推动高质量发展", "新质生产力加快培育", "科技创新成果不断涌现", "人工智能产业规模持续扩大",
    "记者在现场看到", "工人们正在紧张施工", "项目建成后", "将有效缓解当地交通压力", "据了解",
    "该市已累计投入资金", "惠及群众超过十万人", "农村人居环境明显改善", "乡村振兴取得新进展",
    "生态环境质量持续好转", "空气优良天数比例达到", "长江经济带建设", "粤港澳大湾区", "京津冀协同发展",
    "外贸进出口保持增长", "跨境电商等新业态", "对共建一带一路国家进出口", "消费市场回暖向好",
    "文旅消费持续升温", "假日期间", "各大景区游客络绎不绝", "博物馆一票难求", "冰雪运动热度不减",
    "教育部有关负责人介绍", "义务教育阶段", "高校毕业生就业", "职业技能培训", "养老服务体系",
    "医疗保障水平稳步提高", "基本医疗保险参保率", "城镇新增就业人数", "居民人均可支配收入",
    "新能源汽车产销两旺", "光伏装机容量", "充电基础设施", "数字经济核心产业", "5G基站总数",
    "航天员乘组状态良好", "空间站应用与发展阶段", "深海探测", "极地科考", "种业振兴行动",
    "防汛抗旱工作", "气象部门提醒", "局地有大到暴雨", "公众注意出行安全", "交通运输部门",
    "铁路客流创新高", "民航旅客运输量", "港口货物吞吐量", "快递业务量", "金融支持实体经济",
    "贷款利率稳中有降", "资本市场改革", "普惠金融", "小微企业", "营商环境持续优化",
)
ZH_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴倩", "徐明", "孙丽")
ZH_SOURCES = ("新华社", "人民日报", "中国新闻网", "经济日报", "光明日报", "央视新闻", "环球网")
ZH_CHANNELS = (
    "首页", "国内", "国际", "军事", "财经", "科技", "体育", "娱乐", "汽车", "房产", "教育", "健康",
    "文化", "旅游", "时尚", "游戏", "视频", "图片", "评论", "专题", "地方", "公益", "读书", "历史",
)
EN_WORDS = (
    "government", "officials", "said", "on", "Tuesday", "that", "the", "new", "policy", "would", "help",
    "millions", "of", "families", "across", "country", "while", "critics", "warned", "costs", "could",
    "rise", "sharply", "next", "year", "economy", "grew", "faster", "than", "expected", "in", "first",
    "quarter", "according", "to", "figures", "released", "by", "statistics", "office", "analysts",
    "markets", "investors", "central", "bank", "interest", "rates", "inflation", "remained", "stubborn",
    "energy", "prices", "climate", "scientists", "researchers", "university", "study", "published",
    "journal", "found", "evidence", "communities", "coastal", "flooding", "storm", "season", "local",
    "residents", "told", "reporters", "they", "were", "worried", "about", "future", "schools",
    "hospitals", "roads", "infrastructure", "investment", "billion", "dollars", "plan", "approved",
    "parliament", "vote", "majority", "opposition", "leader", "called", "for", "an", "inquiry", "into",
    "handling", "crisis", "minister", "announced", "a", "package", "measures", "support", "small",
    "businesses", "exports", "trade", "talks", "partners", "agreement", "signed", "summit", "capital",
)
EN_NAMES = ("Sarah Mitchell", "James O'Connor", "Priya Raman", "Daniel Okafor", "Laura Chen", "Tom Becker",
            "Maria Gonzalez", "Kenji Watanabe", "Amelia Hart", "Lucas Moreau")
EN_SOURCES = ("Global News Desk", "Reuters", "Associated Press", "Staff reporter", "Wire services")
EN_CHANNELS = (
    "Home", "World", "Business", "Markets", "Technology", "Science", "Climate", "Health", "Sport",
    "Culture", "Opinion", "Travel", "Style", "Video", "Podcasts", "Investigations", "Asia", "Europe",
    "Americas", "Africa", "Middle East", "Education", "Weather", "Obituaries",
)


@dataclass
class Article:
    index: int
    language: str  # "zh" or "en"
    path: str
    image_path: str
    title: str
    published: datetime
    authors: list[str]
    paragraphs: list[str]
    summary: str
    html: bytes = b""
    image: bytes = b""


@dataclass
class Site:
    articles: list[Article]
    routes: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (content type, body)

    def page_bytes(self) -> list[bytes]:
        return [a.html for a in self.articles]


# --- text ------------------------------------------------------------------------


def _zh_sentence(rng: random.Random) -> str:
    return "，".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(3, 6))) + "。"


def _zh_paragraph(rng: random.Random, index: int) -> str:
    # A number unique to the article keeps every paragraph distinct across pages.
    lead = f"截至{rng.randint(1, 12)}月{rng.randint(1, 28)}日，相关指标达到{index * 37 + rng.randint(100, 999)}万，"
    return lead + "".join(_zh_sentence(rng) for _ in range(rng.randint(3, 5)))


def _en_sentence(rng: random.Random) -> str:
    words = [rng.choice(EN_WORDS) for _ in range(rng.randint(12, 24))]
    return " ".join(words).capitalize() + "."


def _en_paragraph(rng: random.Random, index: int) -> str:
    lead = f"By the latest count, {index * 37 + rng.randint(100, 999):,} people were affected. "
    return lead + " ".join(_en_sentence(rng) for _ in range(rng.randint(3, 5)))


def _zh_title(rng: random.Random, index: int) -> str:
    return f"{rng.choice(ZH_PHRASES)}{rng.choice(ZH_PHRASES)}（第{index}期）"


def _en_title(rng: random.Random, index: int) -> str:
    words = " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(6, 9)))
    return f"{words.capitalize()} (report {index})"


# --- page furniture ----------------------------------------------------------------


def _inline_css(rng: random.Random, size: int) -> str:
    rules, total = [], 0
    n = 0
    while total < size:
        selector = f".mod-{n % 97}-{rng.choice(('nav', 'list', 'card', 'box', 'tab', 'ad', 'hd', 'bd'))} {rng.choice(('a', 'li', 'span', 'p', 'em', 'div'))}"
        rule = (f"{selector}{{margin:{rng.randint(0, 20)}px {rng.randint(0, 20)}px;padding:{rng.randint(0, 12)}px;"
                f"color:#{rng.randrange(0x1000000):06x};font-size:{rng.randint(12, 18)}px;line-height:{rng.randint(16, 30)}px;"
                f"background:#{rng.randrange(0x1000000):06x} url(/static/sprite.png) no-repeat -{rng.randint(0, 400)}px -{rng.randint(0, 400)}px}}")
        rules.append(rule)
        total += len(rule)
        n += 1
    return "\n".join(rules)


def _inline_js(rng: random.Random, channels: tuple[str, ...], size: int) -> str:
    state = {"channels": [], "ads": [], "abtest": {f"exp_{i}": rng.choice(("a", "b", "c")) for i in range(40)}}
    blob = ""
    i = 0
    while len(blob) < size:
        state["channels"].append({"id": i, "name": rng.choice(channels), "url": f"/channel/{i}/",
                                  "hot": [f"/news/hot/{i}-{k}.html" for k in range(4)], "weight": rng.random()})
        state["ads"].append({"slot": f"slot-{i}", "size": [300, 250], "refresh": rng.randint(10, 90)})
        blob = json.dumps(state, ensure_ascii=False)
        i += 1
    return (
        "(function(w,d){w.__INITIAL_STATE__=" + blob + ";"
        "var s=d.createElement('script');s.async=true;s.src='/static/analytics.js?v='+Math.random();"
        "d.getElementsByTagName('head')[0].appendChild(s);"
        "w.track=function(e,p){(w._q=w._q||[]).push([e,p,Date.now()])};})(window,document);"
    )


def _mega_menu(rng: random.Random, channels: tuple[str, ...], subitems: int) -> str:
    columns = []
    for c, name in enumerate(channels):
        links = "".join(f'<li><a href="/channel/{c}/{k}/">{escape(name)}{"·" if name[0] > "~" else " "}{escape(rng.choice(channels))}{k}</a></li>'
                        for k in range(subitems))
        columns.append(f'<li class="nav-item"><a class="nav-link" href="/channel/{c}/">{escape(name)}</a>'
                       f'<div class="sub-menu"><ul>{links}</ul></div></li>')
    # A linked logo, as portals put in their navigation bar.
    logo = '<a class="logo" href="/"><img src="/static/logo.png" alt="logo" width="120" height="40"></a>'
    return f'<nav class="main-nav mega-menu" id="nav">{logo}<ul class="nav-list">{"".join(columns)}</ul></nav>'


def _link_list(css: str, heading: str, items: list[tuple[str, str, str]]) -> str:
    rows = "".join(f'<li><a href="{escape(href)}" target="_blank">{escape(text)}</a><span class="date">{escape(extra)}</span></li>'
                   for href, text, extra in items)
    return f'<div class="{css}"><h3 class="hd">{escape(heading)}</h3><ul>{rows}</ul></div>'


def _other_titles(rng: random.Random, zh: bool, count: int) -> list[tuple[str, str, str]]:
    items = []
    for _ in range(count):
        k = rng.randint(10000, 99999)
        title = _zh_title(rng, k) if zh else _en_title(rng, k)
        day = (BASE_TIME - timedelta(days=rng.randint(1, 300))).strftime("%Y-%m-%d")
        items.append((f"/news/other/{k}.html", title, day))
    return items


def _comments(rng: random.Random, zh: bool, count: int) -> str:
    items = []
    for c in range(count):
        user = (rng.choice(ZH_NAMES) + str(rng.randint(10, 999))) if zh else (rng.choice(EN_NAMES).split()[0].lower() + str(rng.randint(10, 999)))
        text = _zh_sentence(rng) if zh else _en_sentence(rng)
        items.append(f'<li class="comment-item"><div class="comment-head"><span class="user">{escape(user)}</span>'
                     f'<span class="time">{rng.randint(1, 59)}{"分钟前" if zh else " min ago"}</span></div>'
                     f'<p class="comment-text">{escape(text)}</p><div class="comment-actions">'
                     f'<a href="javascript:;">{"顶" if zh else "Like"}</a> <a href="javascript:;">{"回复" if zh else "Reply"}</a></div></li>')
    heading = "网友评论" if zh else "Comments"
    return f'<div class="comments" id="comments"><h3>{heading}</h3><ul class="comment-list">{"".join(items)}</ul></div>'


def _footer(rng: random.Random, channels: tuple[str, ...], zh: bool) -> str:
    columns = "".join(
        f'<dl class="footer-col"><dt>{escape(channels[c])}</dt>'
        + "".join(f'<dd><a href="/about/{c}/{k}.html">{escape(rng.choice(channels))}{k}</a></dd>' for k in range(14))
        + "</dl>"
        for c in range(10)
    )
    legal = ("<p>Copyright © 1997-2025 环球新闻网 版权所有 京ICP备00000000号 违法和不良信息举报电话：12377</p>"
             if zh else "<p>© 2025 Global News Portal. All rights reserved. Terms · Privacy · Cookies · Accessibility</p>")
    # The licence and police-registration badges of Chinese sites' footers, linked.
    badges = "".join(f'<a href="https://beian.example.gov.cn/{k}"><img src="/static/badge{k}.png" alt=""></a>' for k in range(3))
    return f'<footer class="site-footer"><div class="footer-links">{columns}</div>{legal}<div class="badges">{badges}</div></footer>'


# --- one article page ----------------------------------------------------------------


def _article(index: int) -> Article:
    rng = random.Random(7919 * index + 17)
    zh = index % 2 == 0
    published = BASE_TIME - timedelta(hours=index, minutes=rng.randint(0, 59))
    paragraphs = [(_zh_paragraph if zh else _en_paragraph)(rng, index) for _ in range(rng.randint(7, 11))]
    if zh:
        path = f"/news/2025/03/{index:05d}.shtml"
        authors = [rng.choice(ZH_NAMES)]
        title = _zh_title(rng, index)
    else:
        path = f"/world/2025/03/report-{index:05d}.html"
        authors = [rng.choice(EN_NAMES)]
        title = _en_title(rng, index)
    return Article(index, "zh" if zh else "en", path, f"/images/2025/{index:05d}.jpg", title, published, authors,
                   paragraphs, paragraphs[0][:120])


def _render(article: Article, base_url: str) -> bytes:
    rng = random.Random(104729 * article.index + 3)
    zh = article.language == "zh"
    channels = ZH_CHANNELS if zh else EN_CHANNELS
    site_name = "环球新闻网" if zh else "Global News Portal"
    url = base_url + article.path
    local = article.published.astimezone(SHANGHAI) if zh else article.published
    jsonld = json.dumps({
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
        "datePublished": local.isoformat(), "author": [{"@type": "Person", "name": a} for a in article.authors],
        "publisher": {"@type": "Organization", "name": site_name}, "mainEntityOfPage": url,
    }, ensure_ascii=False)
    head = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(article.title)} - {site_name}</title>"
        f'<meta name="description" content="{escape(article.summary)}">'
        f'<meta name="keywords" content="{escape(",".join(rng.sample(channels, 6)))}">'
        f'<meta property="og:title" content="{escape(article.title)}"><meta property="og:type" content="article">'
        f'<meta property="og:site_name" content="{site_name}"><meta property="og:url" content="{url}">'
        f'<meta property="article:published_time" content="{local.isoformat()}">'
        f'<link rel="canonical" href="{url}"><link rel="stylesheet" href="/static/main.css">'
        f'<script type="application/ld+json">{jsonld}</script>'
        f"<style>{_inline_css(rng, 16000)}</style>"
        f"<script>{_inline_js(rng, channels, 14000)}</script></head>"
    )
    topbar = "".join(f'<a href="/service/{k}/">{escape(rng.choice(channels))}</a>' for k in range(30))
    crumbs = (f'<div class="breadcrumb"><a href="/">{site_name}</a> &gt; <a href="/channel/1/">{escape(channels[1])}</a>'
              f' &gt; <span>{"正文" if zh else "Article"}</span></div>')
    if zh:
        byline = (f'<div class="article-info"><span class="time">{local:%Y-%m-%d %H:%M:%S}</span>'
                  f'<span class="source">来源：{rng.choice(ZH_SOURCES)}</span>'
                  f'<span class="author">作者：{"、".join(article.authors)}</span></div>')
    else:
        byline = (f'<div class="byline"><span class="author">By {" and ".join(article.authors)}</span>'
                  f'<time datetime="{local.isoformat()}">{local:%B %-d, %Y %H:%M} UTC</time></div>')
    share = ('<div class="share-bar"><span>' + ("分享到：" if zh else "Share:") + "</span>"
             + "".join(f'<a href="javascript:;" class="share-{t}">{t}</a>' for t in ("weixin", "weibo", "qq", "twitter", "facebook")) + "</div>")
    figure_at = min(2, len(article.paragraphs) - 1)
    body_parts = []
    for k, paragraph in enumerate(article.paragraphs):
        body_parts.append(f"<p>{escape(paragraph)}</p>")
        if k == figure_at:
            caption = f"图为{article.title[:10]}现场。" if zh else f"A scene from the report {article.index}."
            body_parts.append(f'<p class="img-wrap" style="text-align:center"><img src="{article.image_path}" '
                              f'alt="{escape(caption)}" width="480" height="300"></p>')
    editor = f'<p class="editor">（责任编辑：{rng.choice(ZH_NAMES)}）</p>' if zh else '<p class="editor">Edited by the world desk.</p>'
    main = (
        f'<div class="main-content"><div class="article" id="article"><h1 class="article-title">{escape(article.title)}</h1>'
        f'{byline}{share}<div class="article-content" id="content">{"".join(body_parts)}</div>{editor}'
        f'<div class="tags">{"".join(f"<a href=/tag/{k}/>{escape(c)}</a>" for k, c in enumerate(rng.sample(channels, 5)))}</div></div>'
        + _link_list("related-news", "相关新闻" if zh else "Related stories", _other_titles(rng, zh, 18))
        + _comments(rng, zh, 14)
        + "</div>"
    )
    sidebar = (
        '<aside class="sidebar">'
        + _link_list("hot-list", "热点排行" if zh else "Most read", _other_titles(rng, zh, 20))
        + '<div class="ad-box" style="width:300px;height:250px" data-slot="side-1"></div>'
        + _link_list("video-list", "视频推荐" if zh else "Watch", _other_titles(rng, zh, 10))
        + _link_list("rank-list", "24小时排行" if zh else "Trending now", _other_titles(rng, zh, 20))
        + "</aside>"
    )
    tail_js = f"<script>{_inline_js(rng, channels, 9000)}</script>"
    page = (
        head + "<body>"
        + f'<div class="top-bar">{topbar}</div>'
        + f'<div class="header"><div class="logo"><a href="/">{site_name}</a></div>'
        + '<form class="search" action="/search"><input name="q"><button>搜索</button></form></div>'
        + _mega_menu(rng, channels, 14)
        + crumbs + f'<div class="container">{main}{sidebar}</div>'
        + _footer(rng, channels, zh) + tail_js + "</body></html>"
    )
    data = page.encode("utf-8")
    if len(data) < PAGE_TARGET_BYTES:  # top up with partner links, whole items only
        links = []
        while len(data) + sum(len(x) for x in links) < PAGE_TARGET_BYTES:
            k = rng.randint(10000, 99999)
            links.append(f'<li><a href="https://partner{k}.example.com/">{escape(rng.choice(channels))}{k}</a></li>'.encode("utf-8"))
        heading = "友情链接" if zh else "Partner sites"
        filler = f'<div class="friend-links"><h3>{heading}</h3><ul>'.encode("utf-8") + b"".join(links) + b"</ul></div>"
        data = data.replace(b"</body>", filler + b"</body>")
    return data


def _image(article: Article) -> bytes:
    """A distinct 480x300 JPEG: a gradient and shapes seeded by the article."""
    rng = random.Random(31337 * article.index + 5)
    image = Image.new("RGB", (480, 300), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for y in range(0, 300, 6):
        draw.rectangle((0, y, 479, y + 5), fill=(y % 256, (article.index * 7) % 256, (255 - y) % 256))
    for _ in range(12):
        x, y = rng.randrange(440), rng.randrange(260)
        draw.ellipse((x, y, x + rng.randint(20, 120), y + rng.randint(20, 80)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw.text((10, 10), f"article {article.index}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


def _rss(articles: list[Article], base_url: str) -> bytes:
    items = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base_url}{a.path}</link>"
        f'<guid isPermaLink="true">{base_url}{a.path}</guid>'
        f"<pubDate>{format_datetime(a.published)}</pubDate>"
        f"<description>{escape(a.summary)}</description></item>"
        for a in articles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>环球新闻网 Global News</title><link>{base_url}/</link><description>bench</description>"
        f"{items}</channel></rss>"
    ).encode("utf-8")


ROBOTS_TXT = b"User-agent: *\nDisallow: /admin/\nDisallow: /search\nAllow: /\n"


def build_site(n: int, base_url: str) -> Site:
    """N articles with their pages and images, the feed and robots.txt, as routes."""
    articles = [_article(i) for i in range(n)]
    site = Site(articles)
    for article in articles:
        article.html = _render(article, base_url)
        article.image = _image(article)
        site.routes[article.path] = ("text/html; charset=utf-8", article.html)
        site.routes[article.image_path] = ("image/jpeg", article.image)
    site.routes["/rss.xml"] = ("application/rss+xml; charset=utf-8", _rss(articles, base_url))
    site.routes["/robots.txt"] = ("text/plain; charset=utf-8", ROBOTS_TXT)
    return site


# --- the server --------------------------------------------------------------------------


class PortalServer:
    """The site's routes on 127.0.0.1:<free port>, served by an asyncio loop in a thread of this process.

    HTTP/1.1 with keep-alive, each response's head built once: the site
    shares the crawl's cores, so it should cost as little as it can
    (http.server's per-request parsing cost three times as much). Every
    request is answered as a GET and ``Connection: close`` is not honoured:
    Scrapy needs neither.
    """

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self._heads: dict[str, bytes] = {}
        self._open: set[asyncio.StreamWriter] = set()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.requests = 0
        self.first_request: float | None = None
        self.last_request: float | None = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def note_request(self) -> None:
        now = time.monotonic()
        with self._lock:
            self.requests += 1
            self.first_request = self.first_request or now
            self.last_request = now

    def cpu_seconds(self) -> float:
        """CPU time of the serving thread (Linux: its own clock; else this whole process's)."""
        if hasattr(time, "pthread_getcpuclockid") and self._thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))
        return time.process_time()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests, self.first_request, self.last_request = 0, None, None

    def _response(self, path: str) -> tuple[bytes, bytes]:
        content_type, body = self.routes.get(path) or ("text/plain; charset=utf-8", b"not found\n")
        head = self._heads.get(path)
        if head is None:
            status = "200 OK" if path in self.routes else "404 Not Found"
            head = self._heads[path] = (f"HTTP/1.1 {status}\r\nServer: BenchPortal/1.0\r\nContent-Type: {content_type}\r\n"
                                        f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        return head, body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            while True:  # one request after another on the connection
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1]
                self.note_request()
                writer.writelines(self._response(target.partition(b"?")[0].decode("latin-1")))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
            pass  # closed by the crawl, or not HTTP
        finally:
            self._open.discard(writer)
            writer.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, sock=self._socket))
        self._listening.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for writer in self._open:  # keep-alive connections still open: their handlers end
                writer.close()
            self._loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(self._loop), return_exceptions=True))
            self._loop.close()

    def __enter__(self) -> "PortalServer":
        self._thread.start()
        # Until the loop runs: a stop sent before would be lost.
        if not self._listening.wait(10) or not self._thread.is_alive():
            raise RuntimeError("the bench site's server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
