"""The Chinese articles of the fixture site (bodies from the seed articles in
``data/``). Each declaration is the single source of truth for its page, its
feed items and its sitemap entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .model import ExpectedArticle, Figure, Markup, load_blocks

# China Standard Time. Pages that show a naive time mean this zone.
CST = timezone(timedelta(hours=8))

# The seed ZAKER post (000): its only date is the naive byline time, which is
# the post's own instant Tue, 26 Oct 2021 22:06:31 GMT seen from Beijing.
EJINA = ExpectedArticle(
    key="zh-ejina",
    path="/news/2021/10/ejina-police-support.html",
    title="内蒙古多地公安干警驰援额济纳旗",
    language="zh",
    layout="portal",
    body_style="zaker",
    section="社会法治",
    blocks=load_blocks("zh_ejina.txt", {
        1: Figure("ejina-1", Markup.PLACEHOLDER_LAZY),
        2: Figure("ejina-2", Markup.PROXY_LAZY),
        3: Figure("ejina-3", Markup.PROXY_LAZY),
        4: Figure("ejina-4", Markup.PROXY_LAZY),
    }),
    published=datetime(2021, 10, 27, 6, 6, 31, tzinfo=CST),
    authors=("王晓燕",),
    editors=("刘泽", "张雪冬"),
    editor_line="( 责编：{editors} )",
    byline_style="renmin",
    source_name="人民网",
    feed_categories=("社会", "内蒙古"),
    sources=("rss", "sitemap-news"),
    # The same article twice: with tracking params in the feed, clean in the sitemap.
    listing_query={"rss": "utm_source=rss&utm_medium=feed"},
    related=("zh-party-flag", "zh-wuhan", "zh-hangjinhouqi"),
)

# Seed 001. No personal author (the piece is contributed by an office); the
# date is in <meta property="article:published_time"> with its offset.
PARTY_FLAG = ExpectedArticle(
    key="zh-party-flag",
    path="/news/2020/02/party-flag-frontline.html",
    title="让鲜红的党旗在战“疫”一线高高飘扬",
    subtitle="——来自我区公安机关疫情防控一线的报道",
    language="zh",
    layout="portal",
    heading_style="strong",
    section="时政要闻",
    blocks=load_blocks("zh_party_flag.txt", {
        8: Figure("checkpoint", Markup.ABS_SRC, alt="呼和浩特市公安局一间房公安检查站成立临时党支部。"),
        10: Figure("party-flag", Markup.DATA_SRC, alt="党旗飘飘，党徽闪闪。"),
    }),
    published=datetime(2020, 2, 6, 9, 12, 45, tzinfo=CST),
    meta_published=True,
    editors=("王建国",),
    editor_line="（责任编辑：{editors}）",
    credit="(自治区公安厅党建工作处供稿)",
    byline_style="dash",
    source_name="内蒙古法制报",
    feed_categories=("党建", "抗疫"),
    sources=("jsonfeed", "sitemap-news"),
    related=("zh-hangjinhouqi", "zh-wuhan", "zh-ejina"),
)

# Seed 002. Authors only in the body's first line (本报通讯员●褚铁栓●安绩) and
# in JSON-LD; the visible date has no time.
HANGJINHOUQI = ExpectedArticle(
    key="zh-hangjinhouqi",
    path="/news/2020/03/hangjinhouqi-police.html",
    title='把初心书写在战"疫"一线',
    subtitle="巴彦淖尔市杭锦后旗公安局抗击新冠肺炎疫情纪实",
    language="zh",
    layout="portal",
    section="社会法治",
    blocks=load_blocks("zh_hangjinhouqi.txt", {
        5: Figure("checkpoint", Markup.SRC, alt="杭锦后旗公安局民警在卡口执勤"),
    }),
    published=datetime(2020, 3, 2, 9, 15, tzinfo=CST),
    json_ld=True,
    authors=("褚铁栓", "安绩"),
    body_byline=("本报通讯员", "●"),
    byline_style="date_label",
    source_name="内蒙古法制报",
    feed_categories=("警务", "抗疫"),
    sources=("jsonfeed", "sitemap-pages"),
    related=("zh-party-flag", "zh-wuhan"),
)

# Seed 003. 2020年04月08日 10:23 naive; a srcset image and one that 404s.
WUHAN = ExpectedArticle(
    key="zh-wuhan",
    path="/news/2020/04/loyalty-in-action.html",
    title="他们用行动擦亮忠诚底色",
    subtitle="自治区公安机关在战“疫”一线守责护航勇担当",
    language="zh",
    layout="portal",
    section="时政要闻",
    blocks=load_blocks("zh_wuhan.txt", {
        1: Figure("wuhan-1280", Markup.SRCSET, alt="春日里的城市街头",
                  srcset=("wuhan-320", "wuhan-640", "wuhan-1280")),
        13: Figure("night-patrol", Markup.SRC, alt="民警在寒夜中巡逻执勤"),
    }),
    published=datetime(2020, 4, 8, 10, 23, tzinfo=CST),
    authors=("王静",),
    body_byline=("本报记者", " "),
    editors=("赵敏",),
    editor_line="(责编：{editors})",
    byline_style="zh_date_first",
    source_name="北方新报",
    feed_categories=("抗疫", "要闻"),
    sources=("rss", "sitemap-pages"),
    related=("zh-ejina", "zh-party-flag", "zh-gbk-shuangjing"),
)

# Seed 004, third story. GBK bytes, <meta> claims gb2312, the HTTP header
# names no charset; the body has 啰 (in GBK, not in GB2312).
SHUANGJING = ExpectedArticle(
    key="zh-gbk-shuangjing",
    path="/news/2020/02/linchen-shuangjing.html",
    title="林城双警伉俪 同守抗“疫”一线",
    language="zh",
    layout="gbk",
    charset="gbk",
    declared_charset="gb2312",
    section="警营故事",
    blocks=load_blocks("zh_shuangjing.txt", {
        3: Figure("shuangjing", Markup.SRC, alt="常亮、刘杰夫妇在派出所"),
    }),
    published=datetime(2020, 2, 12, 15, 30, tzinfo=CST),
    authors=("刘琪", "董利苹"),
    credit="(刘琪 董利苹)",
    byline_style="gbk_table",
    source_name="呼伦贝尔日报",
    feed_categories=("警营故事",),
    sources=("sitemap-pages",),
    related=("zh-wuhan", "zh-ejina"),
)

# Seed 004, first story. Its page is a JS-only shell: the text is only in the
# RSS item's content:encoded.
BAOTOU_FEED_ONLY = ExpectedArticle(
    key="zh-feed-baotou",
    path="/app/2020/01/baotou-louzhang.html",
    title="包头市 4500 名民警“楼长”全员上岗战疫情",
    language="zh",
    layout="shell",
    feed_body_only=True,
    blocks=load_blocks("zh_baotou.txt", {
        1: Figure("baotou", Markup.ABS_SRC, alt="民警“楼长”吕金俊走访小区居民"),
    }),
    published=datetime(2020, 1, 30, 16, 45, tzinfo=CST),
    authors=("肖玥", "王思洋"),
    credit="(肖玥 王思洋)",
    feed_categories=("警务", "社区"),
    sources=("rss",),
)

# Two old pages listed only in the gzipped sitemap with 2015 lastmods.
STALE_NOTICE = ExpectedArticle(
    key="zh-stale-notice",
    path="/news/2015/06/site-upgrade-notice.html",
    title="关于本网站改版升级的公告",
    language="zh",
    layout="portal",
    section="网站公告",
    blocks=load_blocks("zh_notice_2015.txt"),
    published=datetime(2015, 6, 1, 10, 0, tzinfo=CST),
    byline_style="dash",
    source_name="北疆新闻网",
    sources=("sitemap-pages",),
    stale=True,
    related=("zh-stale-winter",),
)
STALE_WINTER = ExpectedArticle(
    key="zh-stale-winter",
    path="/news/2015/11/winter-road-safety.html",
    title="冬季道路交通安全出行提示",
    language="zh",
    layout="portal",
    section="社会法治",
    blocks=load_blocks("zh_winter_2015.txt"),
    published=datetime(2015, 11, 20, 8, 0, tzinfo=CST),
    byline_style="dash",
    source_name="北疆新闻网",
    sources=("sitemap-pages",),
    stale=True,
    related=("zh-stale-notice",),
)

ZH_ARTICLES = (EJINA, PARTY_FLAG, HANGJINHOUQI, WUHAN, SHUANGJING, BAOTOU_FEED_ONLY)
ZH_STALE_ARTICLES = (STALE_NOTICE, STALE_WINTER)
