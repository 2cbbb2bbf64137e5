"""ZAKER (myzaker.com) on the fixture site: what exists and what a crawl should get.

* ``/channel/660`` -- today's channel page: the list is ``window.WinPageData``
  JSON, three pages chained through ``data.next_url.value``;
* ``/source/10530`` -- a source page in the OLDER HTML list markup
  (``div.content-block``, ``.article-wrap > a``, ``div.figure.flex-block h2 a``,
  ``#nexturl``), two pages; one of its links is ``link.php``-wrapped;
* ``/article/<24 hex>`` -- article pages in ZAKER's markup; one of them
  (:data:`CHALLENGED`) always answers with a WAF challenge instead;
* ``/channel/9`` -- a channel whose LIST page is itself a challenge;
* ``/rsshub/zaker/channel/660`` -- an RSSHub-style feed carrying the
  challenged article's full body, its image shown through the CORS proxy.

Times: some articles show an absolute Shanghai time, others a relative one
(``3小时前``, ``昨天 08:15``, ``前天``, ``刚刚``) rendered against the REAL clock
when the page is requested. :meth:`ZakerTime.expected` turns the fetch
instant of a record into the UTC instant it should hold, with a tolerance.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .images import IMAGES, JPEG, ImageSpec, spec_bytes
from .model import ExpectedImage, expected_image, load_blocks

SH = ZoneInfo("Asia/Shanghai")
CHANNEL_PATH = "/channel/660"
CHANNEL_NAME = "新闻"
CHANNEL_PAGES = 3  # /channel/660, ?page=2, ?page=3
BLOCKED_CHANNEL_PATH = "/channel/9"
SOURCE_PATH = "/source/10530"
SOURCE_NAME = "内蒙古新闻"
SOURCE_PAGES = 2
RSSHUB_FEED_PATH = "/rsshub/zaker/channel/660"
LINK_WRAPPER_PATH = "/zaker/link.php"
ARTICLE_PREFIX = "/article/"
SHARE_LINE = "分享让更多人看到"
# Absolute times as ZAKER prints them (Shanghai wall time, no offset).
ABSOLUTE_FORMAT = "%Y-%m-%d %H:%M:%S"
# A relative time is parsed against the crawler's clock a moment after the
# page was rendered; the record's `fetched` is that moment to the second.
RELATIVE_TOLERANCE = timedelta(minutes=2)

# ZAKER's own images (zkres*.myzaker.com, here /zkres/ on this site). The
# parking photo's ORIGIN is gone (404) but the CORS proxy still serves it.
ZAKER_IMAGE_SPECS: tuple[ImageSpec, ...] = (
    ImageSpec("zk-parking", "/zkres/202110/6178f2c58e9f0973a71e2b41_1024.jpg", 640, 360, JPEG, (70, 130, 180)),
    ImageSpec("zk-wetland", "/zkres/202110/6178f2c58e9f0973a71e2b42_1024.jpg", 640, 420, JPEG, (95, 158, 160)),
    ImageSpec("zk-testing", "/zkres/202110/6178f2c58e9f0973a71e2b43_1024.jpg", 600, 400, JPEG, (147, 112, 219)),
)
PROXY_ONLY_IMAGES = frozenset({"zk-parking"})
ZAKER_IMAGES: dict[str, ImageSpec] = {spec.key: spec for spec in ZAKER_IMAGE_SPECS}
# Everything the CORS proxy can relay: the site's own images and ZAKER's.
PROXIED_IMAGES_BY_PATH: dict[str, ImageSpec] = {
    **{spec.path: spec for spec in IMAGES.values() if not spec.missing},
    **{spec.path: spec for spec in ZAKER_IMAGE_SPECS},
}


def image_spec(key: str) -> ImageSpec:
    return ZAKER_IMAGES.get(key) or IMAGES[key]


def expected_zaker_image(key: str) -> ExpectedImage:
    if key not in ZAKER_IMAGES:
        return expected_image(key)
    spec = ZAKER_IMAGES[key]
    return ExpectedImage(key, spec.path, spec.width, spec.height, spec.content_type,
                         hashlib.sha256(spec_bytes(spec)).hexdigest(), False)


@dataclass(frozen=True)
class ZakerTime:
    """What ``span.time`` shows: ``absolute`` (aware), or relative to the request."""

    absolute: datetime | None = None
    ago: timedelta | None = None  # N分钟前 / N小时前 (ZAKER truncates to the unit)
    days_ago: int = 0  # 1: 昨天, 2: 前天
    clock: time | None = None  # 昨天 08:15; None shows the day word alone
    just_now: bool = False  # 刚刚

    def instant(self, now: datetime) -> datetime:
        """The publish instant the page claims, seen at `now` (aware)."""
        if self.absolute is not None:
            return self.absolute
        if self.ago is not None:
            return now - self.ago
        if self.days_ago:
            day = now.astimezone(SH).date() - timedelta(days=self.days_ago)
            return datetime.combine(day, self.clock or time(0, 0), SH)
        return now

    def text(self, now: datetime) -> str:
        """The label as ZAKER renders it when the page is requested at `now`."""
        if self.absolute is not None:
            return self.absolute.astimezone(SH).strftime(ABSOLUTE_FORMAT)
        if self.ago is not None:
            minutes = int(self.ago.total_seconds() // 60)
            return f"{minutes}分钟前" if minutes < 60 else f"{minutes // 60}小时前"
        if self.days_ago:
            word = {1: "昨天", 2: "前天"}[self.days_ago]
            return f"{word} {self.clock:%H:%M}" if self.clock else word
        return "刚刚"

    def expected(self, fetched: datetime) -> tuple[datetime, timedelta]:
        """(UTC instant, tolerance) a record fetched at `fetched` should carry."""
        instant = self.instant(fetched).astimezone(timezone.utc)
        return instant, (timedelta(0) if self.absolute is not None else RELATIVE_TOLERANCE)

    def list_date(self, now: datetime) -> str:
        """``date`` of a WinPageData entry: month and day only (10月27日)."""
        moment = self.instant(now).astimezone(SH)
        return f"{moment.month}月{moment.day}日"


@dataclass(frozen=True)
class ZakerArticle:
    key: str
    zaker_id: str  # 24 hex digits, as ZAKER's ids
    title: str
    paragraphs: tuple[str, ...]
    author: str  # what the byline shows (the account: 人民网, 包头新闻网)
    shown: ZakerTime
    tags: tuple[str, ...]
    author_markup: str = "a"  # "a": <a class="article-auther">, "span": <span class="auther">
    images: dict[int, str] = field(default_factory=dict)  # paragraph index -> image key after it
    link: tuple[str, str] | None = None  # (anchor text in a paragraph, outbound target)
    editor_line: str = ""  # ( 责编：… ) as the seed has it; editors are not authors
    challenge: bool = False  # the page is always a WAF challenge
    # The RSSHub feed's view of the article (only the challenged one is in it).
    feed_author: str = ""
    feed_published: datetime | None = None
    feed_categories: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return ARTICLE_PREFIX + self.zaker_id

    def url(self, base: str) -> str:
        return base + self.path

    @property
    def image_list(self) -> list[ExpectedImage]:
        return [expected_zaker_image(self.images[i]) for i in sorted(self.images)]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def wrapped_link(base: str, target: str, zaker_id: str) -> str:
    """ZAKER's outbound wrapper: link.php?...&b=<base64 of the target> (b percent-encoded)."""
    encoded = quote(base64.b64encode(target.encode()).decode(), safe="")
    return f"{base}{LINK_WRAPPER_PATH}?pk={zaker_id}&f=zaker_web&b={encoded}"


def _shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


# The seed ZAKER post (000): its verbatim body; 2021-10-27 06:06:31 Shanghai
# is the seed's Tue, 26 Oct 2021 22:06:31 GMT.
EJINA = ZakerArticle(
    key="zk-ejina", zaker_id="6178e31a8e9f095dc36cd0e1", title="内蒙古多地公安干警驰援额济纳旗",
    paragraphs=tuple(b.text for b in load_blocks("zh_ejina.txt")),
    author="人民网", shown=ZakerTime(absolute=_shanghai(2021, 10, 27, 6, 6, 31)), tags=("内蒙古", "疫情防控"),
    images={0: "ejina-1", 1: "ejina-2", 2: "ejina-3", 3: "ejina-4"},
    editor_line="( 责编：刘泽、张雪冬 )",
)
PARKING = ZakerArticle(
    key="zk-parking", zaker_id="6178f0a18e9f0941c3000001", title="呼和浩特新增一批便民停车泊位",
    paragraphs=(
        "记者从呼和浩特市城市管理综合执法局获悉，今年以来，该市在老旧小区周边、医院和学校附近新增便民停车泊位三千余个，有效缓解了市民停车难问题。",
        "据呼和浩特市人民政府网站消息，新增泊位全部接入城市智慧停车平台，市民可通过手机实时查询空余车位并在线缴费，高峰时段车位周转率明显提高。",
        "下一步，城管部门将继续挖掘道路和闲置地块资源，计划年底前再增加一千个停车泊位，并加强对违法停车行为的巡查和治理。",
    ),
    author="呼和浩特日报", author_markup="span", shown=ZakerTime(ago=timedelta(hours=3)),
    tags=("呼和浩特", "城市管理"), images={0: "zk-parking"},
    link=("呼和浩特市人民政府网站", "http://www.huhhot.gov.cn/xxgk/202110/t20211027_1126843.html"),
)
WETLAND = ZakerArticle(
    key="zk-wetland", zaker_id="6178f0a18e9f0941c3000002", title="包头黄河湿地迎来首批越冬候鸟",
    paragraphs=(
        "随着气温逐渐降低，包头市南海湿地和昭君岛一带的黄河湿地迎来今年首批越冬候鸟，成群的大天鹅、赤麻鸭在水面上觅食嬉戏，吸引了不少市民前来观赏。",
        "湿地管护人员介绍，近年来包头持续推进黄河流域生态保护和修复，湿地水质和植被明显改善，来此停歇和越冬的候鸟种类与数量逐年增加。",
        "管护部门提醒，观鸟时请保持安全距离，不要投喂和惊扰候鸟，共同守护黄河湿地的生态环境。",
    ),
    author="包头新闻网", shown=ZakerTime(days_ago=1, clock=time(8, 15)), tags=("包头", "生态"),
    images={0: "zk-wetland"},
)
CHALLENGED = ZakerArticle(
    key="zk-testing", zaker_id="6178f0a18e9f0941c3000003", title="额济纳旗全员核酸检测结果公布",
    paragraphs=(
        "记者从额济纳旗疫情防控指挥部获悉，该旗第五轮全员核酸检测共采集样本三万余份，检测结果除已报告的阳性感染者外，其余均为阴性。",
        "指挥部表示，目前全旗继续实行居家管控措施，各小区设置了生活物资配送点，由志愿者将蔬菜、米面等物资送到居民家门口。",
        "据介绍，自治区调派的医疗队和检测队伍已全部到位，方舱实验室日检测能力大幅提升，为尽快实现社会面清零提供了有力保障。",
    ),
    author="央视新闻", shown=ZakerTime(absolute=_shanghai(2021, 10, 27, 10, 30)), tags=("额济纳旗", "核酸检测"),
    images={0: "zk-testing"}, challenge=True,
    feed_author="央视新闻", feed_published=_shanghai(2021, 10, 27, 10, 30), feed_categories=("额济纳旗", "核酸检测"),
)
BUS = ZakerArticle(
    key="zk-bus", zaker_id="6178f0a18e9f0941c3000004", title="鄂尔多斯开通首条城际公交线路",
    paragraphs=(
        "鄂尔多斯市首条城际公交线路正式开通运营，线路连接东胜区和康巴什区，全程约三十公里，沿途设置站点十八个。",
        "该线路采用新能源公交车辆，首末班时间分别为早上六点半和晚上九点，高峰时段发车间隔不超过十五分钟，票价按里程分段计算。",
        "市交通运输部门表示，城际公交开通后将方便两区群众通勤和出行，下一步还将根据客流情况优化线路和班次。",
    ),
    author="鄂尔多斯日报", author_markup="span", shown=ZakerTime(ago=timedelta(minutes=25)), tags=("鄂尔多斯", "交通"),
)
HEATING = ZakerArticle(
    key="zk-heating", zaker_id="6178f0a18e9f0941c3000005", title="乌海市启动冬季供暖",
    paragraphs=(
        "随着冷空气来袭，乌海市提前启动冬季供暖，全市集中供热管网陆续升温，保障居民温暖过冬。",
        "供热企业介绍，今年供暖季前已完成管网改造和设备检修，并设立了二十四小时服务热线，及时受理和处置群众反映的供热问题。",
        "相关部门提醒，居民如发现室温不达标或管道漏水等情况，可及时拨打服务热线反映。",
    ),
    author="乌海新闻网", shown=ZakerTime(days_ago=2), tags=("乌海", "民生"),
)
# Only on the channel's third page: beyond max_pages=2.
POPLARS = ZakerArticle(
    key="zk-poplars", zaker_id="6178f0a18e9f0941c3000006", title="阿拉善盟胡杨林景区闭园",
    paragraphs=(
        "阿拉善盟额济纳旗胡杨林景区发布公告，景区自即日起暂停对外开放，已购票游客可通过原渠道办理退票手续。",
        "景区工作人员表示，闭园期间将对景区道路和服务设施进行维护，恢复开放时间将另行通知。",
    ),
    author="阿拉善日报", shown=ZakerTime(absolute=_shanghai(2021, 10, 20, 9, 0)), tags=("阿拉善", "旅游"),
)
# The source page's articles (older list markup).
FAIR = ZakerArticle(
    key="zk-fair", zaker_id="6178f0a18e9f0941c3000007", title="赤峰举办冬季农产品展销会",
    paragraphs=(
        "赤峰市冬季农产品展销会在红山区开幕，来自全市十二个旗县区的二百余家企业和合作社携带特色农产品参展。",
        "展销会设置了杂粮杂豆、肉牛肉羊、设施蔬菜等展区，市民可以现场品尝和选购，部分企业还通过直播带货拓宽销售渠道。",
    ),
    author="赤峰日报", author_markup="span", shown=ZakerTime(just_now=True), tags=("赤峰", "农业"),
)
HARVEST = ZakerArticle(
    key="zk-harvest", zaker_id="6178f0a18e9f0941c3000008", title="通辽科左中旗完成秋收",
    paragraphs=(
        "通辽市科左中旗三百余万亩农作物秋收工作基本结束，玉米平均亩产较去年有所提高，农民丰收的喜悦洋溢在脸上。",
        "当地农牧部门组织农机手开展跨区作业，并为种植大户提供粮食烘干和仓储服务，确保颗粒归仓。",
    ),
    author="通辽日报", shown=ZakerTime(absolute=_shanghai(2021, 10, 26, 18, 30)), tags=("通辽", "农业"),
)
SNOW = ZakerArticle(
    key="zk-snow", zaker_id="6178f0a18e9f0941c3000009", title="兴安盟阿尔山迎来初雪",
    paragraphs=(
        "受冷空气影响，兴安盟阿尔山市迎来今冬首场降雪，山林和街道银装素裹，景色宜人。",
        "气象部门提醒，降雪天气将持续到明天，路面湿滑，请过往车辆减速慢行，注意交通安全。",
    ),
    author="兴安日报", author_markup="span", shown=ZakerTime(absolute=_shanghai(2021, 10, 25, 10, 0)),
    tags=("兴安盟", "天气"),
)

# The channel's WinPageData pages, and the source's HTML pages (with the
# markup each item is listed in).
CHANNEL_LISTING: tuple[tuple[ZakerArticle, ...], ...] = (
    (EJINA, PARKING, WETLAND, CHALLENGED),
    (BUS, HEATING),
    (POPLARS,),
)
SOURCE_LISTING: tuple[tuple[tuple[ZakerArticle, str], ...], ...] = (
    ((FAIR, "content-block"), (HARVEST, "figure-wrapped")),
    ((SNOW, "article-wrap"),),
)
ZAKER_ARTICLES: tuple[ZakerArticle, ...] = (EJINA, PARKING, WETLAND, CHALLENGED, BUS, HEATING, POPLARS, FAIR, HARVEST, SNOW)
ZAKER_ARTICLES_BY_KEY = {a.key: a for a in ZAKER_ARTICLES}
ZAKER_ARTICLES_BY_PATH = {a.path: a for a in ZAKER_ARTICLES}
FEED_ARTICLES: tuple[ZakerArticle, ...] = (CHALLENGED,)


def channel_page_path(page: int) -> str:
    return CHANNEL_PATH if page == 1 else f"{CHANNEL_PATH}?page={page}"


def source_page_path(page: int) -> str:
    return SOURCE_PATH if page == 1 else f"{SOURCE_PATH}?page={page}"


def channel_articles(max_pages: int) -> list[ZakerArticle]:
    """What a crawl of the channel with `max_pages` reaches, challenged one included."""
    return [a for page in CHANNEL_LISTING[:max_pages] for a in page]


def source_articles() -> list[ZakerArticle]:
    return [a for page in SOURCE_LISTING for a, _markup in page]


def recommendations(article: ZakerArticle) -> list[ZakerArticle]:
    """The 相关推荐 under an article (filled into #recommend_bottom by ZAKER's script)."""
    others = [a for a in ZAKER_ARTICLES if a.key != article.key and not a.challenge]
    start = ZAKER_ARTICLES.index(article) % len(others)
    return (others[start:] + others[:start])[:3]


def hot_list(article: ZakerArticle) -> list[ZakerArticle]:
    """The sidebar's 24小时热榜 (rendered BEFORE the article in the HTML)."""
    others = [a for a in ZAKER_ARTICLES if a.key != article.key and not a.challenge]
    return others[-3:]


def boilerplate(article: ZakerArticle) -> list[str]:
    """Strings on the article's page that must never reach its text."""
    from .zaker_pages import FOOTER_LINES, NAV_ITEMS

    candidates = [SHARE_LINE, *FOOTER_LINES, *NAV_ITEMS,
                  *(a.title for a in recommendations(article)), *(a.title for a in hot_list(article))]
    return [s for s in dict.fromkeys(candidates) if s not in article.text]


def check_zaker_catalog() -> None:
    assert len(ZAKER_ARTICLES_BY_KEY) == len(ZAKER_ARTICLES), "duplicate keys"
    assert len(ZAKER_ARTICLES_BY_PATH) == len(ZAKER_ARTICLES), "duplicate ids"
    for article in ZAKER_ARTICLES:
        assert len(article.zaker_id) == 24 and int(article.zaker_id, 16) >= 0, article.key
        assert article.author_markup in ("a", "span"), article.key
        assert not article.link or article.link[0] in "".join(article.paragraphs), article.key
    listed = [a for page in CHANNEL_LISTING for a in page] + source_articles()
    assert sorted(a.key for a in listed) == sorted(a.key for a in ZAKER_ARTICLES)
    assert EJINA.shown.expected(datetime.now(timezone.utc))[0].isoformat() == "2021-10-26T22:06:31+00:00"
    assert [a.key for a in ZAKER_ARTICLES if a.challenge] == [CHALLENGED.key]
