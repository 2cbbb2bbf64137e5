"""An e-paper (数字报) on the fixture site: a site with neither feed nor sitemap.

List pages ``/epaper/html/2020-04/08/node_N.htm`` (one per 版, chained by a
下一版 link) link article pages ``content_NNNN.htm``, next to links that are no
articles (the 版面导航, 往期回顾, the page's PDF). Article pages are in the old
Founder layout: the headline in ``td.font01``, the byline in
``div.art-author``, the time in ``span.pub-time`` at the foot, the body in
``#ozoom``. Generic extraction reads them wrong (the masthead <h1>, the
edition's build date in <meta name="publishdate">): a ``listing`` source
needs its per-source selectors here. :data:`EPAPER_SELECTORS` are those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .responses import Handler, Request, Response, html
from .templates_common import e

SH = ZoneInfo("Asia/Shanghai")
EPAPER_DIR = "/epaper/html/2020-04/08/"
PAPER_NAME = "北疆日报"
PAPER_DATE = "2020年04月08日 星期三"
# The edition was laid out the evening before: the CMS stamps that date on every page.
EDITION_BUILD_DATE = "2020-04-07"
PAGE_NAMES = ("第01版：要闻", "第02版：社会", "第03版：经济", "第04版：副刊")
LINK_PATTERN = r"content_\d+\.htm$"
NEXT_SELECTOR = ".pager .next"  # the wrapper <span>, not the <a> inside it
EPAPER_SELECTORS = {
    "title_selector": "td.font01",
    "date_selector": "span.pub-time",
    "author_selector": "div.art-author",
    "body_selector": "#ozoom",
}
FOOTER_LINES = ("北疆日报社 版权所有 未经授权不得转载", "蒙ICP备10000003号")


@dataclass(frozen=True)
class EpaperArticle:
    key: str
    number: int  # content_<number>.htm
    page: int  # the 版 (list page) it is on, from 1
    title: str
    kicker: str  # 引题 above the headline (td.font02)
    byline: str  # as printed in div.art-author
    authors: tuple[str, ...]  # what the byline means (editors excluded)
    shown_time: str  # as printed in span.pub-time (Shanghai, no offset)
    published: datetime  # aware
    paragraphs: tuple[str, ...]
    editor: str = ""  # 编辑：… at the foot

    @property
    def path(self) -> str:
        return f"{EPAPER_DIR}content_{self.number}.htm"

    def url(self, base: str) -> str:
        return base + self.path

    @property
    def published_utc(self) -> str:
        return self.published.astimezone(timezone.utc).isoformat()


SPRING = EpaperArticle(
    key="ep-spring", number=1001, page=1, title="全区春耕备耕工作有序推进", kicker="抢抓农时 不误农事",
    byline="本报记者 王静　通讯员 李明", authors=("王静", "李明"),
    shown_time="2020-4-8 10:23:05", published=datetime(2020, 4, 8, 10, 23, 5, tzinfo=SH),
    paragraphs=(
        "眼下正值春耕备耕关键时期，全区各地在做好疫情防控的同时，抢抓农时组织农民群众开展春耕生产，种子、化肥、农机等农资供应充足。",
        "农牧部门组织农技人员深入田间地头，通过线上培训和现场指导相结合的方式，帮助农民解决备耕中遇到的实际问题。",
        "据统计，全区已储备各类农作物种子两亿余公斤，化肥到位率超过八成，春耕生产物资保障有力。",
    ),
    editor="赵敏",
)
METRO = EpaperArticle(
    key="ep-metro", number=1002, page=1, title="呼和浩特地铁2号线开始空载试运行", kicker="",
    byline="记者 张文　编辑：赵敏", authors=("张文",),
    shown_time="2020年04月08日 06:30", published=datetime(2020, 4, 8, 6, 30, tzinfo=SH),
    paragraphs=(
        "呼和浩特地铁2号线一期工程开始空载试运行，列车将按照运营图在全线各车站停靠，对信号、供电和通信等系统进行全面检验。",
        "建设单位介绍，空载试运行期间将重点测试列车运行的稳定性和各系统之间的联动，为后续开通初期运营打下基础。",
    ),
)
GRID = EpaperArticle(
    key="ep-grid", number=2001, page=2, title="社区网格员守护居民平安", kicker="身边的战“疫”故事",
    byline="本报通讯员 陈刚 刘洋", authors=("陈刚", "刘洋"),
    shown_time="发布时间：2020-04-08 09:15", published=datetime(2020, 4, 8, 9, 15, tzinfo=SH),
    paragraphs=(
        "每天清晨，新城区海拉尔东路街道的网格员就开始逐户走访，登记返城人员信息，为独居老人送去生活必需品。",
        "网格员们说，虽然工作辛苦，但看到居民们理解和支持，心里感到很温暖，守护好社区就是守护好每一个家庭。",
    ),
    editor="孙丽",
)
# On the third 版: beyond a crawl with max_pages=2.
TRADE = EpaperArticle(
    key="ep-trade", number=3001, page=3, title="一季度全区外贸进出口稳中有升", kicker="",
    byline="本报记者 高原", authors=("高原",),
    shown_time="2020-4-8 08:00:00", published=datetime(2020, 4, 8, 8, 0, tzinfo=SH),
    paragraphs=(
        "海关部门发布数据显示，一季度全区外贸进出口总值同比增长，其中对蒙古国和俄罗斯的贸易保持增长态势。",
        "口岸部门表示，将继续优化通关流程，提高口岸通关效率，支持外贸企业复工复产。",
    ),
)
EPAPER_ARTICLES: tuple[EpaperArticle, ...] = (SPRING, METRO, GRID, TRADE)
EPAPER_PAGES = 3  # node_1..node_3 exist; the 版面导航 also names node_4, which does not


def node_path(page: int) -> str:
    return f"{EPAPER_DIR}node_{page}.htm"


def articles_on(page: int) -> list[EpaperArticle]:
    return [a for a in EPAPER_ARTICLES if a.page == page]


def articles_within(max_pages: int) -> list[EpaperArticle]:
    return [a for a in EPAPER_ARTICLES if a.page <= max_pages]


def _layout_nav() -> str:
    return "".join(f'<li><a href="node_{n}.htm">{e(name)}</a></li>' for n, name in enumerate(PAGE_NAMES, 1))


def _masthead() -> str:
    return (f'<div class="masthead"><h1>{PAPER_NAME} 数字报</h1><div id="paper-date">{PAPER_DATE}</div>'
            f'<a href="/epaper/html/2020-04/07/node_1.htm">往期回顾</a></div>')


def _footer() -> str:
    return '<div class="copyright">' + "".join(f"<p>{e(line)}</p>" for line in FOOTER_LINES) + "</div>"


def list_page(page: int) -> str:
    items = "".join(f'<li><a href="content_{a.number}.htm">{e(a.title)}</a></li>' for a in articles_on(page))
    prev = f'<a class="prev" href="node_{page - 1}.htm">上一版</a>' if page > 1 else ""
    following = f'<span class="next"><a href="node_{page + 1}.htm">下一版</a></span>' if page < EPAPER_PAGES else ""
    return f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{PAPER_NAME}数字报-{e(PAGE_NAMES[page - 1])}</title></head>
<body>
{_masthead()}
<div class="banmian"><h3>版面导航</h3><ul>{_layout_nav()}</ul></div>
<div class="page-pic"><img src="/epaper/images/2020-04/08/{page:02d}.jpg" usemap="#pagemap" alt=""></div>
<ul id="list">{items}</ul>
<div class="pager">{prev} <a class="pdf" href="/epaper/pdf/2020-04/08/{page:02d}.pdf">下载PDF</a> {following}</div>
{_footer()}
</body>
</html>
"""


def article_page(article: EpaperArticle) -> str:
    others = "".join(f'<li><a href="content_{a.number}.htm">{e(a.title)}</a></li>'
                     for a in articles_on(article.page) if a.key != article.key)
    body = "".join(f"<p>{e(p)}</p>" for p in article.paragraphs)
    editor = f" 编辑：{e(article.editor)}" if article.editor else ""
    return f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{PAPER_NAME}数字报</title>
<meta name="publishdate" content="{EDITION_BUILD_DATE}"></head>
<body>
{_masthead()}
<table class="layout" width="1000" border="0" cellpadding="0" cellspacing="0"><tr>
<td class="left" width="300" valign="top">
<div class="banmian"><h3>版面导航</h3><ul>{_layout_nav()}</ul></div>
<div class="others"><h3>本版新闻</h3><ul>{others}</ul></div>
</td>
<td class="right" valign="top">
<table width="100%"><tr><td class="font02">{e(article.kicker)}</td></tr>
<tr><td class="font01">{e(article.title)}</td></tr></table>
<div class="art-author">{e(article.byline)}</div>
<div id="ozoom">{body}</div>
<div class="art-foot"><span class="pub-time">{e(article.shown_time)}</span>{editor}</div>
</td></tr></table>
{_footer()}
</body>
</html>
"""


def boilerplate(article: EpaperArticle) -> list[str]:
    """Strings on the page that must never reach the article's text."""
    others = [a.title for a in articles_on(article.page) if a.key != article.key]
    return [*FOOTER_LINES, *PAGE_NAMES, "版面导航", "往期回顾", PAPER_DATE, *others]


def _list_handler(page: int) -> Handler:
    def handler(request: Request) -> Response:
        return html(list_page(page))

    return handler


def _article_handler(article: EpaperArticle) -> Handler:
    def handler(request: Request) -> Response:
        return html(article_page(article))

    return handler


EPAPER_ROUTES: dict[str, Handler] = {
    **{node_path(n): _list_handler(n) for n in range(1, EPAPER_PAGES + 1)},
    **{a.path: _article_handler(a) for a in EPAPER_ARTICLES},
}
